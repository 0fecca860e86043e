// What one client of tsyd agent's socket may cost the agent (atkagent3): the fds it sends (one per
// message: a connection is refused at the second) and the records its refused messages write (one
// budget per peer uid, the denial budget's, every record with its uid).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { DENIAL_RECORDS_PER_SECOND } from '../../src/agent/denial-budget.js';
import { fixture } from '../helpers/fixtures.js';
import { NOBODY } from '../helpers/tsyd.js';
import { containersMissing, makeBundle, removeContainer, scratch } from './container.js';
import { assertServedSecretDenied, recordedWithin, startAgent, type AgentProcess } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('socket');
const POLICY = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret'];
let agent: AgentProcess;

test.before(async () => {
  if (missing !== undefined) return;
  // The rootless set-up of README: the socket reachable by an allowed user (here nobody).
  chmodSync(tmp.dir, 0o711);
  agent = await startAgent(tmp.dir, 'socket', ['--allow-uid', String(NOBODY), ...POLICY]);
  chmodSync(agent.socket, 0o666);
});

test.after(async () => {
  await agent?.stop();
  tmp.remove();
});

const agentFds = () => readdirSync(`/proc/${agent.child.pid}/fd`).length;

/** Runs the sockflood fixture (as `uid` when given) until it says it sent everything; resolves with its count and its end. */
function flood(conns: number, fds: number, holdMs: number, uid?: number): Promise<{ sent: number; ended: Promise<void> }> {
  const args = [fixture('sockflood'), agent.socket, String(conns), String(fds), String(holdMs)];
  const asUser = uid === undefined ? args : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...args];
  const child = spawn(asUser[0]!, asUser.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const ended = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /sent (\d+)/.exec(out);
      if (m !== null) resolve({ sent: Number(m[1]), ended });
    });
    child.once('exit', (code) => reject(new Error(`sockflood ended (${code}) before it sent: ${out}`)));
  });
}

/** Whether the agent writes a record matching `match` within 10 s. */
const recorded = (match: (r: Record<string, unknown>) => boolean) => recordedWithin(agent, match);

test("an allowed client sending an fd with every byte holds at most one fd per connection; root's container is served after", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const CONNS = 16;
  const before = agentFds();
  const { ended } = await flood(CONNS, 100, 1500, NOBODY);
  // While the client holds its connections (before the fix: 100 fds each, kept 2 s).
  let most = 0;
  for (const until = Date.now() + 1000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) most = Math.max(most, agentFds());
  await ended;
  assert.ok(most <= before + 2 * CONNS + 16, `the agent held ${most} fds (${before} before): a connection holds more than its socket and one fd`);
  assert.ok(await recorded((r) => r.op === 'bad_message' && r.client_uid === String(NOBODY) && String(r.why).startsWith('2 fds')), 'refused at the second fd');
  const id = `tsyd-socket-${process.pid}`;
  const seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]), agent.socket);
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', 'cat /etc/public; cat /etc/secret; echo rc=$?'], seccomp);
  try {
    await assertServedSecretDenied(agent, bundle, id);
  } finally {
    removeContainer(id);
  }
});

test('N refused messages of one uid: at most the budget logged a second, every one logged or counted, each record with the uid', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const N = 1500;
  const ofRoot = (op: string) => agent.records().filter((r) => r.op === op && r.client_uid === '0');
  const { sent, ended } = await flood(N, 0, 0);
  await ended;
  assert.is(sent, N);
  // A refusal of a later second writes the summary of the ones counted before it.
  const trigger = () => spawnSync(fixture('agentclient'), [agent.socket, '{}', 'close', '/etc/hostname']);
  let triggers = 0;
  const triggerLogged = () => ofRoot('bad_message').some((r) => String(r.why).includes('not a seccomp listener'));
  for (; triggers < 5 && !triggerLogged(); triggers++) {
    await new Promise((r) => setTimeout(r, 1100));
    trigger();
    await recorded(triggerLogged);
  }
  assert.ok(triggerLogged(), 'a refusal of a later second is logged');
  const logged = ofRoot('bad_message');
  const counted = ofRoot('refusals_not_logged').reduce((s, r) => s + Number(r.count), 0);
  assert.ok(logged.length < N, `${logged.length} of ${N} refusals logged: no budget`);
  assert.is(logged.length + counted, N + triggers, 'every refusal is logged or counted');
  const perSecond = new Map<number, number>();
  for (const r of logged) perSecond.set(Math.floor(Number(r.time) / 1000), (perSecond.get(Math.floor(Number(r.time) / 1000)) ?? 0) + 1);
  assert.ok(Math.max(...perSecond.values()) <= DENIAL_RECORDS_PER_SECOND, `records a second: ${JSON.stringify([...perSecond])}`);
});

test.run();
