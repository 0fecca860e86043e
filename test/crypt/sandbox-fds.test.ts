// Written content is never lost when tsyd runs short of fds (README "Crypt sandboxing"): a
// write-back that cannot be made for want of fds keeps its buffer and is made again (the
// monitor's loop, the end of the sandbox); idle snapshots go first under that pressure.
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile, KEY } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, tsydBin } from '../helpers/tsyd.js';

test('tsyd limited to 300 fds, the program writes 600 crypt files: each one whose write+close returned 0 is whole', async () => {
  const dir = tempTree('crypt-fds');
  const plain = tempTree('crypt-fds-ok');
  const r = await runNative('/usr/bin/prlimit', ['--nofile=300:300', process.execPath, tsydBin, 'run', ...cryptRules(dir), '--', '/bin/sh', '-c',
    `for i in $(seq 600); do printf "content-$i" > ${dir}/f$i 2>/dev/null && echo $i >> ${plain}/ok; done; exit 0`], { timeoutMs: 180_000 });
  const ok = readFileSync(`${plain}/ok`, 'utf8').trim().split('\n');
  assert.ok(ok.length > 0, describe(r));
  const bad = ok.filter((i) => !existsSync(`${dir}/f${i}`) || String(decryptFile(`${dir}/f${i}`)) !== `content-${i}`);
  assert.equal(bad, [], `${bad.length} of ${ok.length} written files are not whole on disk\n${describe(r)}`);
  assert.is(r.code, 0, describe(r));
  assert.not.ok(r.records.some((rec) => rec.op === 'write_back' || rec.op === 'write_back_lost'), describe(r));
});

test('the write-back jobs of many crypt files closed at once leave tsyd fds of its own: the plain opens meanwhile succeed', async () => {
  // The program holds crypt files open (2 MB each) until tsyd refuses one (its last 64 fds), then
  // all are closed at once (the subshell exits): their write-back jobs (three fds each) are made
  // in one batch while it opens a plain file again and again (tsyd opens it first).
  const dir = tempTree('crypt-fds-batch');
  const plain = tempTree('crypt-fds-batch-plain');
  const r = await runNative('/usr/bin/prlimit', ['--nofile=300:300', process.execPath, tsydBin, 'run', ...cryptRules(dir), '--', '/bin/bash', '-c',
    `(i=0; while exec {fd}>${dir}/f$i; do head -c 2000000 /dev/zero >&$fd; i=$((i+1)); done 2>/dev/null; echo held=$i)
for j in $(seq 1000); do echo x 2>/dev/null > ${plain}/p || echo failed=$j; done; exit 0`], { timeoutMs: 120_000 });
  assert.match(r.stdout, /held=[1-9]/, describe(r));
  assert.not.match(r.stdout, /failed/, describe(r));
  assert.is(r.code, 0, describe(r));
});

test('a write-back that can never be made (no inode left): an error record per lost file and tsyd exits 101', async () => {
  // A tmpfs of 8 inodes in a mount namespace of its own; the program holds the crypt file c/f open
  // while it fills every inode left with plain files, then closes it: its write-back's O_TMPFILE
  // cannot be made, ever.
  const mnt = tempTree('crypt-enospc');
  const rules = cryptRules(`${mnt}/c`).map((a) => `'${a}'`).join(' ');
  const r = await runNative('/usr/bin/unshare', ['-rm', '/bin/sh', '-c', `mount -t tmpfs -o size=1m,nr_inodes=8 none ${mnt} && mkdir ${mnt}/c ${mnt}/p || exit 9
${process.execPath} ${tsydBin} run ${rules} -- /bin/sh -c 'exec 3>${mnt}/c/f && echo written >&3 && i=0 && while true > ${mnt}/p/$i 2>/dev/null; do i=$((i+1)); done; exec 3>&- && echo closed; exit 0'; echo tsyd=$?
echo "f=$(${process.execPath} ${tsydBin} crypt decrypt --key ${KEY} < ${mnt}/c/f 2>/dev/null; echo rc=$?)"`], { timeoutMs: 60_000 });
  const lost = r.records.filter((rec) => rec.op === 'write_back_lost');
  assert.equal(r.stdout.trim().split('\n'), ['closed', 'tsyd=101', 'f=rc=1'], describe(r));
  assert.equal(lost.map((rec) => [rec.name, rec.err, rec.level]), [['f', 28, 'error']], describe(r));
});

test('a write-back that fails in the AES worker for want of space is retried: it lands once space is freed', async () => {
  // A tmpfs of 64 KiB: the program holds crypt file c/f open, writes 20000 bytes, fills the space
  // with a plain file, closes c/f (its ciphertext cannot be written), then frees the space.
  const mnt = tempTree('crypt-enospc-blocks');
  const rules = cryptRules(`${mnt}/c`).map((a) => `'${a}'`).join(' ');
  const r = await runNative('/usr/bin/unshare', ['-rm', '/bin/sh', '-c', `mount -t tmpfs -o size=64k none ${mnt} && mkdir ${mnt}/c ${mnt}/p || exit 9
${process.execPath} ${tsydBin} run ${rules} -- /bin/sh -c 'exec 3>${mnt}/c/f && head -c 20000 /dev/zero | tr "\\0" x >&3 && cat /dev/zero > ${mnt}/p/fill 2>/dev/null; exec 3>&- && echo closed && sleep 1 && rm ${mnt}/p/fill; exit 0'; echo tsyd=$?
echo "f=$(${process.execPath} ${tsydBin} crypt decrypt --key ${KEY} < ${mnt}/c/f | wc -c)"`], { timeoutMs: 60_000 });
  assert.equal(r.stdout.trim().split('\n'), ['closed', 'tsyd=0', 'f=20000'], describe(r));
  assert.not.ok(r.records.some((rec) => rec.level === 'error'), describe(r));
});

test.run();
