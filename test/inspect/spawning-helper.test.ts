// A helper the pool has just spawned, its thread not running its task yet (a fresh thread takes
// ~100 ms to start, far longer on a loaded machine): the snapshot already shows it as a helper,
// so `helpers` and the emulator list agree with `curr`. Before: the slot's kind word was written
// by the emulator thread once it ran, and a starting helper read as a core emulator (CI, load 7
// on 2 cores: helpers 2 with curr 4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MonitorMessage } from '../../src/actors/monitor.worker.js';
import { collect, releaseFifo, spawnFifoFlood, until } from '../supervisor/helpers.js';

test('a helper spawned a moment ago is shown as a helper in inspect(), not as a core emulator', async () => {
  const { fifos, child } = spawnFifoFlood('inspect-spawning', 1);
  try {
    // Read where the spawn is reported: the helper's thread has (most often) not run its task yet.
    const seen: Array<{ slot: number; shown: unknown }> = [];
    child.on('supervisor', (m: MonitorMessage) => {
      if (m.type !== 'pool.spawned' || m.kind !== 'helper') return;
      const list = child.inspect().machines.emulator!.emulators as Array<{ slot: number; kind: string }>;
      seen.push({ slot: m.slot, shown: list.find((e) => e.slot === m.slot)?.kind });
    });
    const out = collect(child.stdout);
    await until(() => out.text().includes('started'), 'the program started');
    await until(() => seen.length >= 1, 'a helper spawned for the blocked FIFO open');
    for (const s of seen) assert.is(s.shown, 'helper', JSON.stringify(seen));
    for (const f of fifos) releaseFifo(f);
    child.stdin!.write('join\n');
    await until(() => out.text().includes('joined'), 'the FIFO thread finished');
    child.stdin!.write('exit\n');
    assert.is((await child.result).exitCode, 0);
  } finally {
    // A failed check must not leave the program blocked (the test process would never end).
    child.kill('SIGKILL');
  }
});

test.run();
