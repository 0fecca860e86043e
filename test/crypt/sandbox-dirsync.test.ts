// A write-back's rename is made durable (README "Crypt sandboxing"): the directory is fsynced after
// it, through a descriptor that can be synced (an O_PATH one gives EBADF).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { tsydBin } from '../helpers/tsyd.js';

test('echo a > f: every fsync tsyd makes succeeds (the file and its directory), f lands', () => {
  const dir = tempTree('crypt-dirsync');
  const trace = `${dir}.strace`;
  execFileSync('strace', ['-f', '-qq', '-e', 'trace=fsync', '-o', trace, process.execPath, tsydBin, 'run', ...cryptRules(dir), '--', '/bin/sh', '-c', `echo a > ${dir}/f`], { timeout: 60_000 });
  // Every fsync's result: a whole line "fsync(N) = R", or the "<... fsync resumed>) = R" of one
  // strace split because another thread ran meanwhile ("fsync(N <unfinished ...>").
  const fsyncs = readFileSync(trace, 'utf8').split('\n').filter((l) => /fsync\(\d+\)|fsync resumed/.test(l));
  // Before: the directory's fsync was "-1 EBADF" (its fd was O_PATH), and ignored.
  assert.ok(fsyncs.length >= 2, fsyncs.join('\n'));
  assert.equal(fsyncs.filter((l) => !/= 0$/.test(l)), [], fsyncs.join('\n'));
  assert.is(String(decryptFile(`${dir}/f`)), 'a\n');
});

test.run();
