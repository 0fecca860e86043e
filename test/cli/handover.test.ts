// An fd tsyd opens for the program is the program's alone once the program has it: tsyd closes its
// own copy before it answers. Before, a lease right after open was refused (EAGAIN) and a program
// written, closed and run at once failed with ETXTBSY in a few rounds of a hundred (review 4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

const ROUNDS = '2000'; // at 1412dd6: lease 59/2000, exec 1/2000 (the lease check alone fails nearly every run)

test('no round meets tsyd\'s copy of a file it opened: natively, then under tsyd', async () => {
  const native = await runNative(fixture('handover'), [ROUNDS], { cwd: tempTree('handover') });
  assert.is(native.stdout, `lease 0/${ROUNDS}\nexec 0/${ROUNDS}\n`, describe(native));
  const sandboxed = await runTsyd(['run', '-p', 'off', '--', fixture('handover'), ROUNDS], { cwd: tempTree('handover'), timeoutMs: 120_000 });
  assert.is(sandboxed.code, 0, describe(sandboxed));
  assert.is(sandboxed.stdout, `lease 0/${ROUNDS}\nexec 0/${ROUNDS}\n`, describe(sandboxed));
});

test.run();
