// Crypt sandboxing under tsyd (real kernel, test/fixtures/cryptio.c): a program reads and writes
// crypt files as plaintext with every ordinary access pattern; on disk they are the format, and
// a file that does not verify is never released (EBADMSG, one warn record ctx:"crypt").
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptio, cryptRules, decryptFile, KEY, OTHER_KEY } from '../helpers/crypt-sandbox.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree, ownTree } from '../helpers/tmp.js';
import { describe, NOBODY, runTsyd } from '../helpers/tsyd.js';

const MARKER = 'PLAINTEXT-MARKER-7f3a';
const EBADMSG = 74;
const EOPNOTSUPP = 95;

async function ok(dir: string, args: string[], opts: Parameters<typeof cryptio>[2] = {}): Promise<string> {
  const r = await cryptio(dir, args, opts);
  assert.is(r.code, 0, describe(r));
  return r.stdout;
}

test('create+write+close, O_APPEND, O_RDWR seek and partial overwrite, mmap, ftruncate: plaintext to the program, the format on disk', async () => {
  const dir = tempTree('crypt-open');
  const f = `${dir}/notes`;
  await ok(dir, ['write', f, `hello ${MARKER}`]);
  assert.not.ok(readFileSync(f).includes(MARKER), 'no plaintext on disk');
  assert.ok(readFileSync(f).subarray(0, 8).equals(Buffer.from('TSYDCRPT')), 'the format');
  assert.is(String(decryptFile(f)), `hello ${MARKER}`, 'decrypts outside tsyd');
  const cli = await runTsyd(['crypt', 'decrypt', '--key', KEY], { input: readFileSync(f) });
  assert.is(cli.stdout, `hello ${MARKER}`, `tsyd crypt decrypt recovers it: ${describe(cli)}`);
  assert.is(await ok(dir, ['read', f]), `hello ${MARKER}`);
  await ok(dir, ['append', f, ' more']);
  assert.is(await ok(dir, ['read', f]), `hello ${MARKER} more`);
  await ok(dir, ['patch', f, '0', 'HELLO']);
  assert.is(await ok(dir, ['read', f]), `HELLO ${MARKER} more`);
  await ok(dir, ['mmap', f, '6', 'plaintext']);
  assert.is(await ok(dir, ['read', f]), `HELLO plaintext-MARKER-7f3a more`);
  await ok(dir, ['ftruncate', f, '5']);
  assert.is(await ok(dir, ['read', f]), 'HELLO');
  await ok(dir, ['write', f, 'short']);
  assert.is(String(decryptFile(f)), 'short', 'O_TRUNC');
  assert.not.ok(readFileSync(f).includes(MARKER));
});

test('a flipped byte and a wrong key: EBADMSG and one warn record ctx:"crypt"', async () => {
  const dir = tempTree('crypt-bad');
  const f = `${dir}/f`;
  await ok(dir, ['write', f, MARKER]);
  const wrong = await cryptio(dir, ['read', f], { key: OTHER_KEY });
  assert.is(wrong.code, 1, describe(wrong));
  assert.match(wrong.stdout, `errno=${EBADMSG}`);
  assert.is(wrong.records.filter((r) => r.ctx === 'crypt' && r.level === 'warn').length, 1, describe(wrong));
  assert.not.ok(wrong.stdout.includes(MARKER));
  const bytes = readFileSync(f);
  bytes[bytes.length - 40]! ^= 1;
  writeFileSync(f, bytes);
  const flipped = await cryptio(dir, ['read', f]);
  assert.match(flipped.stdout, `errno=${EBADMSG}`);
  assert.is(flipped.records.filter((r) => r.ctx === 'crypt' && r.level === 'warn').length, 1, describe(flipped));
  assert.not.ok(flipped.stdout.includes(MARKER));
  const plain = `${dir}/plain`;
  writeFileSync(plain, MARKER);
  const notFormat = await cryptio(dir, ['read', plain]);
  assert.match(notFormat.stdout, `errno=${EBADMSG}`, 'a plaintext file at a crypt path is not handed out either');
});

test('a crypt file truncated to 0 bytes outside is EBADMSG; a file the program creates is empty from its first open', async () => {
  const dir = tempTree('crypt-empty');
  await ok(dir, ['write', `${dir}/f`, MARKER]);
  writeFileSync(`${dir}/f`, '');
  const truncated = await cryptio(dir, ['read', `${dir}/f`]);
  assert.match(truncated.stdout, `errno=${EBADMSG}`, describe(truncated));
  assert.is(truncated.records.filter((r) => r.ctx === 'crypt' && r.level === 'warn').length, 1, describe(truncated));
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c',
    `python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o644)); print(len(open(sys.argv[1]).read()))' ${dir}/ro && : > ${dir}/w && wc -c < ${dir}/w && exec 3>${dir}/open && wc -c < ${dir}/open`]);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trim().split('\n'), ['0', '0', '0']);
  for (const name of ['ro', 'w', 'open']) assert.is(String(decryptFile(`${dir}/${name}`)), '', `${name} is written back as the format`);
});

test('32 files written concurrently by 8 threads', async () => {
  const dir = tempTree('crypt-threads');
  assert.is((await ok(dir, ['threads', dir])).trim(), 'ok');
  for (let i = 0; i < 32; i++) {
    const plain = decryptFile(`${dir}/f${i}`);
    assert.ok(Buffer.isBuffer(plain), `f${i}: ${String(plain)}`);
    assert.is(String(plain), `file-${i}-`.repeat(1000), `f${i}`);
  }
});

test('4 processes appending 50 times each: every append is there, read inside the sandbox right after', async () => {
  const dir = tempTree('crypt-appenders');
  const f = `${dir}/f`;
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c',
    `for j in a b c d; do (for i in $(seq 1 50); do $C append ${f} "$j$i,"; done) & done; wait; $C read ${f}`], { env: { C: fixture('cryptio') }, timeoutMs: 120_000 });
  assert.is(r.code, 0, describe(r));
  const seen = r.stdout.split(',').filter((x) => x !== '');
  assert.is(seen.length, 200, r.stdout);
  assert.is(new Set(seen).size, 200);
  assert.is(String(decryptFile(f)).split(',').filter((x) => x !== '').length, 200);
});

test('O_TMPFILE in a crypt directory: EOPNOTSUPP (its plaintext would be on disk)', async () => {
  const dir = tempTree('crypt-tmpfile');
  const out = await cryptio(dir, ['openflags', dir, String((0o20200000 | 2).toString(8))]);
  assert.match(out.stdout, `errno=${EOPNOTSUPP}`, describe(out));
});

test('crypt/tmp DIR: the buffers are O_TMPFILE files there; the round trip is the same', async () => {
  const dir = tempTree('crypt-tmpdir');
  const bufs = tempTree('crypt-bufs');
  await ok(dir, ['write', `${dir}/f`, MARKER], { extra: ['-m', `crypt/tmp:${bufs}`] });
  assert.is(await ok(dir, ['read', `${dir}/f`], { extra: ['-m', `crypt/tmp:${bufs}`] }), MARKER);
  assert.not.ok(readFileSync(`${dir}/f`).includes(MARKER));
});

test('as an unprivileged user (nobody)', async () => {
  const dir = tempTree('crypt-nobody');
  chmodSync(dir, 0o755);
  ownTree(dir, NOBODY);
  await ok(dir, ['write', `${dir}/f`, MARKER], { user: NOBODY });
  await ok(dir, ['append', `${dir}/f`, '+'], { user: NOBODY });
  assert.is(await ok(dir, ['read', `${dir}/f`], { user: NOBODY }), `${MARKER}+`);
  assert.not.ok(readFileSync(`${dir}/f`).includes(MARKER));
  assert.is(statSync(`${dir}/f`).uid, NOBODY);
});

test('a create open the program gets no fd of (its fd table is full: EMFILE) leaves no file, as natively', async () => {
  const dir = tempTree('crypt-open-full');
  // O_WRONLY|O_CREAT, O_RDWR|O_CREAT|O_TRUNC, O_RDONLY|O_CREAT (octal)
  for (const flags of ['101', '1102', '100']) {
    const r = await cryptio(dir, ['fullopen', `${dir}/new${flags}`, flags]);
    assert.is(r.stdout, 'open errno=24\nexists=0\n', `${flags}: ${describe(r)}`);
    assert.is(r.code, 0, describe(r));
  }
  assert.equal(readdirSync(dir), [], 'nothing created on disk');
});

test.run();
