// Executing through fds and magic links (fexecve, a memfd, runc's self re-exec) answers as natively
// under a policy that allows it: a memfd's head was read through its /proc link with magic links
// refused (ELOOP), so the exec was refused (EACCES); /proc/self/exe with AT_SYMLINK_NOFOLLOW gave
// EACCES for the kernel's ELOOP (review 4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

test('memfd and /proc/self/fd/N execs, natively and under -p off', async () => {
  const native = await runNative(fixture('fexec'), []);
  assert.is(native.stdout, 'memfd AT_EMPTY_PATH status 0\nmemfd /proc/self/fd/N status 0\nmemfd script status 6\n/proc/self/exe NOFOLLOW ELOOP\n', describe(native));
  const sandboxed = await runTsyd(['run', '-p', 'off', '--', fixture('fexec')]);
  assert.is(sandboxed.code, 0, describe(sandboxed));
  assert.is(sandboxed.stdout, native.stdout, describe(sandboxed));
});

test.run();
