// What the program's other calls do to a crypt file (README "Crypt sandboxing"): truncate by
// name goes through the buffer, stat by name shows the plaintext's size and the identity of what
// an open gives (cp, mv), rename and link in or out of the crypt globs are EXDEV (mv copies),
// rename between crypt names keeps the content, exec is refused, a symlink reads the plaintext,
// unlink does not come back through a pending write-back.
import { readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';
import { fixture } from '../helpers/fixtures.js';

const MARKER = 'PLAINTEXT-MARKER-c4ll';

/** `sh -c SCRIPT` under tsyd with Crypt on below `dir`; $C is the cryptio fixture. */
async function sh(dir: string, script: string) {
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', script], { env: { C: fixture('cryptio') } });
  return { ...r, out: r.stdout.trim().split('\n') };
}

test('truncate by name goes through the buffer: the file on disk stays the format', async () => {
  const dir = tempTree('crypt-trunc');
  const r = await sh(dir, `$C write ${dir}/f "${MARKER} and more" && truncate -s 9 ${dir}/f && $C read ${dir}/f`);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, MARKER.slice(0, 9));
  assert.is(String(decryptFile(`${dir}/f`)), MARKER.slice(0, 9));
});

test('stat by name: the plaintext size, and the identity fstat of an open fd has (cp works)', async () => {
  const dir = tempTree('crypt-stat');
  const out = tempTree('crypt-stat-out');
  const r = await sh(dir, `$C write ${dir}/f "${MARKER}" && $C size ${dir}/f && stat -c %s ${dir}/f && cp ${dir}/f ${out}/copy && cp ${dir}/f ${dir}/copy2`);
  assert.is(r.code, 0, describe(r));
  assert.is(r.out[0], `stat=${MARKER.length} fstat=${MARKER.length}`);
  assert.is(r.out[1], String(MARKER.length));
  assert.is(readFileSync(`${out}/copy`, 'utf8'), MARKER, 'copied out: plaintext, as the program asked');
  assert.is(String(decryptFile(`${dir}/copy2`)), MARKER, 'copied within: encrypted');
  assert.not.ok(readFileSync(`${dir}/copy2`).includes(MARKER));
});

test('rename: between crypt names kept; in or out of the crypt globs EXDEV, so mv copies through opens', async () => {
  const dir = tempTree('crypt-mv');
  const plain = tempTree('crypt-mv-plain');
  writeFileSync(`${plain}/in`, MARKER);
  const r = await sh(dir, [
    `$C write ${dir}/a "${MARKER}"`,
    `mv ${dir}/a ${dir}/b`,
    `$C read ${dir}/b; echo`,
    `mv ${dir}/b ${plain}/out`,
    `mv ${plain}/in ${dir}/in`,
    `$C read ${dir}/in; echo`,
  ].join(' && '));
  assert.is(r.code, 0, describe(r));
  assert.equal(r.out, [MARKER, MARKER]);
  assert.is(readFileSync(`${plain}/out`, 'utf8'), MARKER, 'moved out: plaintext');
  assert.not.ok(readFileSync(`${dir}/in`).includes(MARKER), 'moved in: encrypted');
  assert.is(String(decryptFile(`${dir}/in`)), MARKER);
});

test('rename(2) across the crypt boundary is EXDEV; a hard link of a crypt file is EXDEV', async () => {
  const dir = tempTree('crypt-exdev');
  const plain = tempTree('crypt-exdev-plain');
  const r = await sh(dir, `$C write ${dir}/a x; python3 -c 'import os,sys
for f in (os.rename, os.link):
  try: f(sys.argv[1], sys.argv[2]); print("ok")
  except OSError as e: print(e.errno)
try: os.link(sys.argv[1], sys.argv[1] + "2"); print("ok")
except OSError as e: print(e.errno)' ${dir}/a ${plain}/a`);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.out, ['18', '18', '18']);
});

test('a directory whose files are crypt by their names (crypt+DIR/**/*.txt) renamed out of it: EXDEV, mv copies', async () => {
  const dir = tempTree('crypt-dirmv');
  const out = tempTree('crypt-dirmv-out');
  const r = await runTsyd(['run', '-p', 'off', '-m', 'sandbox/crypt:on', '-m', `crypt+${dir}/**/*.txt`, '-m', `crypt/key:${'5a'.repeat(32)}`, '--', '/bin/sh', '-c',
    `mkdir ${dir}/sub && echo ${MARKER} > ${dir}/sub/a.txt && python3 -c 'import os,sys
try: os.rename(sys.argv[1], sys.argv[2]); print("renamed")
except OSError as e: print(e.errno)' ${dir}/sub ${out}/sub && mv ${dir}/sub ${out}/sub && cat ${out}/sub/a.txt`]);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trim().split('\n'), ['18', MARKER]);
  assert.is(readFileSync(`${out}/sub/a.txt`, 'utf8'), `${MARKER}\n`, 'moved out: plaintext');
});

test('exec of a crypt file is refused (ciphertext on disk), fexecve of an open one runs its plaintext; a symlink to a crypt file reads the plaintext', async () => {
  const dir = tempTree('crypt-exec');
  const links = tempTree('crypt-links');
  symlinkSync(`${dir}/f`, `${links}/l`);
  const r = await sh(dir, `cp /bin/true ${dir}/t && ${dir}/t; echo "exec=$?"; $C write ${dir}/f "${MARKER}" && cat ${links}/l; echo; cp /bin/echo ${dir}/e && $C fexec ${dir}/e`);
  assert.equal(r.out, ['exec=126', MARKER, 'fexec-ok'], describe(r));
  assert.ok(r.records.some((x) => x.ctx === 'access' && x.cap === 'exec'), 'a warn record');
});

test('the write-back keeps the file\'s mode, a chmod made while it was open too', async () => {
  const dir = tempTree('crypt-mode');
  const r = await sh(dir, `$C write ${dir}/f x && chmod 604 ${dir}/f && $C append ${dir}/f y && exec 3>>${dir}/f && chmod 640 ${dir}/f && echo z >&3`);
  assert.is(r.code, 0, describe(r));
  assert.is((statSync(`${dir}/f`).mode & 0o777).toString(8), '640');
  assert.is(String(decryptFile(`${dir}/f`)), 'xyz\n');
});

test('unlink right after a write: the file stays gone', async () => {
  const dir = tempTree('crypt-rm');
  const r = await sh(dir, `$C write ${dir}/f "${MARKER}" && rm ${dir}/f && ls -A ${dir}`);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, '');
});

test.run();
