// The start-up timeline (src/shared/timeline.ts, read by bench/startup.ts): with
// TSYD_TIMELINE_FD set, `tsyd run` writes each step once reached, from every thread, in the
// order a run goes through them; the fd never reaches the program.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, runTsyd } from '../helpers/tsyd.js';

function steps(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [step, at] = line.split(' ');
    if (step && at && !out.has(step)) out.set(step, Number(at));
  }
  return out;
}

test('TSYD_TIMELINE_FD: every step of a run is written, in the order of the run', async () => {
  const r = await runTsyd(['run', '--', 'true'], { env: { TSYD_TIMELINE_FD: '3' }, logFd: 3 });
  assert.is(r.code, 0, describe(r));
  const s = steps(r.log);
  const order = ['process.start', 'node.ready', 'cli.loaded', 'options.ready', 'program.spawned', 'exec.answered', 'program.exited', 'threads.stopped', 'process.exit'];
  for (const step of [...order, 'monitor.up', 'emulator.loaded', 'emulator.ready']) assert.ok(s.has(step), `step ${step} in ${JSON.stringify(r.log)}`);
  for (let i = 1; i < order.length; i++) assert.ok(s.get(order[i - 1]!)! <= s.get(order[i]!)!, `${order[i - 1]} before ${order[i]}: ${r.log}`);
  // Every thread writes on the same clock: the emulator is ready before the program's exec is answered.
  assert.ok(s.get('emulator.ready')! <= s.get('exec.answered')!, r.log);
});

test('TSYD_TIMELINE_FD: the program does not inherit the timeline fd', async () => {
  const r = await runTsyd(['run', '--', 'sh', '-c', 'if [ -e /proc/self/fd/3 ]; then echo leaked; else echo closed; fi'], { env: { TSYD_TIMELINE_FD: '3' }, logFd: 3 });
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.trim(), 'closed');
});

test('without TSYD_TIMELINE_FD nothing is written to fd 3', async () => {
  const r = await runTsyd(['run', '--', 'true'], { env: { TSYD_TIMELINE_FD: undefined }, logFd: 3 });
  assert.is(r.code, 0, describe(r));
  assert.is(r.log, '');
});

test.run();
