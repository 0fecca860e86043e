// The library's inspection source: inspect() and 'inspect' events against a real run whose pool
// grows (FIFO opens that hold their emulator: TSYD_FAULT=inline-blocking), and the sampler of
// the shared words runs only while 'inspect' has listeners.
import { test } from 'uvu';
import type { EventEmitter } from 'node:events';
import { internals } from '../../src/supervisor/internals.js';
import * as assert from 'uvu/assert';
import type { InspectEvent } from '../../src/index.js';
import { collect, releaseFifo, spawnFifoFlood, until } from '../supervisor/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('inspect(): machines, pool and program of a growing pool; events only while someone listens', async () => {
  const { fifos, child } = spawnFifoFlood('inspect-stream', 3, { keepAliveMs: 300 });
  try {
    // Every 'inspect' emission, listened to or not.
    const emitted: InspectEvent[] = [];
    const emit = child.emit.bind(child);
    (child as EventEmitter).emit = (name: string | symbol, ...args: unknown[]) => {
      if (name === 'inspect') emitted.push(args[0] as InspectEvent);
      return (emit as EventEmitter['emit'])(name, ...args);
    };
    const sampled = () => emitted.filter((e) => e.type === 'pool' || (e.type === 'machine' && e.machine === 'emulator')).length;
    const out = collect(child.stdout);
    await until(() => out.text().includes('started'), 'the program started');
    await until(() => internals(child).supervisor.counts().busy >= 3, 'three emulators blocked in FIFO opens');
    await sleep(400);
    assert.is(sampled(), 0, 'nobody listens: the shared words are not sampled');

    const s = child.inspect();
    assert.is(s.program.pid, child.pid);
    assert.is(s.program.running, true);
    assert.is(s.machines.sandbox!.value, 'running');
    assert.equal(Object.keys(s.machines.monitor!.value as object), ['running']);
    assert.is(s.pool.core, 1);
    assert.ok(s.pool.curr >= 4, `grown past 3 blocked emulators: ${JSON.stringify(s.pool)}`);
    assert.is(s.pool.helpers, s.pool.curr - 1);
    assert.is(s.pool.spawns, s.pool.curr, 'every spawn counted');
    const emulators = s.machines.emulator!.emulators as Array<{ kind: string; value: string }>;
    assert.is(emulators.length, s.pool.curr);
    assert.is(emulators.filter((e) => e.value === 'busy').length, 3, JSON.stringify(emulators));
    assert.ok((s.machines.emulator!.value as string[]).includes('busy'));
    assert.ok(s.policy.includes('allow/read+/***'));

    const heard: InspectEvent[] = [];
    const listener = (e: InspectEvent) => heard.push(e);
    child.on('inspect', listener);
    await until(() => heard.some((e) => e.type === 'pool' && e.curr === s.pool.curr), 'a pool event with the grown count');
    for (const f of fifos) releaseFifo(f);
    child.stdin!.write('join\n');
    await until(() => out.text().includes('joined'), 'the FIFO threads finished');
    await until(() => heard.some((e) => e.type === 'pool' && e.retirements >= 1 && e.curr < s.pool.curr), 'helpers retiring, seen as pool events', 5000);
    const emu = heard.filter((e) => e.type === 'machine' && e.machine === 'emulator');
    assert.ok(emu.length >= 1, 'emulator states sampled');
    child.off('inspect', listener);
    await sleep(150);
    const afterOff = sampled();
    await sleep(400);
    assert.is(sampled(), afterOff, 'the last listener gone: the sampler stopped');

    child.stdin!.write('exit\n');
    const r = await child.result;
    assert.is(r.exitCode, 0);
    const end = child.inspect();
    assert.equal(end.program, { pid: child.pid, running: false, exitCode: 0, signal: null });
    assert.is(end.machines.sandbox!.value, 'ended');
    assert.is(end.machines.boot!.value, 'done');
    assert.is(end.pool.curr, 0);
    assert.equal(end.machines.emulator!.value, []);
  } finally {
    // A failed check must not leave the program blocked (the test process would never end).
    child.kill('SIGKILL');
  }
});

test.run();
