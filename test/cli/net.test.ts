// net/connect and net/bind against the real kernel: listeners in this process count what reaches
// them, so a denied call is shown not to have happened at all, not only to have failed.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectLeak, runVulnerable } from '../helpers/csuper.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, type RunResult } from '../helpers/tsyd.js';

interface Listener {
  server: Server;
  port: number;
  accepted: number;
}

async function listen(host: string, path?: string): Promise<Listener> {
  const l: Listener = { server: createServer(), port: 0, accepted: 0 };
  l.server.on('connection', (c) => {
    l.accepted++;
    c.destroy();
  });
  await new Promise<void>((resolve) => (path !== undefined ? l.server.listen(path, resolve) : l.server.listen(0, host, resolve)));
  const a = l.server.address();
  if (a !== null && typeof a === 'object') l.port = a.port;
  return l;
}

interface Receiver {
  socket: UdpSocket;
  port: number;
  got: string[];
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = { socket: createSocket('udp4'), port: 0, got: [] };
  r.socket.on('message', (m) => r.got.push(m.toString()));
  await new Promise<void>((resolve) => r.socket.bind(0, '127.0.0.1', resolve));
  r.port = r.socket.address().port;
  return r;
}

const settle = () => new Promise((r) => setTimeout(r, 200));
const access = (r: RunResult) => r.records.filter((rec) => rec['ctx'] === 'access');

function net(rules: string[], args: string[], cwd?: string): Promise<RunResult> {
  const m = rules.flatMap((rule) => ['-m', rule]);
  return runTsyd(['run', '-p', 'none', '--log-fd', '3', ...m, '--', fixture('netcall'), ...args], { logFd: 3, cwd });
}

const CONNECT = 'sandbox/net/connect:on';
const BIND = 'sandbox/net/bind:on';

test('TCP v4: the allowed port connects, the denied listener sees nothing, one record', async () => {
  const ok = await listen('127.0.0.1');
  const no = await listen('127.0.0.1');
  try {
    const rules = [CONNECT, `allow/net/connect+127.0.0.0/8!${ok.port}`];
    const a = await net(rules, ['connect', `4:127.0.0.1:${ok.port}`]);
    assert.is(a.stdout, 'connect OK\n', describe(a));
    assert.is(access(a).length, 0);
    const d = await net(rules, ['connect', `4:127.0.0.1:${no.port}`]);
    assert.is(d.stdout, 'connect EACCES\n', describe(d));
    const recs = access(d);
    assert.is(recs.length, 1, JSON.stringify(recs));
    assert.is(recs[0]!['cap'], 'net/connect');
    assert.is(recs[0]!['addr'], `127.0.0.1!${no.port}`);
    assert.is(recs[0]!['sys'], 'connect');
    await settle();
    assert.is(ok.accepted, 1);
    assert.is(no.accepted, 0, 'the denied listener accepted nothing');
  } finally {
    ok.server.close();
    no.server.close();
  }
});

test('port ranges, CIDR and last-match-wins', async () => {
  const l = await listen('127.0.0.1');
  try {
    const range = await net([CONNECT, `allow/net/connect+127.0.0.0/8!${l.port - 1}-${l.port + 1}`], ['connect', `4:127.0.0.1:${l.port}`]);
    assert.is(range.stdout, 'connect OK\n', describe(range));
    const outside = await net([CONNECT, `allow/net/connect+10.0.0.0/8!${l.port}`], ['connect', `4:127.0.0.1:${l.port}`]);
    assert.is(outside.stdout, 'connect EACCES\n', describe(outside));
    const last = await net([CONNECT, 'allow/net/connect+any!0-65535', `deny/net/connect+127.0.0.1/32!${l.port}`], ['connect', `4:127.0.0.1:${l.port}`]);
    assert.is(last.stdout, 'connect EACCES\n', describe(last));
    const again = await net([CONNECT, `deny/net/connect+127.0.0.1/32!${l.port}`, 'allow/net/connect+any!0-65535'], ['connect', `4:127.0.0.1:${l.port}`]);
    assert.is(again.stdout, 'connect OK\n', describe(again));
    await settle();
    assert.is(l.accepted, 2);
  } finally {
    l.server.close();
  }
});

test('TCP v6 loopback, and an IPv4-mapped address denied by an IPv4 rule', async () => {
  const l6 = await listen('::1');
  const l4 = await listen('127.0.0.1');
  try {
    const ok = await net([CONNECT, `allow/net/connect+::1!${l6.port}`], ['connect', `6:::1:${l6.port}`]);
    assert.is(ok.stdout, 'connect OK\n', describe(ok));
    const no = await net([CONNECT, `allow/net/connect+::1!${l6.port + 1}`], ['connect', `6:::1:${l6.port}`]);
    assert.is(no.stdout, 'connect EACCES\n', describe(no));
    assert.is(access(no)[0]!['addr'], `::1!${l6.port}`);
    const mapped = await net([CONNECT, 'allow/net/connect+::/0!0-65535', `deny/net/connect+127.0.0.0/8!${l4.port}`], ['connect', `6:::ffff:127.0.0.1:${l4.port}`]);
    assert.is(mapped.stdout, 'connect EACCES\n', describe(mapped));
    await settle();
    assert.is(l6.accepted, 1);
    assert.is(l4.accepted, 0, 'the mapped connect never reached the IPv4 listener');
  } finally {
    l6.server.close();
    l4.server.close();
  }
});

test('UDP sendto and sendmsg: only the allowed datagrams arrive', async () => {
  const ok = await receiver();
  const no = await receiver();
  try {
    const rules = [CONNECT, `allow/net/connect+127.0.0.1!${ok.port}`];
    const s1 = await net(rules, ['sendto', `4:127.0.0.1:${ok.port}`, 'allowed-sendto']);
    assert.is(s1.stdout, 'sendto 14\n', describe(s1));
    const s2 = await net(rules, ['sendto', `4:127.0.0.1:${no.port}`, 'denied-sendto']);
    assert.is(s2.stdout, 'sendto EACCES\n', describe(s2));
    const m1 = await net(rules, ['sendmsg', `4:127.0.0.1:${ok.port}`, 'allowed-sendmsg']);
    assert.is(m1.stdout, 'sendmsg 15\n', describe(m1));
    const m2 = await net(rules, ['sendmsg', `4:127.0.0.1:${no.port}`, 'denied-sendmsg']);
    assert.is(m2.stdout, 'sendmsg EACCES\n', describe(m2));
    assert.is(access(m2).length, 1);
    assert.is(access(m2)[0]!['sys'], 'sendmsg');
    const mm = await net(rules, ['sendmmsg', `4:127.0.0.1:${no.port}`, 'denied-sendmmsg']);
    assert.is(mm.stdout, 'sendmmsg EACCES\n', describe(mm));
    await settle();
    assert.equal(ok.got.sort(), ['allowed-sendmsg', 'allowed-sendto']);
    assert.equal(no.got, [], 'the denied receiver got nothing');
  } finally {
    ok.socket.close();
    no.socket.close();
  }
});

test('UNIX path sockets: absolute and relative to the cwd, allowed and denied', async () => {
  const dir = tempTree('net-unix', { 'sub/keep': '' });
  const ok = await listen('', `${dir}/ok.sock`);
  const no = await listen('', `${dir}/no.sock`);
  try {
    const rules = [CONNECT, `allow/net/connect+${dir}/ok.sock`];
    const abs = await net(rules, ['connect', `u:${dir}/ok.sock`]);
    assert.is(abs.stdout, 'connect OK\n', describe(abs));
    const rel = await net(rules, ['connect', 'u:../ok.sock'], `${dir}/sub`);
    assert.is(rel.stdout, 'connect OK\n', describe(rel));
    const den = await net(rules, ['connect', 'u:no.sock'], dir);
    assert.is(den.stdout, 'connect EACCES\n', describe(den));
    const recs = access(den);
    assert.is(recs.length, 1);
    assert.is(recs[0]!['path'], `${dir}/no.sock`, 'decided on the canonical path');
    await settle();
    assert.is(ok.accepted, 2);
    assert.is(no.accepted, 0);
  } finally {
    ok.server.close();
    no.server.close();
  }
});

test('abstract names: @name allowed and denied (the NUL padding is part of the name)', async () => {
  const tag = `tsyd-net-${process.pid}`;
  const ok = await listen('', `\0${tag}-ok`);
  const no = await listen('', `\0${tag}-no`);
  try {
    const rules = [CONNECT, `allow/net/connect+@${tag}-ok*`];
    const a = await net(rules, ['connect', `a:${tag}-ok`]);
    assert.is(a.stdout, 'connect OK\n', describe(a));
    const d = await net(rules, ['connect', `a:${tag}-no`]);
    assert.is(d.stdout, 'connect EACCES\n', describe(d));
    const name = String(access(d)[0]!['path']);
    assert.is(name, `@${tag}-no`.padEnd(108, '\0'), 'the whole name, NULs included');
    const exact = await net([CONNECT, `allow/net/connect+@${tag}-ok`], ['connect', `a:${tag}-ok`]);
    assert.is(exact.stdout, 'connect EACCES\n', 'a pattern without the padding does not match');
    await settle();
    assert.is(ok.accepted, 1);
    assert.is(no.accepted, 0);
  } finally {
    ok.server.close();
    no.server.close();
  }
});

test('bind: v4 port and UNIX path allowed/denied; the socket file gets the umask 022', async () => {
  const dir = tempTree('net-bind', {});
  const rules = [BIND, 'allow/net/bind+127.0.0.1!0', `allow/net/bind+${dir}/ok.sock`];
  const v4 = await net(rules, ['bind', '4:127.0.0.1:0']);
  assert.match(v4.stdout, /^bind OK\nport \d+\n$/, describe(v4));
  const v4no = await net(rules, ['bind', '4:0.0.0.0:0']);
  assert.is(v4no.stdout, 'bind EACCES\n', describe(v4no));
  assert.is(access(v4no)[0]!['addr'], '0.0.0.0!0');
  const path = await net(rules, ['bind', `u:${dir}/ok.sock`]);
  assert.is(path.stdout, 'bind OK\nmode 755\n', describe(path));
  assert.is(statSync(`${dir}/ok.sock`).mode & 0o7777, 0o755);
  assert.ok(statSync(`${dir}/ok.sock`).isSocket());
  const denied = await net(rules, ['bind', `u:${dir}/no.sock`]);
  assert.is(denied.stdout, 'bind EACCES\n', describe(denied));
  assert.is(access(denied).length, 1);
  assert.throws(() => statSync(`${dir}/no.sock`), 'the denied socket file was not created');
});

test('capability off: calls go through untouched', async () => {
  const l = await listen('127.0.0.1');
  try {
    const r = await net(['sandbox/net/connect:off'], ['connect', `4:127.0.0.1:${l.port}`]);
    assert.is(r.stdout, 'connect OK\n', describe(r));
    assert.is(access(r).length, 0);
  } finally {
    l.server.close();
  }
});

interface NetRace {
  connected: number;
  refused: number;
  other: number;
  /** Connections whose peer (getpeername) was the denied port. */
  denied: number;
  /** What the denied listener accepted (after the allowed one caught up with `connected`). */
  deniedAccepted: number;
}

/** Polls until `ok()` or `maxMs` (a wait for the listeners' accept loops, not an assertion). */
async function until(ok: () => boolean, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

/** The address-flip race, under `run` (the vulnerable checker or tsyd), against two fresh listeners. */
async function netRace(run: (okPort: number, noPort: number) => Promise<RunResult>): Promise<{ r: RunResult; c: NetRace }> {
  const ok = await listen('127.0.0.1');
  const no = await listen('127.0.0.1');
  try {
    const r = await run(ok.port, no.port);
    assert.is(r.code, 0, describe(r));
    const m = /^connected=(\d+) refused=(\d+) other=(\d+) denied=(\d+)$/m.exec(r.stdout);
    assert.ok(m, describe(r));
    const [connected, refused, other, denied] = m.slice(1).map(Number) as [number, number, number, number];
    // Every connection the program made is accepted by one of the two listeners (a full
    // backlog could drop some: this waits, it asserts nothing).
    await until(() => ok.accepted + no.accepted >= connected, 3000);
    return { r, c: { connected, refused, other, denied, deniedAccepted: no.accepted } };
  } finally {
    ok.server.close();
    no.server.close();
  }
}

/** Connections to the denied port the vulnerable checker let through in this run. */
let vulnerableLeaks = 0;

test('the address-flip race gets through a check-then-CONTINUE checker (so the tsyd test can fail)', async () => {
  const runs = await expectLeak(
    'connect race',
    5,
    async () => {
      let refusedByChecker = 0;
      const { c } = await netRace(async (okPort, noPort) => {
        const r = await runVulnerable(`127.0.0.1:${noPort}`, fixture('netcall'), ['race', String(okPort), String(noPort), '1']);
        refusedByChecker = r.refused;
        return r;
      });
      assert.ok(c.refused > 0, `the checker refused the denied port: ${JSON.stringify(c)}`);
      assert.is(c.refused, refusedByChecker, `EACCES only from the checker: ${JSON.stringify(c)}`);
      return c;
    },
    (c) => c.denied > 0 && c.deniedAccepted > 0,
    (c) => JSON.stringify(c),
  );
  vulnerableLeaks = runs[runs.length - 1]!.denied;
  console.log(`net race: csuper --vulnerable: ${runs.map((c) => JSON.stringify(c)).join(' ')}`);
});

test('the address-flip race never reaches the denied listener under tsyd', async () => {
  assert.ok(vulnerableLeaks > 0, 'the vulnerable checker leaked in this run (the previous test)');
  let deniedPort = 0;
  const { r, c } = await netRace((okPort, noPort) => {
    deniedPort = noPort;
    return net([CONNECT, `allow/net/connect+127.0.0.1!${okPort}`], ['race', String(okPort), String(noPort), '2']);
  });
  console.log(`net race: tsyd: ${JSON.stringify(c)}`);
  assert.is(c.denied, 0, `connections reached the denied port: ${JSON.stringify(c)}`);
  assert.is(c.deniedAccepted, 0, `the denied listener accepted ${c.deniedAccepted} connections`);
  assert.ok(c.connected > 0 && c.refused > 0, `both ports were tried: ${JSON.stringify(c)}`);
  assert.is(c.other, 0, `every failure is the policy's EACCES: ${JSON.stringify(c)}`);
  const records = access(r);
  assert.is(records.length, c.refused, 'one record per refusal');
  const kinds = new Set(records.map((rec) => `${rec['level']} ${rec['cap']} ${rec['sys']} ${rec['addr']}`));
  assert.equal([...kinds], [`warn net/connect connect 127.0.0.1!${deniedPort}`], `access records: ${[...kinds].join(', ')}`);
});

test.run();
