// connect and the sends to the unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0) reach this host:
// the kernel takes them for the loopback address. tsyd decides them as 127.0.0.1 / ::1 (and
// sends there), so a policy that denies loopback cannot be passed with the any-address; the
// record names both the address the program gave and the one decided. Each attack is run
// natively first (it reaches the listener there), as root and as nobody.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

const USERS: Array<{ name: string; user?: number }> = [{ name: 'root' }, { name: 'nobody', user: NOBODY }];

/** Everything allowed but loopback. */
const NO_LOOPBACK = ['sandbox/net/connect:on', 'allow/net/connect+any!0-65535', 'deny/net/connect+127.0.0.0/8!0-65535', 'deny/net/connect+::1!0-65535'];

const settle = () => new Promise((r) => setTimeout(r, 200));
const denials = (r: RunResult) => r.records.filter((rec) => rec['ctx'] === 'access' && rec['cap'] === 'net/connect');

interface Listener {
  server: Server;
  port: number;
  accepted: number;
}

async function tcpListener(host: string): Promise<Listener> {
  const l: Listener = { server: createServer(), port: 0, accepted: 0 };
  l.server.on('connection', (c) => {
    l.accepted++;
    c.destroy();
  });
  await new Promise<void>((resolve) => l.server.listen(0, host, resolve));
  l.port = (l.server.address() as { port: number }).port;
  return l;
}

interface Receiver {
  socket: UdpSocket;
  port: number;
  got: number;
}

async function udpReceiver(host: string): Promise<Receiver> {
  const r: Receiver = { socket: createSocket(host.includes(':') ? 'udp6' : 'udp4'), port: 0, got: 0 };
  r.socket.on('message', () => r.got++);
  await new Promise<void>((resolve) => r.socket.bind(0, host, resolve));
  r.port = r.socket.address().port;
  return r;
}

function netcall(rules: string[], args: string[], user?: number): Promise<RunResult> {
  const m = rules.flatMap((rule) => ['-m', rule]);
  return runTsyd(['run', '--log-fd', '3', '-p', 'off', ...m, '--', fixture('netcall'), ...args], { logFd: 3, user });
}

/** [netcall address prefix, the unspecified address as written, where it goes, as decided]. */
const FORMS = [
  ['4', '0.0.0.0', '127.0.0.1', '127.0.0.1'],
  ['6', '::', '::1', '::1'],
  ['6', '::ffff:0.0.0.0', '127.0.0.1', '::ffff:127.0.0.1'],
] as const;

for (const { name, user } of USERS) {
  for (const [family, given, listenOn, decided] of FORMS) {
    test(`connect to ${given} (${name}): natively it reaches ${listenOn}; under tsyd decided as ${decided}, denied with loopback`, async () => {
      const l = await tcpListener(listenOn);
      try {
        const addr = `${family}:${given}:${l.port}`;
        const n = await runNative(fixture('netcall'), ['connect', addr], { user });
        assert.is(n.stdout, 'connect OK\n', describe(n));
        await settle();
        assert.is(l.accepted, 1, `natively ${given} reaches the listener on ${listenOn}: the test can fail`);
        const t = await netcall(NO_LOOPBACK, ['connect', addr], user);
        assert.is(t.stdout, 'connect EACCES\n', describe(t));
        const recs = denials(t);
        assert.is(recs.length, 1, t.log);
        assert.equal([recs[0]!['addr'], recs[0]!['given'], recs[0]!['sys']], [`${decided}!${l.port}`, `${given}!${l.port}`, 'connect'], t.log);
        // Allowed, it goes where the kernel would have gone.
        const ok = await netcall(['sandbox/net/connect:on', `allow/net/connect+${decided}!${l.port}`], ['connect', addr], user);
        assert.is(ok.stdout, 'connect OK\n', describe(ok));
        await settle();
        assert.is(l.accepted, 2, 'only the allowed connect arrived');
      } finally {
        l.server.close();
      }
    });
  }

  for (const op of ['sendto', 'sendmsg', 'sendmmsg'] as const) {
    test(`UDP ${op} to 0.0.0.0 and :: (${name}): decided as loopback, denied with it, nothing arrives`, async () => {
      for (const [family, given, listenOn, decided] of FORMS) {
        const rcv = await udpReceiver(listenOn);
        try {
          const addr = `${family}:${given}:${rcv.port}`;
          const n = await runNative(fixture('netcall'), [op, addr], { user });
          assert.is(n.stdout, `${op} 5\n`, describe(n));
          await settle();
          assert.is(rcv.got, 1, `natively ${given} reaches ${listenOn}: the test can fail`);
          const t = await netcall(NO_LOOPBACK, [op, addr], user);
          assert.is(t.stdout, `${op} EACCES\n`, describe(t));
          const recs = denials(t);
          assert.is(recs.length, 1, t.log);
          assert.equal([recs[0]!['addr'], recs[0]!['given']], [`${decided}!${rcv.port}`, `${given}!${rcv.port}`], t.log);
          await settle();
          assert.is(rcv.got, 1, 'nothing arrived under tsyd');
        } finally {
          rcv.socket.close();
        }
      }
    });
  }
}

test.run();
