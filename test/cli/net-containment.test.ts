// Network containment: binds the kernel makes on its own (listen, sends from an unbound datagram
// socket), routing headers and source routes, and control data / sendmmsg performed by tsyd.
// Every attack is run natively first, in the same test, to show that it works without tsyd
// (so that a pass under tsyd means enforcement), as root and as nobody where both apply.
// "Another host" is this machine's non-loopback address: a socket bound to 0.0.0.0 (or ::)
// answers on it, one bound to loopback does not.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, createServer, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, spawnProgram, spawnTsyd, type RunningProcess, type RunResult } from '../helpers/tsyd.js';

const USERS: Array<{ name: string; user?: number }> = [{ name: 'root' }, { name: 'nobody', user: NOBODY }];

/** This host's first non-loopback address of each family (the "other host" the tests reach from). */
function external(family: 'IPv4' | 'IPv6'): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === family && !a.internal && !a.address.startsWith('fe80')) return a.address;
    }
  }
  throw new Error(`this host has no non-loopback ${family} address: the containment tests need one`);
}
const EXT4 = external('IPv4');
const EXT6 = external('IPv6');

const access = (r: RunResult) => r.records.filter((rec) => rec['ctx'] === 'access');
const settle = () => new Promise((r) => setTimeout(r, 200));

/** `tsyd run -p user` with `rules` on top (the `user` profile: loopback-only network). */
function tsydArgs(rules: string[], args: string[]): string[] {
  return ['run', '--log-fd', '3', '-p', 'user', ...rules.flatMap((r) => ['-m', r]), '--', fixture('netcontain'), ...args];
}

function start(under: 'native' | 'tsyd', args: string[], rules: string[], user?: number): RunningProcess {
  return under === 'native'
    ? spawnProgram(fixture('netcontain'), args, { keepStdinOpen: true, user })
    : spawnTsyd(tsydArgs(rules, args), { keepStdinOpen: true, logFd: 3, user });
}

function run(under: 'native' | 'tsyd', args: string[], rules: string[], user?: number): Promise<RunResult> {
  return under === 'native' ? runNative(fixture('netcontain'), args, { user }) : runTsyd(tsydArgs(rules, args), { logFd: 3, user });
}

/** "local ADDR PORT" of the fixture's output. */
function localOf(out: string): { addr: string; port: number } {
  const m = /^local (\S+) (\d+)$/m.exec(out);
  if (!m) throw new Error(`no local address in ${JSON.stringify(out)}`);
  return { addr: m[1]!, port: Number(m[2]) };
}

/** Does a TCP connection to host:port get established? */
function tcpReaches(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = tcpConnect({ host, port, timeout: 2000 });
    c.on('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.on('error', () => resolve(false));
    c.on('timeout', () => {
      c.destroy();
      resolve(false);
    });
  });
}

function udpSend(host: string, port: number, text: string): Promise<void> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve) => s.send(text, port, host, () => (s.close(), resolve())));
}

interface Receiver {
  socket: UdpSocket;
  port: number;
  got: string[];
}

async function receiver(host = '127.0.0.1'): Promise<Receiver> {
  const r: Receiver = { socket: createSocket(host.includes(':') ? 'udp6' : 'udp4'), port: 0, got: [] };
  r.socket.on('message', (m) => r.got.push(m.toString()));
  await new Promise<void>((resolve) => r.socket.bind(0, host, resolve));
  r.port = r.socket.address().port;
  return r;
}

// ---- 1. autobind: listen -----------------------------------------------------------------

for (const { name, user } of USERS) {
  for (const [family, ext] of [['4', EXT4], ['6', EXT6]] as const) {
    test(`listen without bind (IPv${family}, ${name}): natively on the wildcard address, reached from ${ext}; under -p user EACCES`, async () => {
      const n = start('native', ['listen', family], [], user);
      const nout = await n.waitForStdout(/^local .*\n/m);
      const nl = localOf(nout);
      assert.is(nl.addr, family === '4' ? '0.0.0.0' : '::', nout);
      assert.ok(await tcpReaches(ext, nl.port), `natively a connection to ${ext}:${nl.port} arrives: the test can fail`);
      n.child.stdin?.end();
      const nr = await n.result;
      assert.match(nr.stdout, /^accepted 1$/m, describe(nr));

      const t = start('tsyd', ['listen', family], [], user);
      const tout = await t.waitForStdout(/^local .*\n/m);
      assert.match(tout, /^listen EACCES$/m, tout);
      const tl = localOf(tout);
      assert.is(tl.port, 0, 'the socket was not bound');
      t.child.stdin?.end();
      const tr = await t.result;
      assert.match(tr.stdout, /^accepted 0$/m, describe(tr));
      const recs = access(tr);
      assert.is(recs.length, 1, JSON.stringify(recs));
      assert.equal([recs[0]!['cap'], recs[0]!['addr'], recs[0]!['sys']], ['net/bind', family === '4' ? '0.0.0.0!0' : '::!0', 'listen']);
    });
  }
}

test('listen without bind is a bind of the wildcard address: allowed by allow/net/bind+0.0.0.0!0', async () => {
  const t = start('tsyd', ['listen', '4'], ['allow/net/bind+0.0.0.0!0']);
  const out = await t.waitForStdout(/^local .*\n/m);
  assert.match(out, /^listen OK$/m, out);
  const l = localOf(out);
  assert.ok(await tcpReaches('127.0.0.1', l.port));
  t.child.stdin?.end();
  const r = await t.result;
  assert.match(r.stdout, /^accepted 1$/m, describe(r));
  assert.is(access(r).length, 0);
});

test('listen: a port bound by the kernel during the listen is checked again, and undone when denied', async () => {
  // After a refused connect getsockname still shows the old port: the program allows that very
  // port at run time (lock:off), so the check before the listen passes; the kernel binds
  // another port, which tsyd finds after the listen and undoes (EACCES). Natively the kernel
  // binds a new port there (and listen fails: the socket is not reusable).
  const closed = 1;
  const nr = await run('native', ['listen', '4', String(closed)], []);
  const ports = [...nr.stdout.matchAll(/^local \S+ (\d+)$/gm)].map((m) => Number(m[1]));
  assert.is(ports.length, 2, describe(nr));
  assert.ok(ports[1] !== ports[0] && ports[1] !== 0, `natively the listen binds another port: ${describe(nr)}`);
  const t = start('tsyd', ['listen', '4', String(closed), 'allow/net/bind+0.0.0.0!'], ['lock:off']);
  const out = await t.waitForStdout(/^listen .*\n/m);
  t.child.stdin?.end();
  const r = await t.result;
  assert.match(out, /^rule OK$/m, describe(r));
  assert.match(out, /^listen EACCES$/m, describe(r));
  assert.match(r.stdout, /^accepted 0$/m, describe(r));
  const recs = access(r);
  assert.is(recs.length, 1, JSON.stringify(recs));
  assert.is(recs[0]!['addr'], '0.0.0.0!0');
});

// ---- 1. autobind: sends from an unbound datagram socket -----------------------------------

for (const { name, user } of USERS) {
  for (const how of ['sendto', 'sendmsg', 'sendmmsg'] as const) {
    for (const [family, dest, ext] of [['4', '127.0.0.1', EXT4], ['6', '::1', EXT6], ['6', '::ffff:127.0.0.1', EXT6]] as const) {
      test(`unbound UDP ${how} to ${dest} (${name}): natively bound to the wildcard and receives from ${ext}; under -p user bound to loopback`, async () => {
        const rcv = await receiver(dest === '::1' ? '::1' : '127.0.0.1');
        try {
          const n = start('native', ['udp', family, how, dest, String(rcv.port)], [], user);
          const nout = await n.waitForStdout(/^local .*\n/m);
          assert.match(nout, new RegExp(`^${how} ${how === 'sendmmsg' ? 1 : 5}$`, 'm'), nout);
          const nl = localOf(nout);
          assert.is(nl.addr, family === '4' ? '0.0.0.0' : '::', nout);
          await udpSend(ext, nl.port, 'from-outside');
          await settle();
          n.child.stdin?.end();
          const nr = await n.result;
          assert.match(nr.stdout, /^got from-outside$/m, `natively a datagram from ${ext} arrives: the test can fail\n${describe(nr)}`);

          const t = start('tsyd', ['udp', family, how, dest, String(rcv.port)], [], user);
          const tout = await t.waitForStdout(/^local .*\n/m);
          assert.match(tout, new RegExp(`^${how} ${how === 'sendmmsg' ? 1 : 5}$`, 'm'), tout);
          const tl = localOf(tout);
          assert.is(tl.addr, dest === '::1' ? '::1' : dest === '127.0.0.1' ? '127.0.0.1' : '::ffff:127.0.0.1', tout);
          await udpSend(ext, tl.port, 'from-outside');
          await settle();
          t.child.stdin?.end();
          const tr = await t.result;
          assert.not.match(tr.stdout, /from-outside/, describe(tr));
          assert.is(access(tr).length, 0, 'the loopback bind is allowed: no denial');
          assert.is(rcv.got.length, 2, `both sends arrived: ${JSON.stringify(rcv.got)}`);
        } finally {
          rcv.socket.close();
        }
      });
    }
  }
}

test('unbound UDP send to an allowed remote address: the wildcard autobind is decided (EACCES), nothing sent', async () => {
  const rcv = await receiver(EXT4);
  try {
    const rules = [`allow/net/connect+${EXT4}!${rcv.port}`];
    const r = await run('tsyd', ['udp', '4', 'sendto', EXT4, String(rcv.port)], rules);
    assert.match(r.stdout, /^sendto EACCES$/m, describe(r));
    assert.match(r.stdout, /^local 0\.0\.0\.0 0$/m, describe(r));
    const recs = access(r);
    assert.is(recs.length, 1, JSON.stringify(recs));
    assert.equal([recs[0]!['cap'], recs[0]!['addr']], ['net/bind', '0.0.0.0!0']);
    const ok = await run('tsyd', ['udp', '4', 'sendto', EXT4, String(rcv.port)], [...rules, 'allow/net/bind+0.0.0.0!0']);
    assert.match(ok.stdout, /^sendto 5$/m, describe(ok));
    await settle();
    assert.equal(rcv.got, ['hello']);
  } finally {
    rcv.socket.close();
  }
});

for (const { name, user } of USERS) {
  test(`a UDP connect that fails after the kernel bound the socket (broadcast: EACCES) leaves it unbound (${name})`, async () => {
    const n = await run('native', ['bcast', '127.255.255.255', '9'], [], user);
    assert.match(n.stdout, /^connect EACCES$/m, describe(n));
    assert.ok(localOf(n.stdout).port !== 0, `natively the failed connect leaves the socket bound on 0.0.0.0: ${n.stdout}`);
    const t = await run('tsyd', ['bcast', '127.255.255.255', '9'], [], user);
    assert.match(t.stdout, /^connect EACCES$/m, describe(t));
    assert.equal(localOf(t.stdout), { addr: '0.0.0.0', port: 0 }, describe(t));
    assert.is(access(t).filter((r) => r['cap'] === 'net/bind' && r['addr'] === '0.0.0.0!0').length, 1);
  });
}

for (const { name, user } of USERS) {
  test(`sendmsg without a name on an unbound UDP socket (EDESTADDRREQ) leaves no autobind under tsyd (${name})`, async () => {
    for (const family of ['4', '6'] as const) {
      const n = await run('native', ['noname', family], [], user);
      assert.match(n.stdout, /^sendmsg EDESTADDRREQ$/m, describe(n));
      assert.ok(localOf(n.stdout).port !== 0, `natively the failed send leaves the socket bound: ${n.stdout}`);
      const t = await run('tsyd', ['noname', family], [], user);
      assert.match(t.stdout, /^sendmsg EDESTADDRREQ$/m, describe(t));
      assert.is(localOf(t.stdout).port, 0, describe(t));
      assert.is(access(t).filter((r) => r['cap'] === 'net/bind').length, 1);
    }
  });
}

test('a connected TCP socket is bound to the route source (loopback), not reachable from another address', async () => {
  const server: Server = createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  try {
    for (const under of ['native', 'tsyd'] as const) {
      const p = start(under, ['tcpname', '127.0.0.1', String(port)], []);
      const out = await p.waitForStdout(/^local .*\n/m);
      assert.match(out, /^connect OK$/m, out);
      const l = localOf(out);
      assert.is(l.addr, '127.0.0.1', `${under}: ${out}`);
      assert.not.ok(await tcpReaches(EXT4, l.port), `${under}: nothing answers at ${EXT4}:${l.port}`);
      p.child.stdin?.end();
      await p.result;
    }
  } finally {
    server.close();
  }
});

test.run();
