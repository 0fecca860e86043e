// The benchmark's bookkeeping: the calls fast strace traces come from tsyd's own table for the policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { notifiedCalls } from '../../bench/lib/notified.js';

test("fast strace's calls are what tsyd's filter stops for the policy", () => {
  const read = notifiedCalls(['-p', 'none', '-m', 'sandbox/read:on']);
  assert.ok(read.includes('openat') && read.includes('open'), read.join(','));
  assert.not.ok(read.includes('newfstatat'), 'stat is off: not stopped');
  assert.not.ok(read.includes('getppid'), 'never stopped');
  const user = notifiedCalls(['-p', 'user']);
  for (const c of ['newfstatat', 'getdents64', 'execve', 'connect', 'mmap']) assert.ok(user.includes(c), c);
});

test.run();
