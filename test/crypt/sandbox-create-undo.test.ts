// An open that creates a crypt file but cannot give the program its fd (its fd table is full)
// creates nothing (README "Crypt sandboxing"): the new file is made unnamed and named only once
// the program has its fd, so tsyd never removes a name again (a file an outsider renamed onto
// the name meanwhile was removed).
import { watch } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules } from '../helpers/crypt-sandbox.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('200 creating opens that fail EMFILE: the name never appears in the directory (nothing to remove)', async () => {
  const dir = tempTree('crypt-create-undo');
  const seen: string[] = [];
  const watcher = watch(dir, (kind, name) => seen.push(`${kind} ${name}`));
  const r = await runTsyd(['run', ...cryptRules(dir), '--', fixture('cryptfullcreate'), `${dir}/n`, '200']).finally(() => new Promise((done) => setTimeout(done, 200)).then(() => watcher.close()));
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.trim(), 'emfile=200 other=0', describe(r));
  // Before: each open created n and removed it again by name (after an inode check a rename could beat).
  assert.equal(seen.filter((s) => s.endsWith(' n')), [], seen.slice(0, 4).join(', '));
});

test.run();
