// Another process's /proc entries inside a container answer under the agent as they do natively:
// the same reads run in a plain runc container (no seccomp section) and in one served by the
// agent, from root and from uid 1000 (`runc exec --user`), and must print the same lines. The
// kernel's own refusals stay: root without CAP_SYS_PTRACE (runc's default capabilities) is refused
// a uid-1000 process's links, uid 1000 is refused root's — nothing is lent by the agent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { agentForFile } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('proc');
const RULES = ['sandbox/read:on', 'allow/read+/***', 'sandbox/stat:on', 'allow/stat+/***'];
const served = agentForFile(test, tmp, 'proc', RULES, missing);
const { inputs } = served;
let seq = 0;

/** Each read as one line: its name, exit status, and what it printed (NULs and newlines as spaces). */
const PROBE = `U=$(cat /tmp/upid)
p() { name=$1; shift; "$@" > /tmp/out.$$ 2>&1; rc=$?; echo "$name rc=$rc $(tr '\\0\\n' '  ' < /tmp/out.$$)"; }
p init-exe readlink /proc/1/exe
p init-cwd readlink /proc/1/cwd
p init-root readlink /proc/1/root
p init-cmdline cat /proc/1/cmdline
p init-environ cat /proc/1/environ
p init-list-cwd ls /proc/1/cwd/
p init-list-root ls /proc/1/root/etc/
p init-fds ls /proc/1/fd
p init-ns sh -c '[ "$(readlink /proc/1/ns/pid)" = "$(readlink /proc/self/ns/pid)" ] && echo mine'
p init-mem head -c 1 /proc/1/mem
p user-exe readlink /proc/$U/exe
p user-cwd readlink /proc/$U/cwd
p user-cmdline cat /proc/$U/cmdline
p user-environ cat /proc/$U/environ
p user-list-cwd ls /proc/$U/cwd/
p user-thread-exe readlink /proc/$U/task/$U/exe
`;

/** The probe's lines from root and from uid 1000, in a container whose init (root) sleeps in /etc beside a uid-1000 sleeper in /srv (its pid shown as U). */
async function probe(seccomp?: object): Promise<string> {
  const id = `tsyd-proc-${process.pid}-${++seq}`;
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', 'sleep 1000 & wait'], seccomp, (config) => {
    config.process.cwd = '/etc';
  });
  mkdirSync(join(bundle.rootfs, 'srv'));
  writeFileSync(join(bundle.rootfs, 'srv/mine'), '');
  chownSync(join(bundle.rootfs, 'srv'), 1000, 1000);
  const log = openSync(join(bundle.dir, 'out'), 'w');
  try {
    const run = spawnSync('runc', ['run', '-d', '--bundle', bundle.dir, id], { stdio: ['ignore', log, log] });
    assert.is(run.status, 0, 'runc run -d');
    const sleeper = spawnSync('runc', ['exec', '-d', '--user', '1000:1000', '--cwd', '/srv', id, 'sh', '-c', 'echo $$ > /tmp/upid; exec sleep 1000'], { stdio: ['ignore', log, log] });
    assert.is(sleeper.status, 0, 'runc exec -d of the uid-1000 sleeper');
    const pidFile = join(bundle.rootfs, 'tmp/upid');
    let upid = '';
    for (const deadline = Date.now() + 30_000; !/^\d+\n$/.test(upid); upid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '') {
      if (Date.now() > deadline) assert.unreachable('the uid-1000 sleeper did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    upid = upid.trim();
    const lines: string[] = [];
    for (const user of ['0:0', '1000:1000']) {
      const r = spawnSync('runc', ['exec', '--user', user, '--cwd', '/tmp', id, 'sh', '-c', PROBE], { encoding: 'utf8', timeout: 60_000 });
      assert.is(r.status, 0, `${user}: ${r.stderr}`);
      for (const line of r.stdout.trimEnd().split('\n')) lines.push(`${user} ${line.trimEnd().replaceAll(`/proc/${upid}/`, '/proc/U/')}`);
    }
    return `${lines.join('\n')}\n`;
  } finally {
    closeSync(log);
    removeContainer(id);
  }
}

test("another process's exe, cwd, root, environ, fds of the container answer as natively; the kernel's refusals (another uid, no CAP_SYS_PTRACE) stay", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const native = await probe();
  // What the kernel answers natively: the checks this test rests on.
  for (const want of [
    '0:0 init-exe rc=0 /bin/busybox',
    '0:0 init-cwd rc=0 /etc',
    '0:0 init-list-cwd rc=0 public secret',
    '0:0 user-exe rc=1',
    '0:0 user-list-cwd rc=1 ls: /proc/U/cwd/: Permission denied',
    '1000:1000 init-exe rc=1',
    '1000:1000 init-environ rc=1 cat: can\'t open \'/proc/1/environ\': Permission denied',
    '1000:1000 init-cmdline rc=0 sh -c sleep 1000 & wait',
    '1000:1000 user-exe rc=0 /bin/busybox',
    '1000:1000 user-cwd rc=0 /srv',
    '1000:1000 user-list-cwd rc=0 mine',
  ])
    assert.ok(`\n${native}`.includes(`\n${want}`), `native: ${want}\n${native}`);
  const underAgent = await probe(exportOciSeccomp(buildPolicy(inputs), served.agent.socket));
  assert.fixture(underAgent, native);
});

test("a container whose /proc shows the agent (the host's /proc bound there) never reaches the agent's entries through the emulator's own thread group", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  // Natively the container's root (no CAP_SYS_PTRACE, fewer capabilities than the agent) is
  // refused them; an emulator of the agent is in the agent's thread group, which the kernel
  // never refuses: the agent must refuse, whatever the caller's credentials.
  const pid = served.agent.child.pid!;
  const script = `cat /proc/${pid}/environ > /dev/null; echo environ=$?; readlink /proc/${pid}/exe; echo exe=$?; cat /proc/${pid}/fd/0; echo fd=$?; readlink /proc/${pid}/task/${pid}/cwd; echo cwd=$?`;
  const hostProc = (config: Record<string, any>) => {
    config.mounts = config.mounts.map((m: { destination: string }) => (m.destination === '/proc' ? { destination: '/proc', type: 'bind', source: '/proc', options: ['rbind', 'nosuid', 'noexec', 'nodev'] } : m));
  };
  const outputs: string[] = [];
  for (const seccomp of [undefined, exportOciSeccomp(buildPolicy(inputs), served.agent.socket)]) {
    const id = `tsyd-proc-${process.pid}-${++seq}`;
    try {
      const r = await runContainer(makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp, hostProc), id);
      assert.is(r.status, 0, r.stderr);
      outputs.push(r.stdout);
    } finally {
      removeContainer(id);
    }
  }
  assert.is(outputs[0], 'environ=1\nexe=1\nfd=1\ncwd=1\n', `natively refused: ${outputs[0]}`);
  assert.is(outputs[1], outputs[0]);
});

test.run();
