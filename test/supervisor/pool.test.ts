// The self-growing emulator pool against the real kernel: emulators held by calls that block,
// capacity, interruption, a program killed while emulators are blocked, a dead emulator.
// Calls that may block normally run on job threads (jobs.test.ts) and hold no emulator; here
// the test-only TSYD_FAULT=inline-blocking makes a FIFO open block its emulator again, as a
// call on a slow file system would, so that the pool must grow.
import { readdirSync, readFileSync } from 'node:fs';
import { internals } from '../../src/supervisor/internals.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, Supervisor } from '../../src/index.js';
import { defaultSupervisor } from '../../src/supervisor/supervisor.js';
import type { PoolEvent } from '../../src/actors/emulator-pool.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { runTsyd } from '../helpers/tsyd.js';
import { collect, makeFifos, releaseFifo, spawnBlocking, until } from './helpers.js';

const POLICY = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];

function poolEvents(child: ReturnType<typeof spawn>): PoolEvent[] {
  const events: PoolEvent[] = [];
  child.on('supervisor', (m: { type: string }) => {
    if (m.type.startsWith('pool.')) events.push(m as PoolEvent);
  });
  return events;
}

test('FIFO flood: the pool grows past the core size, a regular open completes, helpers retire after keep_alive', async () => {
  const dir = tempTree('fifo', { regular: 'R' });
  const fifos = makeFifos(dir, 'f', 4);
  const child = spawnBlocking(fixture('fifoflood'), ['4', `${dir}/f`, `${dir}/regular`], {
    policy: POLICY,
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 2,
    keepAliveMs: 300,
    logLevel: 'silent',
  });
  const events = poolEvents(child);
  const out = collect(child.stdout);
  await until(() => out.text().includes('started'), 'the program started');
  await until(() => internals(child).supervisor.counts().busy >= 4, 'four emulators blocked in FIFO opens');
  child.stdin!.write('regular\n');
  await until(() => out.text().includes('regular '), 'the regular open answered');
  assert.match(out.text(), 'regular ok');
  const grown = internals(child).supervisor.counts();
  assert.ok(grown.curr >= 5, `the pool grew past 4 blocked emulators: curr=${grown.curr}`);
  const helpers = events.filter((e) => e.type === 'pool.spawned' && e.kind === 'helper');
  assert.ok(helpers.length >= 3, `helper spawns were recorded: ${JSON.stringify(events)}`);
  assert.equal(events.filter((e) => e.type === 'pool.spawned' && e.kind === 'core').length, 2);
  for (const f of fifos) releaseFifo(f);
  child.stdin!.write('join\n');
  await until(() => out.text().includes('joined'), 'the FIFO threads finished');
  for (let i = 0; i < 4; i++) assert.match(out.text(), `fifo ${i} opened`);
  await until(() => internals(child).supervisor.counts().curr === 2, 'helpers retired down to the core size', 5000);
  assert.ok(events.some((e) => e.type === 'pool.retired'), 'retirements were recorded');
  assert.is(internals(child).supervisor.counts().busy, 0);
  child.stdin!.write('exit\n');
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.ok(r.cleanShutdown);
});

test('capacity: with TSYD_NPROC_MAX reached the alert is logged, nothing crashes, all completes once released', async () => {
  const dir = tempTree('cap', { regular: 'R' });
  const fifos = makeFifos(dir, 'f', 3);
  const logFile = `${dir}/log`;
  const { openSync, closeSync } = await import('node:fs');
  const logFd = openSync(logFile, 'w');
  const child = spawnBlocking(fixture('fifoflood'), ['3', `${dir}/f`, `${dir}/regular`], {
    policy: POLICY,
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 1,
    maxEmulators: 3,
    keepAliveMs: 200,
    logLevel: 'alert',
    logFd,
  });
  const events = poolEvents(child);
  const out = collect(child.stdout);
  await until(() => out.text().includes('started'), 'the program started');
  await until(() => events.some((e) => e.type === 'pool.capacity_exceeded'), 'the capacity alert');
  const counts = internals(child).supervisor.counts();
  assert.is(counts.curr, 3);
  assert.is(counts.busy, 3);
  child.stdin!.write('regular\n'); // waits in the kernel: no emulator is free
  for (const f of fifos) releaseFifo(f);
  await until(() => out.text().includes('regular '), 'the regular open answered once released');
  assert.match(out.text(), 'regular ok');
  child.stdin!.write('join\nexit\n');
  const r = await child.result;
  closeSync(logFd);
  assert.is(r.exitCode, 0);
  const records = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const alert = records.find((x) => x.op === 'emulator_capacity_exceeded');
  assert.ok(alert, 'an alert record');
  assert.is(alert!.level, 'alert');
  assert.is(alert!.curr_worker_count, 3);
  assert.is(alert!.busy_worker_count, 3);
  assert.is(alert!.core_size, 1);
});

async function interruptRun(restart: boolean) {
  const dir = tempTree('intr');
  const [fifo] = makeFifos(dir, 'f', 1);
  const args = restart ? ['-r', fifo!] : [fifo!];
  const child = spawnBlocking(fixture('fifointr'), args, { policy: POLICY, stdio: ['ignore', 'pipe', 'inherit'], logLevel: 'silent' });
  const out = collect(child.stdout);
  await until(() => out.text().includes('ready'), 'the program is ready');
  // Wait until the FIFO open is registered as blocking in an emulator.
  const blocked = () => {
    for (let i = 0; i < internals(child).supervisor.maxEmulators; i++) if (internals(child).supervisor.slot(i)[28] === 1) return true;
    return false;
  };
  await until(blocked, 'the emulated open is blocked');
  child.kill('SIGUSR1');
  return { child, out, fifo: fifo! };
}

test('interruption: a handler without SA_RESTART makes the blocked emulated open fail with EINTR; busy drops back', async () => {
  const { child, out } = await interruptRun(false);
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.match(out.text(), 'open errno=4');
  assert.match(out.text(), 'handled=1');
  assert.is(internals(child).supervisor.counts().busy, 0);
});

test('interruption: with SA_RESTART the open is not interrupted and completes when a writer comes', async () => {
  const { child, out, fifo } = await interruptRun(true);
  await new Promise((r) => setTimeout(r, 300)); // several interrupter cycles
  assert.not.match(out.text(), 'open ', 'still blocked');
  assert.is(internals(child).supervisor.counts().busy, 1);
  releaseFifo(fifo);
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.match(out.text(), 'open ok');
  assert.match(out.text(), 'handled=1');
});

const threads = () => readdirSync('/proc/self/task').length;
const fds = () => readdirSync('/proc/self/fd').length;

test('the program killed while emulators are blocked: 137 promptly, no thread, fd or child left', async () => {
  const dir = tempTree('kill', { regular: 'R' });
  // Warm threads of earlier tests end first; this sandbox's threads end with it (no idle one kept).
  await defaultSupervisor.closeIdle();
  const before = { threads: threads(), fds: fds() };
  makeFifos(dir, 'f', 3);
  const child = spawnBlocking(fixture('fifoflood'), ['3', `${dir}/f`, `${dir}/regular`], {
    policy: POLICY,
    stdio: ['pipe', 'ignore', 'inherit'],
    emulators: 2,
    logLevel: 'silent',
    supervisor: new Supervisor({ maxIdle: 0 }),
  });
  await until(() => internals(child).supervisor.counts().busy >= 3, 'three blocked emulators');
  const t0 = Date.now();
  child.kill('SIGKILL');
  const r = await child.result;
  const took = Date.now() - t0;
  assert.is(r.exitCode, 137);
  assert.ok(r.cleanShutdown, 'every supervisor thread ended');
  assert.ok(took < 3000, `ended within 3 s (took ${took} ms)`);
  assert.equal(internals(child).supervisor.counts(), { curr: 0, busy: 0 });
  await until(() => threads() <= before.threads, `threads back to ${before.threads} (now ${threads()})`, 3000);
  assert.is(fds(), before.fds, 'no fd left behind');
  assert.throws(() => process.kill(child.pid!, 0), 'the program is gone (reaped)');
});

test('an emulator that dies mid-request: the request is answered (EACCES), counts stay exact, it is replaced', async () => {
  const dir = tempTree('dead', { crash: 'C', fine: 'F' });
  process.env.TSYD_FAULT = `crash-on:${dir}/crash`;
  let child;
  try {
    child = spawn('sh', ['-c', `cat ${dir}/crash; echo rc=$?; cat ${dir}/fine; echo; cat ${dir}/fine`], {
      policy: POLICY,
      stdio: ['ignore', 'pipe', 'pipe'],
      emulators: 1,
      logLevel: 'silent',
    });
  } finally {
    delete process.env.TSYD_FAULT;
  }
  const events = poolEvents(child);
  const out = collect(child.stdout);
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.match(out.text(), /rc=1\nF\nF/);
  const dead = events.find((e) => e.type === 'pool.dead');
  assert.ok(dead && dead.type === 'pool.dead' && dead.answered, `the dead emulator's request was answered: ${JSON.stringify(events)}`);
  assert.ok(events.filter((e) => e.type === 'pool.spawned').length >= 2, 'a replacement was spawned');
  assert.equal(internals(child).supervisor.counts(), { curr: 0, busy: 0 });
});

test('emulators that keep dying are a critical failure: exit 101, the program is killed', async () => {
  const dir = tempTree('loop', { crash: 'C' });
  const r = await runTsyd(
    ['run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', 'sh', '-c', `for i in $(seq 30); do cat ${dir}/crash 2>/dev/null; done; sleep 30`],
    { env: { TSYD_FAULT: `crash-on:${dir}/crash` }, timeoutMs: 30_000 },
  );
  assert.is(r.code, 101, r.stderr);
  assert.ok(r.records.filter((x) => x.op === 'emulator_died').length >= 8);
});

test('the grace after the first core emulator is waited whole: the wake of `true`s exec does not start the second core emulator', async () => {
  // `true` under a core of 2: its exec wakes the monitor (its one emulator is busy), but the
  // second core emulator waits for the end of the grace (250 ms), and `true` has ended by then
  // (before: that wake started it, and it booted for nothing).
  // Runs that take longer than the grace (a loaded machine) prove nothing and are not counted.
  let counted = 0;
  for (let i = 0; i < 5 && counted < 2; i++) {
    const sup = new Supervisor({ maxIdle: 0 });
    const child = sup.spawn('true', [], { policy: POLICY, emulators: 2, logLevel: 'silent' });
    const events = poolEvents(child);
    let firstSpawn = 0;
    let ended = 0;
    child.on('supervisor', (m: { type: string; kind?: string }) => {
      if (m.type === 'pool.spawned' && firstSpawn === 0) firstSpawn = performance.now();
    });
    internals(child).sandbox.subscribe({ complete: () => (ended = performance.now()) });
    assert.is((await child.result).exitCode, 0);
    await sup.close();
    if (firstSpawn === 0 || ended - firstSpawn > 200) continue;
    counted++;
    assert.equal(events.filter((e) => e.type === 'pool.spawned').map((e) => (e as { kind: string }).kind), ['core'], `run ${i}: ${JSON.stringify(events)}`);
  }
});

test.run();
