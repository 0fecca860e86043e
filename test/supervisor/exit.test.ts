// The exit path: once the program has ended, tsyd ends without waiting for what holds nothing
// (an emulator thread still booting: state starting).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('an emulator still starting when the program ends is ended with the pool, not waited for', async () => {
  // The second core emulator (TSYD_NPROC=2) is spawned while `sleep` runs and never finishes its start.
  const r = await runTsyd(['run', '--', 'sleep', '0.5'], { env: { TSYD_FAULT: 'stuck-start', TSYD_NPROC: '2' }, timeoutMs: 20_000 });
  assert.is(r.code, 0, describe(r));
  // Waited for, it would hold the supervisor past its stop bound (alert: threads did not stop).
  assert.equal(r.records, [], describe(r));
});

test.run();
