// A program's read lease on a crypt buffer (README "Crypt sandboxing"): tsyd never waits for its
// break (45 s) while it holds the registry's lock; the other crypt files' opens go on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('a read lease on the writers\' buffer at its last close: another crypt file opens at once, both land', async () => {
  const dir = tempTree('crypt-lease');
  // Before: the open of g waited for the lease break (45 s) and then failed EBADMSG.
  const r = await runTsyd(['run', ...cryptRules(dir), '--', fixture('cryptlease'), dir], { timeoutMs: 25_000 });
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trim().split('\n'), ['lease: taken', 'g: g'], describe(r));
  assert.is(String(decryptFile(`${dir}/f`)), 'f\n');
  assert.is(String(decryptFile(`${dir}/g`)), 'g\n');
});

test.run();
