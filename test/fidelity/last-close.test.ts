// The last close of an object is the program's, as natively: a copy tsyd takes of a program's fd
// for a notified call (fstat → newfstatat(fd, "", AT_EMPTY_PATH)) is closed before its answer.
// Before: it was closed just after, so a FIFO whose read end the program had just closed still
// had a reader for a moment, and an O_WRONLY|O_NONBLOCK open succeeded instead of ENXIO (found
// by the differential harness under load; ~100 of 3000 here).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

test('a FIFO whose last reader the program closed has no reader, even right after an fstat tsyd answered', async () => {
  const dir = tempTree('lastclose', {});
  execFileSync('mkfifo', [`${dir}/p`]);
  const native = await runNative(fixture('lastclose'), [`${dir}/p`, '2000']);
  assert.is(native.stdout.trim(), 'writable 0 of 2000', 'natively');
  const r = await runTsyd(['run', '-p', 'off', '--', fixture('lastclose'), `${dir}/p`, '3000']);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.trim(), 'writable 0 of 3000', describe(r));
});

test.run();
