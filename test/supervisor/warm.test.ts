// A warm supervisor: the threads that served one sandbox serve the next (same monitor and
// emulator thread ids; the interrupter is a native thread per sandbox, joined at its end), and nothing of one sandbox reaches the next: not its
// policy, not the rules its program added, not its fds; confined threads, concurrent sandboxes,
// a crashed emulator, and a host process that ends while the supervisor is idle.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Supervisor, type SandboxResult } from '../../src/index.js';
import { internals } from '../../src/supervisor/internals.js';
import { Ctl } from '../../src/shared/worker-data.js';
import { Slot } from '../../src/shared/slot.js';
import { until } from './helpers.js';
import { fixture } from '../helpers/fixtures.js';

let dir: string;
let sup: Supervisor;
test.before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tsyd-warm-')));
  writeFileSync(join(dir, 'secret'), 'SECRET\n');
  sup = new Supervisor({ idleMs: 60_000 });
});
test.after(async () => {
  await sup.close();
  rmSync(dir, { recursive: true, force: true });
});

const READ_ALL = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];
const DENY_SECRET = () => [...READ_ALL, { rule: `deny/read+${dir}/secret` }];
const quiet = { logLevel: 'silent' as const, emulators: 1, buffer: true, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };

/** The monitor thread that served `child` (the interrupter is a thread of each sandbox's own; emulators apart: their slot is freed at the end). */
function threadIds(child: ReturnType<Supervisor['spawn']>): { monitor: number } {
  const wd = internals(child).supervisor;
  return { monitor: Atomics.load(wd.ctl, Ctl.monitorTid) };
}

/** The interrupter thread that served `child`. */
function interrupterOf(child: ReturnType<Supervisor['spawn']>): number {
  return Atomics.load(internals(child).supervisor.ctl, Ctl.interrupterTid);
}

async function runCat(policy: object[], on = sup): Promise<{ r: SandboxResult; tids: ReturnType<typeof threadIds> }> {
  const child = on.spawn('cat', [join(dir, 'secret')], { ...quiet, policy: policy as never });
  const r = await child.result;
  return { r, tids: threadIds(child) };
}

/** The emulator that answers a sandbox's first calls: its thread id, read while the program waits on stdin. */
async function emulatorOf(): Promise<{ emulator: number; monitor: number; interrupter: number }> {
  const child = sup.spawn('cat', [], { ...quiet, stdio: ['pipe', 'pipe', 'pipe'], policy: READ_ALL });
  const slot = internals(child).supervisor.slot(0);
  await until(() => Atomics.load(slot, Slot.tid) > 0, 'the emulator of slot 0 started');
  const emulator = Atomics.load(slot, Slot.tid);
  child.stdin!.end();
  assert.is((await child.result).exitCode, 0);
  return { emulator, ...threadIds(child), interrupter: interrupterOf(child) };
}

test('the second sandbox is served by the same monitor and emulator threads; its own interrupter', async () => {
  const a = await emulatorOf();
  const name = (tid: number) => readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
  const warm = readdirSync('/proc/self/task').map(Number).filter((t) => name(t) === 'tsyd_emu');
  assert.equal(name(a.monitor), 'tsyd_mon', 'alive, waiting for the next sandbox');
  assert.not.ok(existsSync(`/proc/self/task/${a.interrupter}`), 'the interrupter of the sandbox served was joined');
  assert.ok(warm.length > 0, 'emulator threads wait for the next sandbox');
  const b = await emulatorOf();
  assert.ok(a.monitor > 0 && a.emulator > 0 && a.interrupter > 0, JSON.stringify(a));
  assert.is(b.monitor, a.monitor, 'same monitor');
  assert.ok(b.interrupter > 0 && b.interrupter !== a.interrupter, 'an interrupter of its own');
  assert.ok(warm.includes(b.emulator), `the second sandbox's emulator ${b.emulator} is one of the warm ones ${warm}`);
});

test("a denial of one sandbox's policy does not deny in the next, and the other way round", async () => {
  const denied = await runCat(DENY_SECRET());
  assert.is(denied.r.exitCode, 1);
  assert.is(denied.r.violationCount, 1);
  const allowed = await runCat(READ_ALL);
  assert.is(allowed.r.exitCode, 0, allowed.r.stderr);
  assert.is(allowed.r.stdout, 'SECRET\n');
  assert.is(allowed.r.violationCount, 0);
  const deniedAgain = await runCat(DENY_SECRET());
  assert.is(deniedAgain.r.exitCode, 1);
  assert.is(deniedAgain.r.violationCount, 1);
  assert.equal(deniedAgain.tids, denied.tids, 'all three on the same threads');
});

test("a directory's link count is decided by each sandbox's own policy (the hidden-subdirectory count of one sandbox never answers the next)", async () => {
  const d = join(dir, 'links');
  mkdirSync(join(d, 'visible'), { recursive: true });
  mkdirSync(join(d, 'hidden'), { recursive: true });
  const base = [{ profile: 'none' }, { rule: 'sandbox/stat:on' }, { rule: 'allow/stat+/***' }];
  const hides = [...base, { rule: `deny/stat+${d}/hidden/***` }];
  const showsAll = [...base, { rule: `deny/stat+${d}/nothing-here` }];
  const nlink = async (policy: object[]) => {
    const r = await sup.run(fixture('nlink'), [d], { ...quiet, policy: policy as never });
    assert.is(r.exitCode, 0, r.stderr as string);
    return (r.stdout as string).trim();
  };
  // Found by an attack: the count was cached per policy version, alike in every sandbox.
  assert.is(await nlink(showsAll), '4', 'nothing hidden: 2 + 2 subdirectories');
  assert.is(await nlink(hides), '3', 'D/hidden hidden on the same warm threads');
  assert.is(await nlink(showsAll), '4', 'the next sandbox hides nothing again');
});

test("a concurrent sandbox cannot signal another sandbox's reaper, neither by pid nor by its process group, nor through a pidfd", async () => {
  const b = sup.spawn('sleep', ['30'], { ...quiet, policy: READ_ALL });
  const reaper = internals(b).reaperPid;
  try {
    // Found by an attack: kill(-pgid) of B's reaper (alone in its group) went through; B's
    // program died of it and what it had started ran on unwatched.
    const a = await sup.run('sh', ['-c', `kill -9 ${reaper}; echo direct=$?; kill -9 -${reaper}; echo group=$?`], { ...quiet, policy: READ_ALL });
    assert.equal((a.stdout as string).split('\n').filter(Boolean), ['direct=1', 'group=1'], a.stderr as string);
    // The same through a pidfd, to the process and to its group (PIDFD_SIGNAL_PROCESS_GROUP = 4).
    const py = `import os, signal\nfd = os.pidfd_open(${reaper})\nfor flags in (0, 4):\n    try:\n        signal.pidfd_send_signal(fd, 9, None, flags)\n        print(flags, 'sent')\n    except OSError as e:\n        print(flags, e.errno)`;
    const p = await sup.run('python3', ['-c', py], { ...quiet, policy: READ_ALL });
    assert.equal((p.stdout as string).split('\n').filter(Boolean), ['0 1', '4 1'], `${p.stdout}${p.stderr}`);
    assert.ok(b.running, 'B still runs');
    assert.ok(existsSync(`/proc/${reaper}`), "B's reaper still runs");
  } finally {
    b.kill('SIGKILL');
    await b.result;
  }
});

test('a rule the program added through /dev/tsyd is gone in the next sandbox', async () => {
  const secret = join(dir, 'secret');
  const open = [...READ_ALL, { rule: 'lock:off' }];
  const child = sup.spawn('sh', ['-c', `test -e "/dev/tsyd/deny/read+${secret}" && cat "${secret}"`], { ...quiet, policy: open });
  const first = await child.result;
  assert.is(first.exitCode, 1, 'the rule the program added denied its read');
  assert.is(first.violationCount, 1);
  const next = sup.spawn('cat', [secret], { ...quiet, policy: open });
  const r = await next.result;
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(r.stdout, 'SECRET\n');
  assert.equal(threadIds(next), threadIds(child), 'on the same threads');
});

test('threads confined by a locked sandbox serve the next locked one; an unlocked one gets unconfined threads and behaves', async () => {
  const seccompMode = (tid: number) => Number(/^Seccomp:\s*(\d)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]);
  // One idle thread at most: the next sandbox has that one or a new one.
  const one = new Supervisor({ maxIdle: 1 });
  const locked = await runCat([...DENY_SECRET(), { rule: 'lock:on' }], one);
  assert.is(locked.r.exitCode, 1);
  assert.is(seccompMode(locked.tids.monitor), 2, 'the monitor confined itself');
  const exec = await runCat(DENY_SECRET(), one);
  assert.is(exec.r.exitCode, 1, 'lock:exec (the default)');
  assert.equal(exec.tids, locked.tids, 'lock:exec is served by the confined threads');
  const secret = join(dir, 'secret');
  const child = one.spawn('sh', ['-c', `cat "${secret}" && test -e "/dev/tsyd/deny/read+${secret}" && cat "${secret}"`], { ...quiet, policy: [...READ_ALL, { rule: 'lock:off' }] });
  await until(() => threadIds(child).monitor > 0, 'a monitor serves it');
  const { monitor } = threadIds(child);
  assert.is.not(monitor, locked.tids.monitor, 'not on the confined threads');
  assert.is(seccompMode(monitor), 0, 'its monitor is not confined');
  const r = await child.result;
  assert.is(r.stdout, 'SECRET\n', 'read once before the rule');
  assert.is(r.exitCode, 1, 'the runtime rule applied');
  assert.is(r.violationCount, 1);
  await one.close();
});

test("a sandbox's listener, pidfd and wake fd are closed once it has ended", async () => {
  const child = sup.spawn('true', [], { ...quiet, policy: READ_ALL });
  const m = internals(child).monitor!.data;
  const fds = [m.notifyFd, m.pidfd, m.wakeFd];
  const before = fds.map((fd) => readlinkSync(`/proc/self/fd/${fd}`));
  assert.match(before[0]!, /seccomp/);
  await child.result;
  for (const [i, fd] of fds.entries()) {
    const now = existsSync(`/proc/self/fd/${fd}`) ? readlinkSync(`/proc/self/fd/${fd}`) : 'closed';
    assert.ok(now === 'closed' || now !== before[i], `fd ${fd} (${before[i]}) still open`);
  }
});

test('concurrent sandboxes each get their own threads and their own policy', async () => {
  const secret = join(dir, 'secret');
  const runs = [DENY_SECRET(), READ_ALL, DENY_SECRET(), READ_ALL].map((policy) => sup.spawn('cat', [secret], { ...quiet, policy }));
  assert.is(sup.threads.serving, 4);
  const rs = await Promise.all(runs.map((c) => c.result));
  assert.equal(
    rs.map((r) => r.exitCode),
    [1, 0, 1, 0],
  );
  const monitors = new Set(runs.map((c) => threadIds(c).monitor));
  assert.is(monitors.size, 4, 'one monitor thread per sandbox at a time');
  assert.is(sup.threads.serving, 0);
});

test('an emulator that crashed in one sandbox does not break the next', async () => {
  const secret = join(dir, 'secret');
  process.env.TSYD_FAULT = `crash-on:${secret}`;
  let crashed: ReturnType<Supervisor['spawn']>;
  try {
    crashed = sup.spawn('cat', [secret], { ...quiet, policy: READ_ALL });
  } finally {
    delete process.env.TSYD_FAULT;
  }
  const r1 = await crashed.result;
  assert.is(r1.exitCode, 1, 'the request of the dead emulator was answered EACCES');
  for (let i = 0; i < 2; i++) {
    const { r } = await runCat(READ_ALL);
    assert.is(r.exitCode, 0, r.stderr);
    assert.is(r.stdout, 'SECRET\n');
  }
});

test('an idle supervisor does not keep the host alive; process.exit does not wait for it', () => {
  const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  for (const end of ['', 'process.exit(3);']) {
    const script = `import { run, Supervisor } from ${JSON.stringify(index)};
      const sup = new Supervisor({ idleMs: 600000 });
      const a = await sup.run('true', [], { logLevel: 'silent' });
      const b = await run('true', [], { logLevel: 'silent' });
      console.log(\`\${a.exitCode} \${b.exitCode} \${JSON.stringify(sup.threads)}\`); ${end}`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.is(out.signal, null, `the host ended by itself (${end || 'no exit call'}): ${out.stderr}`);
    assert.is(out.status, end ? 3 : 0, out.stderr);
    assert.is(out.stdout.trim(), '0 0 {"serving":0,"idle":1}', JSON.stringify(out.stdout));
  }
});

test('the CLI runs one sandbox per process, as before', () => {
  const bin = fileURLToPath(new URL('../../../bin/tsyd.js', import.meta.url));
  const out = execFileSync(process.execPath, [bin, 'run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', 'cat', join(dir, 'secret')], { encoding: 'utf8' });
  assert.is(out, 'SECRET\n');
});

test.run();
