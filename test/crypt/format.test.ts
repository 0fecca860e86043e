// The crypt file format (addon/crypt.cc) against an independent implementation with Node's
// crypto (test/helpers/crypt-reference.ts), both ways, and every way a file can be bad.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { constants as os, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../src/native/addon.js';
import { repoRoot } from '../helpers/fixtures.js';
import { HEADER_LEN, IV_LEN, TAG_LEN, referenceDecrypt, referenceEncrypt } from '../helpers/crypt-reference.js';

const { EBADMSG, EBADF, EINVAL } = os.errno;
const SIZES = [0, 1, 15, 16, 17, 4096, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 17, 1024 * 1024 + 5];

let dir: string;
const key = randomBytes(32);
let handle: number;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsyd-crypt-format-'));
  handle = native.cryptKeyLoad(Buffer.from(key));
});
test.after(() => {
  native.cryptKeyDrop(handle);
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `op` from a file holding `input` into a fresh file: [result, output bytes]. */
function through(op: (src: number, dst: number) => number, input: Buffer): [number, Buffer] {
  writeFileSync(join(dir, 'in'), input);
  const src = openSync(join(dir, 'in'), 'r');
  const dst = openSync(join(dir, 'out'), 'w+');
  try {
    return [op(src, dst), readFileSync(join(dir, 'out'))];
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}
const encrypt = (plain: Buffer, h = handle) => through((s, d) => native.cryptEncrypt(h, s, d), plain);
const decrypt = (file: Buffer, h = handle) => through((s, d) => native.cryptDecrypt(h, s, d), file);

test('cryptKeyLoad wipes the key it is given; a key of another length is EINVAL', () => {
  const k = randomBytes(32);
  const h = native.cryptKeyLoad(k);
  assert.ok(h >= 0);
  assert.ok(k.every((b) => b === 0), 'the key buffer is zero-filled');
  native.cryptKeyDrop(h);
  const short = randomBytes(16);
  assert.is(native.cryptKeyLoad(short), -EINVAL);
  assert.ok(short.every((b) => b === 0));
});

test('what tsyd encrypts, the reference decrypts (every size around the chunk and block edges)', () => {
  for (const size of SIZES) {
    const plain = randomBytes(size);
    const [written, file] = encrypt(plain);
    assert.is(written, size + HEADER_LEN + IV_LEN + TAG_LEN, `size ${size}`);
    assert.is(file.length, written);
    assert.ok(referenceDecrypt(key, file)?.equals(plain), `size ${size}`);
  }
});

test('what the reference encrypts, tsyd decrypts', () => {
  for (const size of SIZES) {
    const plain = randomBytes(size);
    const [size2, out] = decrypt(referenceEncrypt(key, plain));
    assert.is(size2, size);
    assert.ok(out.equals(plain), `size ${size}`);
  }
});

test('each write-back has a fresh IV: the same plaintext encrypts differently', () => {
  const plain = Buffer.alloc(64, 7);
  const a = encrypt(plain)[1];
  const b = encrypt(plain)[1];
  assert.not.ok(a.subarray(HEADER_LEN, HEADER_LEN + IV_LEN).equals(b.subarray(HEADER_LEN, HEADER_LEN + IV_LEN)));
  assert.not.ok(a.includes(plain.subarray(0, 16)));
});

test('a 0-byte file is EBADMSG like any file shorter than 64 bytes (truncated: never released as empty)', () => {
  assert.equal(decrypt(Buffer.alloc(0)), [-EBADMSG, Buffer.alloc(0)]);
});

test('a flipped bit in each region (magic, version, reserved, IV, ciphertext, tag) is EBADMSG, nothing left in dst', () => {
  const plain = randomBytes(1000);
  const file = referenceEncrypt(key, plain);
  const at = { magic: 0, version: 8, reserved: 12, iv: HEADER_LEN + 3, ciphertext: HEADER_LEN + IV_LEN + 500, tag: file.length - 1 };
  for (const [region, offset] of Object.entries(at)) {
    const bad = Buffer.from(file);
    bad[offset]! ^= 1;
    const [rc, out] = decrypt(bad);
    assert.is(rc, -EBADMSG, region);
    assert.is(out.length, 0, `${region}: dst truncated`);
  }
});

test('truncation (anywhere, down to a header only) and extra bytes are EBADMSG', () => {
  const file = referenceEncrypt(key, randomBytes(300));
  for (const len of [1, 16, 32, 63, 64, file.length - 32, file.length - 1]) assert.is(decrypt(file.subarray(0, len))[0], -EBADMSG, `length ${len}`);
  assert.is(decrypt(Buffer.concat([file, Buffer.of(0)]))[0], -EBADMSG);
});

test('another key is EBADMSG', () => {
  const other = native.cryptKeyLoad(randomBytes(32));
  const [rc, out] = decrypt(referenceEncrypt(key, randomBytes(100)), other);
  native.cryptKeyDrop(other);
  assert.is(rc, -EBADMSG);
  assert.is(out.length, 0);
});

test('a dropped or unknown handle is EBADF', () => {
  const h = native.cryptKeyLoad(randomBytes(32));
  assert.is(native.cryptKeyDrop(h), 0);
  assert.is(encrypt(Buffer.alloc(10), h)[0], -EBADF);
  assert.is(native.cryptKeyDrop(h), -EBADF);
  assert.is(decrypt(Buffer.alloc(100), 1e6)[0], -EBADF);
});

test("pread only: the source's offset does not move", () => {
  writeFileSync(join(dir, 'in'), randomBytes(5000));
  const src = openSync(join(dir, 'in'), 'r');
  readSync(src, Buffer.alloc(10));
  const dst = openSync(join(dir, 'out'), 'w+');
  native.cryptEncrypt(handle, src, dst);
  const rest = Buffer.alloc(5000);
  assert.is(readSync(src, rest), 4990, 'reads on from offset 10');
  assert.is(fstatSync(dst).size, 5000 + 64);
  closeSync(src);
  closeSync(dst);
});

test('memfd and O_TMPFILE ends (the sandbox buffers, crypt/tmp): a round trip, and a bad file truncates the O_TMPFILE to 0', () => {
  const plain = randomBytes(700_000);
  const memfd = native.cryptMemfd();
  writeSync(memfd, plain);
  const tmp = openSync(dir, 0o20200000 | constants.O_RDWR, 0o600); // O_TMPFILE
  const enc = native.cryptMemfd();
  assert.is(native.cryptEncrypt(handle, memfd, enc), plain.length + 64);
  assert.is(native.cryptDecrypt(handle, enc, tmp), plain.length);
  const back = Buffer.alloc(plain.length);
  assert.is(readSync(tmp, back, 0, back.length, 0), plain.length);
  assert.ok(back.equals(plain));
  writeSync(enc, Buffer.of(0xff), 0, 1, 100);
  assert.is(native.cryptDecrypt(handle, enc, tmp), -EBADMSG);
  assert.is(fstatSync(tmp).size, 0);
  for (const fd of [memfd, tmp, enc]) closeSync(fd);
});

test('one handle from 4 threads at once, dropped while they run: every result right, then EBADF', async () => {
  const h = native.cryptKeyLoad(Buffer.from(key));
  const threads = Array.from({ length: 4 }, (_, t) =>
    new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const fs = require('node:fs');
       const native = require(${JSON.stringify(join(repoRoot, 'build/Release/tsyd.node'))});
       const { h, t, dir } = workerData;
       const plain = Buffer.alloc(300000 + t, 'p' + t);
       const src = native.cryptMemfd(), enc = native.cryptMemfd(), dec = native.cryptMemfd();
       fs.writeSync(src, plain);
       let ok = 0, badf = 0;
       for (let i = 0; i < 40; i++) {
         const e = native.cryptEncrypt(h, src, enc);
         if (e === -9) { badf++; continue; }
         const d = native.cryptDecrypt(h, enc, dec);
         if (d === -9) { badf++; continue; }
         const out = Buffer.alloc(d);
         fs.readSync(dec, out, 0, d, 0);
         if (e === plain.length + 64 && d === plain.length && out.equals(plain)) ok++;
         if (i === 0) parentPort.postMessage('started');
       }
       parentPort.postMessage({ ok, badf });`,
      { eval: true, workerData: { h, t, dir } },
    ),
  );
  // Listening from the start: a thread may be done before the drop.
  const started = threads.map((w) => new Promise((r) => w.once('message', r)));
  const done = threads.map((w) => new Promise<{ ok: number; badf: number }>((r) => w.on('message', (m) => m !== 'started' && r(m))));
  await Promise.all(started);
  assert.is(native.cryptKeyDrop(h), 0, 'dropped while in use');
  const results = await Promise.all(done);
  for (const r of results) assert.is(r.ok + r.badf, 40, JSON.stringify(results));
  assert.ok(results.every((r) => r.ok >= 1));
});

test.run();
