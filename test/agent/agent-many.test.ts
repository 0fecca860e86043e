// tsyd agent serving several runc containers at once: each with its own policy (--policies DIR,
// listenerMetadata policy=NAME), a bad name denies everything, a container blocking 200 FIFO
// opens leaves another container's calls going, and a container's end frees what it held.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { containersMissing, finished, makeBundle, removeContainer, scratch, startContainer, type Bundle } from './container.js';
import { denials, startAgent, type AgentProcess } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('many');
const policies = join(tmp.dir, 'policies');
let agent: AgentProcess;
let seq = 0;

test.before(async () => {
  if (missing !== undefined) return;
  mkdirSync(policies);
  writeFileSync(join(policies, 'web.policy'), 'sandbox/read:on\nallow/read+/***\ndeny/read+/etc/secret\n');
  writeFileSync(join(policies, 'db.policy'), 'sandbox/read:on\nallow/read+/***\ndeny/read+/etc/public\n');
  agent = await startAgent(tmp.dir, 'many', ['--policies', policies, '-p', 'none']);
});

test.after(async () => {
  await agent?.stop();
  tmp.remove();
});

/** A container of `script` whose profile (read decided) asks the agent for policy `name` (or sends `metadata`). */
function container(script: string, name: string, metadata = `policy=${name}`): { id: string; bundle: Bundle } {
  const id = `tsyd-many-${process.pid}-${++seq}`;
  const seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]), agent.socket, metadata);
  return { id, bundle: makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp) };
}

async function waitFor(path: string, what: string): Promise<void> {
  for (const deadline = Date.now() + 30_000; !existsSync(path); ) {
    if (Date.now() > deadline) assert.unreachable(`${what}: ${path} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What a process holds: its open fds and its threads. */
function held(pid: number): { fds: number; threads: number } {
  return { fds: readdirSync(`/proc/${pid}/fd`).length, threads: readdirSync(`/proc/${pid}/task`).length };
}

/** Both read both files, once both are running (each waits for the test's /tmp/go). */
const BOTH = 'echo > /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; cat /etc/public; echo public=$?; cat /etc/secret; echo secret=$?';

test('two containers with different policies at once: each decided by its own', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const web = container(BOTH, 'web');
  const db = container(BOTH, 'db');
  try {
    const runs = [web, db].map((c) => finished(startContainer(c.bundle, c.id), c.id));
    for (const c of [web, db]) await waitFor(join(c.bundle.rootfs, 'tmp/ready'), c.id);
    for (const c of [web, db]) writeFileSync(join(c.bundle.rootfs, 'tmp/go'), '');
    const [w, d] = await Promise.all(runs);
    assert.match(w!.stdout, /public=0/);
    assert.match(w!.stdout, /secret=1/);
    assert.match(d!.stdout, /public=1/);
    assert.match(d!.stdout, /secret=0/);
    assert.equal(denials(agent, web.id).map((r) => r.path), ['/etc/secret']);
    assert.equal(denials(agent, db.id).map((r) => r.path), ['/etc/public']);
  } finally {
    removeContainer(web.id);
    removeContainer(db.id);
  }
});

test('a policy name that is no plain file name in DIR: every decided call denied and logged', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  for (const name of ['../web', 'nosuch', '.hidden']) {
    const c = container('cat /etc/public; echo public=$?', name);
    try {
      const r = await finished(startContainer(c.bundle, c.id), c.id);
      // The first decided call is the runtime's exec of the container's program: it never starts.
      assert.is.not(r.status, 0, `${name}: ${r.stdout} ${r.stderr}`);
      assert.not.match(r.stdout, /public=/);
      assert.ok(agent.records().some((x) => x.op === 'policy_refused' && x.container === c.id), `${name}: the refusal is logged`);
      const denied = denials(agent, c.id).map((x) => `${x.sys} ${x.path}`);
      assert.ok(denied.length > 0 && denied.every((d) => d === 'execve /bin/sh'), `${name}: ${denied.join(', ')}`);
    } finally {
      removeContainer(c.id);
    }
  }
});

test('an unknown listenerMetadata key: served with the default policy, one warn record naming the key', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const c = container('cat /etc/secret; echo secret=$?', 'web', 'polcy=web');
  try {
    const r = await finished(startContainer(c.bundle, c.id), c.id);
    // The default (-p none) reads /etc/secret; web.policy would deny it.
    assert.match(r.stdout, /secret=0/, r.stderr);
    const unknown = agent.records().filter((x) => x.op === 'metadata_unknown' && x.container === c.id);
    assert.equal(unknown.map((x) => [x.level, x.keys, x.policy]), [['warn', ['polcy'], 'default']]);
  } finally {
    removeContainer(c.id);
  }
});

test("a container blocking 200 FIFO opens does not stop another's calls; its end frees what it held", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  // 200 readers of a FIFO without writer: 200 opens waiting in the agent (job threads).
  const blocker = container('mkfifo /tmp/fifo; for i in $(seq 200); do cat /tmp/fifo & done; echo > /tmp/ready; wait', 'web');
  const before = held(agent.child.pid!);
  const other = container('echo > /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; for i in $(seq 100); do cat /etc/public > /dev/null || exit 1; done; echo done', 'web');
  try {
    const blocked = finished(startContainer(blocker.bundle, blocker.id), blocker.id, 120_000);
    await waitFor(join(blocker.bundle.rootfs, 'tmp/ready'), 'blocker');
    const run = finished(startContainer(other.bundle, other.id), other.id);
    await waitFor(join(other.bundle.rootfs, 'tmp/ready'), 'other');
    writeFileSync(join(other.bundle.rootfs, 'tmp/go'), '');
    const r = await run;
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /done/);
    // The blocker ends (killed): its listener hangs up, its threads stop, its waiting opens are cut.
    spawnSync('runc', ['kill', blocker.id, 'KILL']);
    await blocked;
    for (const deadline = Date.now() + 30_000; !agent.records().some((x) => x.op === 'container_ended' && x.container === blocker.id); ) {
      if (Date.now() > deadline) assert.unreachable('the blocker was never seen ending');
      await new Promise((res) => setTimeout(res, 50));
    }
    const end = agent.records().find((x) => x.op === 'container_ended' && x.container === blocker.id)!;
    assert.is(end.clean, true, 'every thread of the blocker stopped, its fds closed');
    // Both containers ended: the agent holds again the fds and threads it held before them.
    let now = held(agent.child.pid!);
    for (const deadline = Date.now() + 20_000; now.fds > before.fds || now.threads > before.threads; now = held(agent.child.pid!)) {
      if (Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(now.fds <= before.fds, `fds: ${before.fds} before, ${now.fds} after`);
    assert.ok(now.threads <= before.threads, `threads: ${before.threads} before, ${now.threads} after`);
  } finally {
    removeContainer(blocker.id);
    removeContainer(other.id);
  }
});

test.run();
