// A monitor thread started ahead of its first sandbox (Supervisor.prestart, called by spawn()
// before the options and the policy are built): the sandbox is served by that thread, a spawn
// that fails leaves no thread behind, and an unused one never keeps the host alive.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Supervisor } from '../../src/index.js';
import { internals } from '../../src/supervisor/internals.js';
import { Ctl } from '../../src/shared/worker-data.js';
import { until } from './helpers.js';

const quiet = { logLevel: 'silent' as const, emulators: 1, buffer: true, stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'] };

/** The ids of this process's monitor threads (comm tsyd_mon, set once the thread has loaded). */
function monitorTids(): number[] {
  const tids: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'tsyd_mon') tids.push(Number(tid));
    } catch {
      // ended between the listing and the read
    }
  }
  return tids;
}

test('a prestarted monitor thread serves the next sandbox (no second thread is started)', async () => {
  const sup = new Supervisor({ idleMs: 60_000, maxIdle: 0 });
  const before = monitorTids();
  sup.prestart();
  await until(() => monitorTids().length === before.length + 1, 'the prestarted monitor thread is up');
  const [fresh] = monitorTids().filter((t) => !before.includes(t));
  const child = sup.spawn('true', [], quiet);
  const r = await child.result;
  assert.is(r.exitCode, 0, r.stderr);
  assert.is(Atomics.load(internals(child).supervisor.ctl, Ctl.monitorTid), fresh);
  await sup.close();
  await until(() => monitorTids().length === before.length, 'the monitor thread ended with the sandbox (maxIdle 0)');
});

test('a spawn that fails (a bad policy, a program not found) leaves no monitor thread behind', async () => {
  const sup = new Supervisor({ idleMs: 60_000 });
  const before = monitorTids().length;
  const bad = await sup.run('true', [], { ...quiet, policy: [{ rule: 'no/such+rule' }] as never });
  assert.is(bad.exitCode, 125);
  assert.is(monitorTids().length, before, 'no thread after a refused policy');
  const missing = await sup.run('/nonexistent/program', [], quiet);
  assert.is(missing.exitCode, 127);
  assert.is(monitorTids().length, before, 'no thread after a program not found');
  assert.equal(sup.threads, { serving: 0, idle: 0 });
  await sup.close();
});

test('an unused prestarted thread does not keep the host alive', () => {
  const index = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  const script = `import { Supervisor } from ${JSON.stringify(index)};
    new Supervisor({ idleMs: 600000 }).prestart();
    console.log('started');`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.is(out.signal, null, `the host ended by itself: ${out.stderr}`);
  assert.is(out.status, 0, out.stderr);
  assert.is(out.stdout.trim(), 'started');
});

test.run();
