// crypt/tmp's snapshots (O_TMPFILE files, kept unwritten by their mode 0400 only) are never
// written through a reopen of their magic link (README "Crypt sandboxing"): root ignores the
// mode, and the program may fchmod its reader fd.
import { mkdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('as root with crypt/tmp, a reader writes its snapshot through /proc/self/fd/3: refused, other readers and the disk keep the content', async () => {
  const dir = tempTree('crypt-tmp-seal');
  const tmp = `${tempTree('crypt-tmp-seal-buffers')}/t`;
  mkdirSync(tmp);
  const f = `${dir}/f`;
  const r = await runTsyd(['run', ...cryptRules(dir), '-m', `crypt/tmp:${tmp}`, '--', '/bin/sh', '-c',
    `echo original > ${f}; exec 3<${f}; exec 5<${f}; echo HACKED 1<>/proc/self/fd/3 || echo refused; cat <&5; cat ${f}`]);
  // Before: the write went through; the other reader and new readers saw "HACKED\nl".
  assert.equal(r.stdout.trim().split('\n'), ['refused', 'original', 'original'], describe(r));
  assert.is(String(decryptFile(f)), 'original\n');
});

test('the writers\' buffer is written through its magic link as a plain file is (tee /dev/stdout > f; > /proc/self/fd/3), with and without crypt/tmp', async () => {
  for (const buffers of ['memfd', 'crypt/tmp']) {
    const dir = tempTree('crypt-writer-reopen');
    const extra = buffers === 'memfd' ? [] : ['-m', `crypt/tmp:${tempTree('crypt-writer-reopen-buffers')}`];
    const r = await runTsyd(['run', ...cryptRules(dir), ...extra, '--', '/bin/sh', '-c',
      `echo hi | tee /dev/stdout > ${dir}/f; exec 3>${dir}/g; echo via-proc > /proc/self/fd/3; exec 3>&-; cat ${dir}/f ${dir}/g`]);
    // Before: "tee: /dev/stdout: Permission denied", "cannot create /proc/self/fd/3" (EACCES).
    assert.is(r.code, 0, `${buffers}: ${describe(r)}`);
    // As natively: tee's own open of /dev/stdout truncates f and writes at offset 0 too.
    assert.equal(r.stdout.trim().split('\n'), ['hi', 'via-proc'], `${buffers}: ${describe(r)}`);
    assert.is(String(decryptFile(`${dir}/f`)), 'hi\n');
    assert.is(String(decryptFile(`${dir}/g`)), 'via-proc\n');
  }
});

test.run();
