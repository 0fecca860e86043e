// Who may hand tsyd agent a listener, and what one container may hold of the agent: a client's
// own listener never borrows another container's view (its root, its ids), its connections never
// crowd out the runtime's, and a container's blocked calls and denial records are bounded.
// An allowed client has a bounded number of containers served at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { fixture } from '../helpers/fixtures.js';
import { NOBODY, tsydBin } from '../helpers/tsyd.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch, type Bundle } from './container.js';
import { assertServedSecretDenied, denials, denialsCounted, recordedWithin, startAgent, type AgentProcess } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('peer');
const POLICY = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret'];
let agent: AgentProcess;
let seccomp: object;
let seq = 0;

test.before(async () => {
  if (missing !== undefined) return;
  // The rootless set-up of README: the socket reachable by an allowed user (here nobody).
  chmodSync(tmp.dir, 0o711);
  agent = await startAgent(tmp.dir, 'peer', ['--allow-uid', String(NOBODY), ...POLICY]);
  chmodSync(agent.socket, 0o666);
  seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]), agent.socket);
});

test.after(async () => {
  await agent?.stop();
  tmp.remove();
});

function bundleFor(script: string): { id: string; bundle: Bundle } {
  const id = `tsyd-peer-${process.pid}-${++seq}`;
  return { id, bundle: makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp) };
}

/** Whether the agent writes a record matching `match` within 10 s. */
const recorded = (match: (r: Record<string, unknown>) => boolean) => recordedWithin(agent, match);

/** A container (root) that waits for its /tmp/go; its init's pid. */
function waitingVictim(): { id: string; bundle: Bundle; pid: number } {
  const { id, bundle } = bundleFor('while [ ! -e /tmp/go ]; do sleep 0.05; done');
  const r = spawnSync('runc', ['run', '-d', '--bundle', bundle.dir, id], { stdio: 'ignore' });
  assert.is(r.status, 0, 'the victim container did not start');
  const pid = (JSON.parse(spawnSync('runc', ['state', id], { encoding: 'utf8' }).stdout) as { pid: number }).pid;
  return { id, bundle, pid };
}

/** Runs the ownlistener fixture (its own listener, claimed as `pid`'s), as `uid` when given. */
function ownListener(pid: number, id: string, path: string, uid?: number, bundle?: string): string {
  const args = [fixture('ownlistener'), agent.socket, String(pid), id, path, ...(bundle !== undefined ? [bundle] : [])];
  const asUser = uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'];
  const r = spawnSync(asUser[0] ?? args[0]!, [...asUser.slice(1), ...(uid === undefined ? args.slice(1) : args)], { encoding: 'utf8', timeout: 30_000 });
  return r.stdout + r.stderr;
}

test("an allowed user's client claiming a root container's pid (and naming a bundle of its own): refused", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const victim = waitingVictim();
  const evil = join(tmp.dir, 'evil');
  spawnSync('mkdir', ['-m', '0755', evil]);
  writeFileSync(join(evil, 'config.json'), JSON.stringify({ process: { user: { uid: NOBODY, gid: NOBODY } } }));
  try {
    const out = ownListener(victim.pid, victim.id, '/etc/public', NOBODY, evil);
    assert.not.match(out, /container public/, `the client read the victim container's file: ${out}`);
    assert.ok(await recorded((r) => r.op === 'bad_message' && String(r.why).includes(`not a process of uid ${NOBODY}`)), 'the claim is refused with a record');
  } finally {
    writeFileSync(join(victim.bundle.rootfs, 'tmp/go'), '');
    removeContainer(victim.id);
  }
});

/** The first line of `child`'s stdout that matches `re` (the child is killed by the caller). */
function lineOf(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m !== null) resolve(m);
    });
    child.once('exit', () => reject(new Error(`exited before ${re}: ${text}`)));
  });
}

test('an allowed user claims a process of its own mapped to a sub-uid (a user namespace it owns): accepted', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const child = spawn('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', fixture('usernsowned')], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const pid = Number((await lineOf(child, /^ready (\d+)/m))[1]);
    writeFileSync(`/proc/${pid}/uid_map`, '0 100000 1000\n');
    writeFileSync(`/proc/${pid}/gid_map`, '0 100000 1000\n');
    const mapped = lineOf(child, /^mapped/m);
    child.stdin!.write('go\n');
    await mapped;
    const id = `tsyd-peer-subuid-${process.pid}`;
    ownListener(pid, id, '/etc/public', NOBODY);
    // Accepted, then not served: it shares the agent's pid namespace (serve_container error).
    assert.ok(await recorded((r) => r.container === id && r.op === 'serve_container'), 'the claim is accepted');
    assert.not.ok(agent.records().some((r) => r.op === 'bad_message' && String(r.why).includes(`pid ${pid} `)), "refused as another user's");
  } finally {
    child.kill('SIGKILL');
  }
});

test("a root client's own listener claiming a container: its calls are refused, never served in the container's view", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const victim = waitingVictim();
  try {
    const out = ownListener(victim.pid, victim.id, '/etc/public');
    assert.not.match(out, /container public/, `the client's open was made in the victim's root: ${out}`);
    assert.match(out, /failed: Operation not permitted/);
    assert.ok(await recorded((r) => r.op === 'foreign_caller' && r.container === victim.id), 'a foreign_caller record');
  } finally {
    writeFileSync(join(victim.bundle.rootfs, 'tmp/go'), '');
    removeContainer(victim.id);
  }
});

test('a container blocks at most 64 calls at once in the agent: the next ones fail EAGAIN', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const script = [
    'mkfifo /tmp/f; touch /tmp/err; i=0',
    'while [ $i -lt 80 ]; do (cat /tmp/f >/dev/null 2>>/tmp/err) & i=$((i+1)); done',
    // waits (at most 10 s) until 16 of the 80 opens failed
    't=0; while [ $t -lt 200 ]; do n=0; while read l; do n=$((n+1)); done < /tmp/err; [ $n -ge 16 ] && break; sleep 0.05; t=$((t+1)); done',
    'echo failed=$n; cat /tmp/err; cat /etc/public',
  ].join('\n');
  const { id, bundle } = bundleFor(script);
  try {
    const r = await runContainer(bundle, id);
    assert.match(r.stdout, /failed=(1[6-9]|[2-9]\d)/, r.stdout + r.stderr);
    assert.match(r.stdout, /Resource temporarily unavailable/);
    assert.match(r.stdout, /container public/, 'its other calls go on');
  } finally {
    removeContainer(id);
  }
});

test('a container flooding denials: the first ones are logged, the rest counted in summary records', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const N = 3000;
  const { id, bundle } = bundleFor(`i=0; while [ $i -lt ${N} ]; do true < /etc/secret 2>/dev/null; i=$((i+1)); done; echo done`);
  try {
    const r = await runContainer(bundle, id);
    assert.match(r.stdout, /done/, r.stderr);
    assert.ok(await recorded((x) => x.op === 'container_ended' && x.container === id), 'the container ended');
    const logged = denials(agent, id).length;
    assert.ok(logged >= 100, `the first denials are logged: ${logged}`);
    assert.ok(logged < N, `${logged} of ${N} denials logged: no bound`);
    assert.is(logged + denialsCounted(agent, id), N, 'every denial is logged or counted');
  } finally {
    removeContainer(id);
  }
});

test('an allowed client has at most 8 containers served at once: the next is refused, a freed place taken again', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
  // A process of the client's own, in a user and pid namespace it made, to claim (claimRefused lets it).
  const own = spawn(asNobody[0]!, [...asNobody.slice(1), 'unshare', '-Urpf', 'sleep', '60'], { stdio: 'ignore' });
  let claimed = '';
  for (const deadline = Date.now() + 5000; claimed === '' && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    claimed = readFileSync(`/proc/${own.pid}/task/${own.pid}/children`, 'utf8').trim();
  }
  const ofClient = (op: string) => agent.records().filter((x) => x.op === op && (x.client_uid === String(NOBODY) || String(x.why).includes(`uid ${NOBODY} `)));
  // n clients (one process group) each hand over a listener of their own claiming `claimed`, held 30 s.
  const hand = (n: number) => {
    const one = `${fixture('ownlistener')} ${agent.socket} ${claimed} many /etc/public /nonexistent 30`;
    return spawn(asNobody[0]!, [...asNobody.slice(1), 'sh', '-c', `for i in $(seq ${n}); do ${one} & done; wait`], { stdio: 'ignore', detached: true });
  };
  const servedBefore = ofClient('serve_container').length;
  const endedBefore = ofClient('container_ended').length;
  const first = hand(10);
  let second: ChildProcess | undefined;
  try {
    const tooMany = () => ofClient('bad_message').filter((x) => String(x.why).includes('too_many')).length;
    assert.ok(await recorded(() => tooMany() >= 2 && ofClient('serve_container').length - servedBefore >= 8), 'two refused as too many');
    assert.is(ofClient('serve_container').length - servedBefore, 8, '8 served');
    process.kill(-first.pid!, 'SIGKILL');
    assert.ok(await recorded(() => ofClient('container_ended').length - endedBefore >= 8), 'the 8 ended');
    second = hand(1);
    assert.ok(await recorded(() => ofClient('serve_container').length - servedBefore === 9), 'a freed place is taken again');
  } finally {
    for (const c of [first, second]) if (c?.pid !== undefined) try { process.kill(-c.pid, 'SIGKILL'); } catch {}
    if (claimed !== '') process.kill(Number(claimed), 'SIGKILL');
    own.kill('SIGKILL');
  }
});

/** The connected sockets the agent holds. */
function agentSockets(): number {
  const dir = `/proc/${agent.child.pid}/fd`;
  return readdirSync(dir).filter((fd) => {
    try {
      return readlinkSync(join(dir, fd)).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

/** Holds 70 connections (as `uid` when given) that sent `{` only, then runs a container: is it served? */
async function servedDespiteHeld(uid?: number): Promise<void> {
  const before = agentSockets();
  const holders: ChildProcess[] = [];
  const { id, bundle } = bundleFor('cat /etc/public; cat /etc/secret; echo rc=$?');
  const client = [fixture('agentclient'), agent.socket, '{', 'hold'];
  try {
    for (let i = 0; i < 70; i++) {
      const asUser = uid === undefined ? client : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...client];
      holders.push(spawn(asUser[0]!, asUser.slice(1), { stdio: 'ignore' }));
    }
    // Waits (at most 5 s) until the agent holds them (or closed those over its bound).
    for (const deadline = Date.now() + 5000; agentSockets() < before + 64 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    await assertServedSecretDenied(agent, bundle, id);
  } finally {
    for (const h of holders) h.kill();
    removeContainer(id);
  }
}

test("70 held connections of an allowed user do not crowd out the runtime's", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  await servedDespiteHeld(NOBODY);
});

test("70 held connections of root's own: the oldest gives way to the runtime's", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  await servedDespiteHeld();
});

test("an agent that is not root, a root container: serve_container says which path and who the agent must be", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const own = join(tmp.dir, 'nobody');
  mkdirSync(own);
  chownSync(own, NOBODY, NOBODY);
  const nobodyAgent = await startAgent(own, 'nobody', POLICY, tsydBin, NOBODY);
  try {
    const nobodySeccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]), nobodyAgent.socket);
    const id = `tsyd-peer-${process.pid}-${++seq}`;
    const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', 'cat /etc/public'], nobodySeccomp);
    try {
      await runContainer(bundle, id);
      const failed = nobodyAgent.records().find((r) => r.op === 'serve_container' && r.container === id);
      assert.match(String(failed?.err), /cannot open \/proc\/\d+\/root \(EACCES\): the agent must run as root or as the container's user/, JSON.stringify(nobodyAgent.records()));
    } finally {
      removeContainer(id);
    }
  } finally {
    await nobodyAgent.stop();
  }
});

test.run();
