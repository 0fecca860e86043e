// UNIX sockets in a tree that stat hides do not exist for the program, whatever the net
// capabilities say (off, or allowing the path): connect, bind, sendto, sendmsg and sendmmsg to
// a path in it — or through it and out again with ".." — fail with ENOENT as for a missing path,
// with a stat record, and nothing reaches the socket. Each attack is run natively first (it
// works there, so a pass under tsyd means enforcement), as root and as nobody.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

const USERS: Array<{ name: string; user?: number }> = [{ name: 'root' }, { name: 'nobody', user: NOBODY }];

interface Listener {
  server: Server;
  accepted: number;
}

/** A UNIX stream listener at `path` that anyone may connect to; it counts what reaches it. */
async function listenAt(path: string): Promise<Listener> {
  const l: Listener = { server: createServer(), accepted: 0 };
  l.server.on('connection', (c) => {
    l.accepted++;
    c.destroy();
  });
  await new Promise<void>((resolve) => l.server.listen(path, resolve));
  chmodSync(path, 0o777);
  return l;
}

/** A tree with a hidden directory `vault` (holding `sub/` and the socket `agent.sock`) and a visible socket `pub.sock`. */
async function tree(): Promise<{ dir: string; agent: Listener; pub: Listener }> {
  const dir = tempTree('net-hidden');
  mkdirSync(`${dir}/vault/sub`, { recursive: true, mode: 0o755 });
  for (const d of [dir, `${dir}/vault`]) chmodSync(d, 0o777); // nobody binds here
  const agent = await listenAt(`${dir}/vault/agent.sock`);
  const pub = await listenAt(`${dir}/pub.sock`);
  return { dir, agent, pub };
}

const HIDE = (dir: string) => ['sandbox/stat:on', 'allow/stat+/***', `deny/stat+${dir}/vault/***`];
/** The net capabilities (and create, which decides bind too) off: the calls are not theirs to decide. */
const NET_OFF = () => ['sandbox/net/connect,net/bind,create:off'];
/** The net capabilities on and allowing every path of the tree. */
const ALLOW_NET = (dir: string) => ['sandbox/net/connect,net/bind:on', `allow/net/connect+${dir}/***`, `allow/net/bind+${dir}/***`];

function netcall(rules: string[], args: string[], user?: number): Promise<RunResult> {
  const m = rules.flatMap((rule) => ['-m', rule]);
  return runTsyd(['run', '--log-fd', '3', '-p', 'off', ...m, '--', fixture('netcall'), ...args], { logFd: 3, user });
}

const statDenials = (r: RunResult) => r.records.filter((rec) => rec['ctx'] === 'access' && rec['cap'] === 'stat');

/** [op, address, natively] : calls that find (or make) a socket in, or through, the hidden directory. */
function attacks(dir: string): Array<[op: string, addr: string, native: RegExp]> {
  return [
    ['connect', `u:${dir}/vault/agent.sock`, /^connect OK$/m],
    ['connect', `u:${dir}/vault/sub/../../pub.sock`, /^connect OK$/m],
    ['sendto', `u:${dir}/vault/agent.sock`, /^sendto EPROTOTYPE$/m],
    ['sendmsg', `u:${dir}/vault/agent.sock`, /^sendmsg EPROTOTYPE$/m],
    ['sendmmsg', `u:${dir}/vault/sub/../agent.sock`, /^sendmmsg EPROTOTYPE$/m],
    ['bind', `u:${dir}/vault/new.sock`, /^bind OK$/m],
    ['bind', `u:${dir}/vault/sub/../../through.sock`, /^bind OK$/m],
  ];
}

for (const { name, user } of USERS) {
  for (const [what, netRules] of [['net off', NET_OFF], ['net allowing the tree', ALLOW_NET]] as const) {
    test(`UNIX sockets in a hidden directory (${what}, ${name}): ENOENT as for a missing path, a stat record, nothing reached`, async () => {
      const { dir, agent, pub } = await tree();
      try {
        for (const [op, addr, native] of attacks(dir)) {
          const n = await runNative(fixture('netcall'), [op, addr], { user });
          assert.match(n.stdout, native, `natively ${op} ${addr} reaches the socket: the test can fail\n${describe(n)}`);
        }
        const reached = agent.accepted + pub.accepted;
        assert.ok(reached >= 2, 'natively the connects arrived');
        for (const f of ['new.sock', '../through.sock']) assert.ok(existsSync(`${dir}/vault/${f}`), `natively bind made ${f}`);
        const made = ['vault/new2.sock', 'through2.sock'];

        for (const [op, addr] of attacks(dir)) {
          const target = addr.replace('new.sock', 'new2.sock').replace('through.sock', 'through2.sock');
          const r = await netcall([...HIDE(dir), ...netRules(dir)], [op, target], user);
          assert.is(r.stdout, `${op} ENOENT\n`, `${op} ${target}: ${describe(r)}\n${r.log}`);
          assert.ok(statDenials(r).length >= 1, `${op} ${target}: a stat record\n${r.log}`);
        }
        // A missing name under the hidden directory says the same.
        const missing = await netcall([...HIDE(dir), ...netRules(dir)], ['connect', `u:${dir}/vault/nosuch/../../pub.sock`], user);
        assert.is(missing.stdout, 'connect ENOENT\n', describe(missing));
        await new Promise((r) => setTimeout(r, 200));
        assert.is(agent.accepted + pub.accepted, reached, 'nothing reached a socket under tsyd');
        for (const f of made) assert.not.ok(existsSync(`${dir}/${f}`), `no socket file ${f} was made`);
        // A visible socket is still reached.
        const ok = await netcall([...HIDE(dir), ...netRules(dir)], ['connect', `u:${dir}/pub.sock`], user);
        assert.is(ok.stdout, 'connect OK\n', describe(ok));
      } finally {
        agent.server.close();
        pub.server.close();
      }
    });
  }
}

test.run();
