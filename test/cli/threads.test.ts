// Many threads opening at once: every open is served, every denial is logged exactly once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const dir = tempTree('threads', { 'allowed.txt': 'ALLOWED', 'secret.txt': 'SECRET' });
const allowed = `${dir}/allowed.txt`;
const secret = `${dir}/secret.txt`;
const policy = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', `deny/read+${secret}`];

test('16 threads x 200 opens of an allowed file: no failure, right content, nothing logged', async () => {
  const r = await runTsyd(['run', ...policy, '--', fixture('threads'), '-e', 'ALLOWED', '16', '200', allowed], {
    timeoutMs: 120_000,
  });
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'ok opens=3200 failures=0\n');
  assert.equal(r.records, []);
});

test('8 threads x 50 opens of a denied file: all EACCES, one record each', async () => {
  const r = await runTsyd(['run', ...policy, '--', fixture('threads'), '8', '50', secret], { timeoutMs: 120_000 });
  assert.is(r.code, 1, describe(r));
  assert.is(r.stdout, 'ok opens=400 failures=400 first_errno=13\n');
  const access = r.records.filter((rec) => rec['ctx'] === 'access');
  assert.is(access.length, 400, `one record per denied open, got ${access.length}`);
  assert.ok(
    access.every((rec) => rec['path'] === secret && rec['cap'] === 'read'),
    'every record names the denied file and cap read',
  );
});

test.run();
