// Calls that may block for as long as the program likes (FIFO opens here) run on small native
// job threads, never in an emulator: a program blocking hundreds of them neither hangs its other
// calls nor costs tsyd an isolate each; at the limit the answer is EAGAIN and an alert, never a
// hang; a signal cuts a blocked call short as the kernel would; nothing is left at exit.
// (Before: 130 threads in FIFO opens held all 128 emulators, every other call hung, tsyd sat at
// ~1.2 GB.)
import { chmodSync, constants, openSync, closeSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { internals } from '../../src/supervisor/internals.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, Supervisor } from '../../src/index.js';
import { Job, JobState } from '../../src/shared/worker-data.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY, spawnProgram, spawnTsyd } from '../helpers/tsyd.js';
import { collect, makeFifos, releaseFifo, until } from './helpers.js';

const POLICY = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];
/**
 * These tests run their sandboxes on new threads (a cold supervisor): on warm threads
 * (src/supervisor/supervisor.ts) both core emulators answer from the first call, which changes
 * how a burst of hand-offs meets the pool rule.
 */
const cold = new Supervisor({ maxIdle: 0 });
const threadNames = () => readdirSync('/proc/self/task').map((t) => {
  try {
    return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
});
/** Threads of process `pid` named `name`. */
const threadsOf = (pid: number, name: string) =>
  readdirSync(`/proc/${pid}/task`).filter((t) => {
    try {
      return readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === name;
    } catch {
      return false;
    }
  }).length;
/** A field of /proc/PID/status in MiB (VmRSS, VmHWM: the peak). */
const statusMiB = (pid: number, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const rssMiB = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

/**
 * No emulator is held by the calls parked on job threads: none busy, and the pool near its core.
 * Held emulators would stay busy and grow the pool by one per blocked call. A burst of hand-offs
 * keeping both core emulators busy past the monitor's settle time may add a helper or two under
 * load (the pool rule; seen in CI), which retire after keep_alive.
 */
async function noEmulatorHeld(child: ReturnType<typeof spawn>, core = 2): Promise<void> {
  const counts = () => internals(child).supervisor.counts();
  await until(() => counts().busy === 0, `no emulator is held (${JSON.stringify(counts())})`, 5000);
  assert.ok(counts().curr <= core + 3, `the pool stayed near its core: ${JSON.stringify(counts())}`);
}

function blockedJobs(child: ReturnType<typeof spawn>): number {
  const jobs = internals(child).supervisor.jobs();
  let n = 0;
  for (let i = 0; i < internals(child).supervisor.maxJobs; i++) if (Atomics.load(jobs, i * 8 + Job.state) === JobState.blocking) n++;
  return n;
}

test('300 threads in FIFO opens: no emulator is held, the pool stays at its core, other calls go on', async () => {
  const dir = tempTree('jobs', { regular: 'R' });
  const fifos = makeFifos(dir, 'f', 300);
  const rss0 = rssMiB();
  const child = spawn(fixture('fifoflood'), ['300', `${dir}/f`, `${dir}/regular`], {
    policy: POLICY,
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 2,
    supervisor: cold,
    logLevel: 'silent',
  });
  const out = collect(child.stdout);
  await until(() => out.text().includes('started'), 'the program started');
  await until(() => blockedJobs(child) === 300, `300 blocked job threads (${blockedJobs(child)})`, 20_000);
  child.stdin!.write('regular\n');
  await until(() => out.text().includes('regular '), 'the regular open answered');
  assert.match(out.text(), 'regular ok');
  await noEmulatorHeld(child);
  assert.is(threadNames().filter((n) => n === 'tsyd_blk').length, 300);
  const grown = rssMiB() - rss0;
  console.log(`jobs: 300 blocked FIFO opens cost ${grown.toFixed(0)} MiB (an emulator each: ~${(300 * 9.5).toFixed(0)} MiB)`);
  assert.ok(grown < 150, `300 blocked calls cost ${grown.toFixed(0)} MiB`);
  for (const f of fifos) releaseFifo(f);
  child.stdin!.write('join\n');
  await until(() => out.text().includes('joined'), 'the FIFO threads finished');
  assert.is(out.text().match(/fifo \d+ opened/g)?.length, 300);
  await until(() => !threadNames().includes('tsyd_blk'), 'the job threads ended');
  child.stdin!.write('exit\n');
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.ok(r.cleanShutdown);
});

test('at the limit of blocked calls: EAGAIN and an alert, the program is not hung', async () => {
  const dir = tempTree('jobcap', { regular: 'R' });
  const fifos = makeFifos(dir, 'f', 6);
  const logFile = `${dir}/log`;
  const logFd = openSync(logFile, 'w');
  const child = spawn(fixture('fifoflood'), ['6', `${dir}/f`, `${dir}/regular`], {
    policy: POLICY,
    stdio: ['pipe', 'pipe', 'inherit'],
    maxBlockingCalls: 4,
    logLevel: 'alert',
    logFd,
  });
  const out = collect(child.stdout);
  await until(() => out.text().includes('started'), 'the program started');
  await until(() => (out.text().match(/errno=11/g)?.length ?? 0) === 2, 'two opens answered EAGAIN');
  child.stdin!.write('regular\n');
  await until(() => out.text().includes('regular '), 'the regular open answered');
  assert.match(out.text(), 'regular ok');
  for (const f of fifos) {
    // Only the four waiting opens have a reader to meet.
    try {
      closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader (O_NONBLOCK|O_WRONLY gives ENXIO): one of the two refused
    }
  }
  child.stdin!.write('join\nexit\n');
  const r = await child.result;
  closeSync(logFd);
  assert.is(r.exitCode, 0);
  assert.is(out.text().match(/opened/g)?.length, 4);
  const records = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(records.some((x) => x.op === 'blocking_capacity_exceeded' && x.level === 'alert' && x.max === 4), readFileSync(logFile, 'utf8'));
});

async function interrupted(restart: boolean, logFd?: number) {
  const dir = tempTree('jobintr');
  const [fifo] = makeFifos(dir, 'f', 1);
  const log = logFd === undefined ? { logLevel: 'silent' as const } : { logLevel: 'debug' as const, logFd };
  const child = spawn(fixture('fifointr'), restart ? ['-r', fifo!] : [fifo!], { policy: POLICY, stdio: ['ignore', 'pipe', 'inherit'], ...log });
  const out = collect(child.stdout);
  await until(() => out.text().includes('ready'), 'ready');
  await until(() => blockedJobs(child) === 1, 'the open blocks on a job thread');
  child.kill('SIGUSR1');
  return { child, out, fifo: fifo! };
}

test('a signal whose handler has no SA_RESTART cuts the blocked open short: EINTR', async () => {
  const { child, out } = await interrupted(false);
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.match(out.text(), 'open errno=4');
  assert.match(out.text(), 'handled=1');
});

test('a SIGALRM of the interrupter to a job thread is logged by the monitor (interrupt_job, woken by a signal)', async () => {
  const logFile = `${tempTree('jobintrlog')}/log`;
  const logFd = openSync(logFile, 'w');
  const { child } = await interrupted(false, logFd);
  assert.is((await child.result).exitCode, 0);
  closeSync(logFd);
  const records = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const cut = records.find((x) => x.op === 'interrupt_job');
  assert.ok(cut && cut.ctx === 'interrupt' && cut.why === 'woken by a signal' && (cut.thread as number) > 0, readFileSync(logFile, 'utf8').slice(-3000));
});

test('with SA_RESTART the blocked open goes on and completes when a writer comes', async () => {
  const { child, out, fifo } = await interrupted(true);
  await new Promise((r) => setTimeout(r, 300)); // several interrupter cycles
  assert.not.match(out.text(), 'open ');
  assert.is(blockedJobs(child), 1);
  releaseFifo(fifo);
  const r = await child.result;
  assert.match(out.text(), 'open ok');
  assert.match(out.text(), 'handled=1');
});

/** Opens the FIFO for writing (its reader waits), writes `data` and closes it. */
function feedFifo(path: string, data: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(fd, data);
  closeSync(fd);
}

test('a call handed to an idle job thread right before its emulator confines itself is still made', async () => {
  const dir = tempTree('jobconfine');
  const [first, second] = makeFifos(dir, 'f', 2);
  // lock:off: the test locks the policy itself, while the emulator waits for a request.
  // TSYD_FAULT=slow-job-pickup: the idle job thread is slow to take what it is handed, as on a
  // busy machine (the test's stop-and-restart runs hung so about one time in 16 without it).
  process.env.TSYD_FAULT = 'slow-job-pickup';
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(fixture('blockopen'), [first!, second!], {
      policy: [...POLICY, { rule: 'lock:off' }],
      stdio: ['pipe', 'pipe', 'inherit'],
      emulators: 1,
      logLevel: 'silent',
    });
  } finally {
    delete process.env.TSYD_FAULT;
  }
  const out = collect(child.stdout);
  await until(() => blockedJobs(child) === 1, 'the first open waits on a job thread');
  feedFifo(first!, 'one');
  await until(() => out.text().includes('read=one'), 'the first open completed');
  // Its job thread now idles, waiting for the emulator's next job. The emulator takes the
  // second open (the program's first call after the lock), hands it to that thread, and only
  // then confines itself, on its next turn: the thread, created unconfined, must leave — before,
  // it left with the open, and the program waited for ever.
  internals(child).supervisor.lock();
  child.stdin!.write('next\n');
  await until(() => blockedJobs(child) === 1, 'the second open waits on a job thread', 3000);
  feedFifo(second!, 'two');
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.match(out.text(), /read=one\n[^]*read=two\n/);
});

test('the program killed while calls block on job threads: 137 promptly, no job thread left', async () => {
  const dir = tempTree('jobkill', { regular: 'R' });
  makeFifos(dir, 'f', 50);
  const child = spawn(fixture('fifoflood'), ['50', `${dir}/f`, `${dir}/regular`], { policy: POLICY, stdio: ['pipe', 'ignore', 'inherit'], logLevel: 'silent' });
  await until(() => blockedJobs(child) === 50, '50 blocked job threads');
  const t0 = Date.now();
  child.kill('SIGKILL');
  const r = await child.result;
  assert.is(r.exitCode, 137);
  assert.ok(r.cleanShutdown);
  assert.ok(Date.now() - t0 < 3000, 'promptly');
  await until(() => !threadNames().includes('tsyd_blk'), 'no job thread left', 3000);
});

for (const mode of ['connect', 'send'] as const) {
  test(`100 threads in blocking ${mode === 'connect' ? 'connects to a full backlog' : 'sendmsg into a peer that never reads'}: job threads, not emulators`, async () => {
    const dir = tempTree(`jobnet-${mode}`, { regular: 'R' });
    const child = spawn(fixture('netflood'), [mode, '100', `${dir}/sock`, `${dir}/regular`], {
      policy: [{ rule: 'sandbox/net/connect:on' }, { rule: `allow/net/connect+${dir}/***` }, ...POLICY],
      stdio: ['pipe', 'pipe', 'inherit'],
      emulators: 2,
      supervisor: cold,
      logLevel: 'silent',
    });
    try {
      const out = collect(child.stdout);
      await until(() => out.text().includes('started'), 'the program started');
      await until(() => blockedJobs(child) >= 90, `the calls wait on job threads (${blockedJobs(child)})`);
      child.stdin!.write('regular\n');
      await until(() => out.text().includes('regular '), 'the regular open answered');
      assert.match(out.text(), 'regular ok');
      await noEmulatorHeld(child);
      child.stdin!.write('exit\n');
      const r = await child.result;
      assert.is(r.exitCode, 0);
      assert.ok(r.cleanShutdown);
      await until(() => !threadNames().includes('tsyd_blk'), 'no job thread left', 3000);
    } finally {
      child.kill('SIGKILL');
    }
  });
}

// Holds a read lease on argv[1] until stdin closes; a lease break (SIGIO) is ignored, so the
// truncates wait for us (or for lease-break-time).
const LEASE_HOLDER = [
  'import fcntl, os, signal, sys',
  'signal.signal(signal.SIGIO, signal.SIG_IGN)',
  'fd = os.open(sys.argv[1], os.O_RDONLY)',
  'fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)',
  'print("leased", flush=True)',
  'sys.stdin.read()',
].join('\n');

test('truncates of a leased file wait on job threads, not emulators (the lease holder lets go later)', async () => {
  const dir = tempTree('joblease', { leased: 'LEASED', regular: 'R' });
  const holder = spawnProgram('/usr/bin/python3', ['-c', LEASE_HOLDER, `${dir}/leased`], { keepStdinOpen: true });
  await holder.waitForStdout(/leased\n/);
  // perl truncates by name (truncate(2)); coreutils' truncate opens the file and would not wait.
  const script = `for i in 1 2 3 4 5 6; do perl -e 'truncate($ARGV[0], 2) or die "$!"' ${dir}/leased & done; read go; cat ${dir}/regular; wait; echo done`;
  const child = spawn('/bin/sh', ['-c', script], {
    policy: [{ rule: 'sandbox/write:on' }, { rule: 'allow/write+/***' }, ...POLICY],
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 2,
    supervisor: cold,
    logLevel: 'silent',
  });
  const out = collect(child.stdout);
  await until(() => blockedJobs(child) === 6, `the truncates wait on job threads (${blockedJobs(child)})`);
  child.stdin!.write('go\n');
  await until(() => out.text().includes('R'), 'another call answered meanwhile');
  await noEmulatorHeld(child);
  holder.child.stdin!.end();
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.is(out.text(), 'Rdone\n');
  assert.is(readFileSync(`${dir}/leased`, 'utf8'), 'LE', 'the truncates were done');
});

test('100 threads in a blocking sendmmsg into a peer that never reads: job threads, not emulators; each returns its count once the peer reads', async () => {
  // Before: sendmmsg was sent message by message on the emulator, which waited with it: 100
  // such threads held 100 emulators (the pool grew to them) and no job thread.
  const dir = tempTree('jobnet-sendmmsg', { regular: 'R' });
  const child = spawn(fixture('netflood'), ['sendmmsg', '100', `${dir}/sock`, `${dir}/regular`], {
    policy: [{ rule: 'sandbox/net/connect:on' }, { rule: `allow/net/connect+${dir}/***` }, ...POLICY],
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 2,
    supervisor: cold,
    logLevel: 'silent',
  });
  try {
    const out = collect(child.stdout);
    await until(() => out.text().includes('started'), 'the program started');
    await until(() => blockedJobs(child) >= 90, `the sendmmsg calls wait on job threads (${blockedJobs(child)}, pool ${internals(child).supervisor.counts().curr})`);
    child.stdin!.write('regular\n');
    await until(() => out.text().includes('regular '), 'the regular open answered');
    assert.match(out.text(), 'regular ok');
    await noEmulatorHeld(child);
    child.stdin!.write('drain\n');
    await until(() => out.text().includes('done '), 'every sendmmsg returned once the peer read', 20_000);
    const done = /done n=100 calls=(\d+) errors=(\d+) eagain=\d+ max=(\d+) msgs=(\d+)/.exec(out.text());
    assert.ok(done, out.text());
    const [calls, errors, max, msgs] = done.slice(1).map(Number) as [number, number, number, number];
    assert.is(calls, 100, `every call returned a count: ${done[0]}`);
    assert.is(errors, 0, done[0]);
    assert.ok(msgs >= 100 && msgs <= 200 && max === 65536, `each sent one or two whole messages: ${done[0]}`);
    child.stdin!.write('exit\n');
    const r = await child.result;
    assert.is(r.exitCode, 0);
    assert.ok(r.cleanShutdown);
    await until(() => !threadNames().includes('tsyd_blk'), 'no job thread left', 3000);
  } finally {
    child.kill('SIGKILL');
  }
});

test('as nobody (the CLI): 100 blocking sendmmsg wait on job threads, not emulators, and each returns its count', async () => {
  const dir = tempTree('jobnet-nobody', { regular: 'R' });
  chmodSync(dir, 0o777);
  const args = ['run', '-p', 'off', '--', fixture('netflood'), 'sendmmsg', '100', `${dir}/sock`, `${dir}/regular`];
  const p = spawnTsyd(args, { user: NOBODY, keepStdinOpen: true, env: { TSYD_NPROC: '2' } });
  try {
    await p.waitForStdout(/^started$/m);
    const counts = () => `${threadsOf(p.pid, 'tsyd_blk')} job threads, ${threadsOf(p.pid, 'tsyd_emu')} emulators`;
    await until(() => threadsOf(p.pid, 'tsyd_blk') >= 90, `the calls wait on job threads (${counts()})`);
    // Held emulators would stay; a helper spawned for a moment while the calls were handed over
    // retires (seen in CI: more than 3 at one look, 1 a moment later).
    await until(() => threadsOf(p.pid, 'tsyd_emu') <= 3, `no emulator is held: ${counts()}`, 8000);
    p.child.stdin!.write('regular\ndrain\n');
    const out = await p.waitForStdout(/^done .*$/m, 20_000);
    assert.match(out, /^regular ok$/m);
    assert.match(out, /^done n=100 calls=100 errors=0 eagain=0 max=65536 msgs=\d+$/m);
    p.child.stdin!.end('exit\n');
    const r = await p.result;
    assert.is(r.code, 0, r.stderr);
  } finally {
    p.child.kill('SIGKILL');
  }
});

/** What all waiting sends of a sandbox may hold of the program's data (addon/common.h kMaxWaitingKib). */
const MAX_WAITING_KIB = 64 * 1024;

for (const user of [undefined, NOBODY]) {
  for (const mode of ['bigsend', 'bigdgram'] as const) {
    const what = mode === 'bigsend' ? 'stream sends of 4 MiB' : 'large datagrams';
    test(`blocked ${what} hold at most 64 MiB of the program's data in tsyd (${user === undefined ? 'root' : 'nobody'})`, async () => {
      // Before: each waiting send held its whole copy (up to 4 MiB): 100 blocked 4 MiB sends
      // grew tsyd by ~400 MiB.
      const dir = tempTree(`jobmem-${mode}`, { regular: 'R' });
      chmodSync(dir, 0o777);
      const args = ['run', '--log-fd', '3', '-p', 'off', '--', fixture('netflood'), mode, '100', `${dir}/sock`, `${dir}/regular`];
      const p = spawnTsyd(args, { user, keepStdinOpen: true, logFd: 3, env: { TSYD_NPROC: '2' } });
      try {
        const started = await p.waitForStdout(/^started.*$/m);
        // Datagrams: as many as hold four times the limit (a datagram goes whole or not at all).
        const size = Number(/dgram=(\d+)/.exec(started)?.[1] ?? 4 << 20);
        const kib = Math.ceil(size / 1024);
        const count = mode === 'bigsend' ? 100 : Math.ceil((4 * MAX_WAITING_KIB) / kib);
        const waiting = mode === 'bigsend' ? count : Math.floor(MAX_WAITING_KIB / kib);
        const base = statusMiB(p.pid, 'VmRSS');
        p.child.stdin!.write(`go ${count}\n`);
        await until(() => threadsOf(p.pid, 'tsyd_blk') >= waiting, `the sends wait on job threads (${threadsOf(p.pid, 'tsyd_blk')})`, 20_000);
        // Every call is decided before the peer reads: one still on its way to tsyd then would
        // meet a queue with room and go through at once, or take the claim of a job that just
        // sent (seen under load: calls=20 for 16 datagrams, the drain 7 calls early). With more
        // than `waiting` sends held, fewer than the rest would be refused: this never returns.
        p.child.stdin!.write(`wait ${count - waiting}\n`);
        const refused = await p.waitForStdout(/^returned .*$/m, 20_000);
        assert.match(refused, new RegExp(`^returned ${count - waiting} calls=0 errors=${count - waiting} eagain=${count - waiting}$`, 'm'));
        assert.is(threadsOf(p.pid, 'tsyd_blk'), waiting, 'as many sends wait as the limit holds');
        p.child.stdin!.write('drain\n');
        const out = await p.waitForStdout(/^done .*$/m, 30_000);
        const grown = statusMiB(p.pid, 'VmHWM') - base;
        const done = /^done n=\d+ calls=(\d+) errors=(\d+) eagain=(\d+) max=(\d+)/m.exec(out)!;
        const [calls, errors, eagain, max] = done.slice(1).map(Number) as [number, number, number, number];
        console.log(`jobs: ${count} blocked ${mode} of ${size} bytes: tsyd grew ${grown.toFixed(0)} MiB; ${done[0]}`);
        p.child.stdin!.end('exit\n');
        const r = await p.result;
        const alerted = r.records.some((x) => x['op'] === 'blocking_memory_exceeded' && x['level'] === 'alert');
        if (mode === 'bigsend') {
          // A stream send that waits carries 64 KiB (a short count, as after a signal).
          assert.equal([calls, errors, max], [count, 0, 64 << 10], done[0]);
        } else {
          // The rest is answered EAGAIN at once (as a send timeout is), with an alert.
          assert.equal([calls, eagain, errors], [waiting, count - waiting, count - waiting], done[0]);
          assert.ok(alerted, r.log);
        }
        // 64 MiB of data at most, and up to 80 MiB of job threads, the emulators' passing copies
        // and heap (measured: ~60 MiB for the streams, ~110 for the datagrams; before: ~450, ~290).
        assert.ok(grown < 64 + 80, `tsyd grew ${grown.toFixed(0)} MiB (at most 64 MiB of data are held)`);
      } finally {
        p.child.kill('SIGKILL');
      }
    });
  }
}

test.run();
