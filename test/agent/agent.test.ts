// tsyd agent with real runc containers (busybox-static rootfs): a container's decided calls are
// decided by tsyd's emulators in the container's view, records carry the container id, and the
// agent's death fails the container's next decided call instead of letting it through.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy, type PolicyInput } from '../../src/sandbox/build.js';
import { containersMissing, finished, makeBundle, removeContainer, runContainer, scratch, startContainer } from './container.js';
import { denials, startAgent, type AgentProcess } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('agent');
const POLICY = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret', '-m', 'sandbox/stat:on', '-m', 'allow/stat+/***'];
const inputs: PolicyInput[] = [{ profile: 'none' }, { rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }, { rule: 'deny/read+/etc/secret' }];
let agent: AgentProcess;
let seq = 0;

test.before(async () => {
  if (missing !== undefined) return;
  agent = await startAgent(tmp.dir, 'main', POLICY);
});

test.after(async () => {
  await agent?.stop();
  tmp.remove();
});

/** A container running `script` under the agent's socket; its id. */
function bundleFor(script: string, socket = agent.socket, stat = false): { id: string; bundle: ReturnType<typeof makeBundle> } {
  const id = `tsyd-agent-${process.pid}-${++seq}`;
  // `stat`: stat calls stop too (the agent's policy decides them as allowed: stat is off there).
  const seccomp = exportOciSeccomp(buildPolicy(stat ? [...inputs, { rule: 'sandbox/stat:on' }] : inputs), socket);
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp);
  return { id, bundle };
}

test('a denied read fails with EACCES and one record with the container id; an allowed read works', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = bundleFor('cat /etc/public; cat /etc/secret; echo rc=$?');
  try {
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    // /etc/public exists in the container only: read through the container's root.
    assert.match(r.stdout, /container public/);
    assert.match(r.stderr, /can't open '\/etc\/secret': Permission denied/);
    assert.match(r.stdout, /rc=1/);
    const mine = denials(agent, id);
    assert.is(mine.length, 1, JSON.stringify(mine));
    assert.is(mine[0]!.path, '/etc/secret');
    assert.is(mine[0]!.cap, 'read');
  } finally {
    removeContainer(id);
  }
});

test("paths are the container's: its symlinks, its cwd, its /proc/self", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = bundleFor('cd /etc && cat ./link; echo link=$?; cat ../etc/secret; echo rel=$?; head -1 /proc/self/status; echo self=$(readlink /proc/self)', undefined, true);
  // An absolute symlink of the container: it leads to the container's /etc/secret (the host has none).
  symlinkSync('/etc/secret', join(bundle.rootfs, 'etc/link'));
  try {
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /link=1/, 'the link is decided as its target');
    assert.match(r.stdout, /rel=1/);
    assert.match(r.stdout, /Name:\s+head/, "/proc/self is the caller in the container's pid namespace");
    const self = Number(/self=(\d+)/.exec(r.stdout)?.[1]);
    assert.ok(self > 1 && self < 100, `readlink /proc/self says the pid in the container: ${r.stdout}`);
    const paths = denials(agent, id).map((d) => d.path);
    assert.equal(paths, ['/etc/secret', '/etc/secret']);
  } finally {
    removeContainer(id);
  }
});

test("a container's calls are made with its own credentials: its root lacks the agent's DAC override, its users are theirs", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  // Allowed by the policy, refused by the kernel to the container (runc's default capabilities
  // have no CAP_DAC_OVERRIDE): the agent must not open it with its own.
  const script = 'cat /etc/private; echo private=$?; cat /etc/public; echo public=$?; echo x > /tmp/mine; cat /tmp/mine; echo mine=$?';
  for (const user of [undefined, { uid: 1000, gid: 1000 }]) {
    const { id, bundle } = bundleFor(script);
    const { chownSync, chmodSync, readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(join(bundle.rootfs, 'etc/private'), 'private\n', { mode: 0o600 });
    chownSync(join(bundle.rootfs, 'etc/private'), 1234, 1234);
    chmodSync(join(bundle.rootfs, 'etc/private'), 0o600);
    if (user !== undefined) {
      const config = JSON.parse(readFileSync(join(bundle.dir, 'config.json'), 'utf8')) as { process: { user: object } };
      config.process.user = user;
      writeFileSync(join(bundle.dir, 'config.json'), JSON.stringify(config));
    }
    try {
      const r = await runContainer(bundle, id);
      const who = user === undefined ? 'root' : 'uid 1000';
      assert.is(r.status, 0, `${who}: ${r.stderr}`);
      assert.match(r.stdout, /private=1/, `${who}: ${r.stdout}`);
      assert.not.match(r.stdout, /^private$/m, `${who}: the file was read`);
      assert.match(r.stdout, /public=0/, `${who}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, /mine=0/, `${who}: ${r.stdout} ${r.stderr}`);
      assert.equal(denials(agent, id), [], `${who}: the kernel refused it, not the policy`);
    } finally {
      removeContainer(id);
    }
  }
});

test('the user profile (no -p): runc takes its whole profile (every argument rule) and the container runs under it', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const user = await startAgent(tmp.dir, 'user', ['-m', 'deny/read+/etc/secret']);
  const id = `tsyd-agent-${process.pid}-${++seq}`;
  try {
    const seccomp = exportOciSeccomp(buildPolicy([{ rule: 'deny/read+/etc/secret' }]), user.socket);
    assert.ok(seccomp.syscalls.some((e) => e.names.includes('ioctl') && e.args !== undefined), 'argument rules are in it');
    const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', 'cat /etc/public; cat /etc/secret; echo rc=$?; echo hi > /tmp/x; cat /tmp/x; ls / > /dev/null; echo ls=$?'], seccomp);
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /container public\nrc=1\nhi\nls=0/);
    assert.equal(denials(user, id).map((d) => d.path), ['/etc/secret']);
  } finally {
    removeContainer(id);
    await user.stop();
  }
});

test('runc exec into a served container: the new process (a listener of its own) is served with the same container id', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = bundleFor('while [ ! -e /tmp/go ]; do sleep 0.05; done');
  const { openSync, closeSync, writeFileSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const out = openSync(join(bundle.dir, 'out'), 'w');
  try {
    const run = spawnSync('runc', ['run', '-d', '--bundle', bundle.dir, id], { stdio: ['ignore', out, out] });
    assert.is(run.status, 0, 'runc run -d');
    const e = spawnSync('runc', ['exec', id, 'sh', '-c', 'cat /etc/public; cat /etc/secret; echo rc=$?'], { encoding: 'utf8', timeout: 30_000 });
    assert.is(e.status, 0, e.stderr);
    assert.match(e.stdout, /container public\nrc=1/);
    assert.match(e.stderr, /can't open '\/etc\/secret': Permission denied/);
    assert.equal(denials(agent, id).map((d) => d.path), ['/etc/secret']);
    assert.is(agent.records().filter((r) => r.op === 'serve_container' && r.container === id).length, 2, 'two listeners: the container and the exec');
    writeFileSync(join(bundle.rootfs, 'tmp/go'), '');
  } finally {
    closeSync(out);
    removeContainer(id);
  }
});

test("the agent's death fails the container's next decided call (never unchecked)", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const own = await startAgent(tmp.dir, 'dying', POLICY);
  // The container waits for /tmp/go (stat is not decided; sleep's exec fails once the agent is gone: the loop spins), then reads.
  const { id, bundle } = bundleFor('cat /etc/public; echo ready > /tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; cat /etc/public; echo rc=$?', own.socket);
  try {
    const child = startContainer(bundle, id);
    const done = finished(child, id);
    const { existsSync, writeFileSync } = await import('node:fs');
    for (const deadline = Date.now() + 30_000; !existsSync(join(bundle.rootfs, 'tmp/ready')); ) {
      if (Date.now() > deadline) assert.unreachable('the container did not start');
      await new Promise((res) => setTimeout(res, 20));
    }
    await own.stop('SIGKILL');
    writeFileSync(join(bundle.rootfs, 'tmp/go'), '');
    const r = await done;
    assert.is(r.status, 0, r.stderr);
    assert.is(r.stdout.match(/container public/g)?.length, 1, `the first read only: ${r.stdout}`);
    // The exec of cat is that call (every exec is notified: the runtime's part ends at the first).
    assert.match(r.stderr, /sh: cat: Function not implemented/, r.stderr);
    assert.match(r.stdout, /rc=126/, r.stdout);
  } finally {
    removeContainer(id);
  }
});

test.run();
