// `tsyd crypt encrypt|decrypt`: against the independent implementation (test/helpers/
// crypt-reference.ts) both ways, with files and pipes, and every refusal: a bad tag is exit 1
// with a message and nothing in OUT; a bad key argument is a usage error (125) that never
// quotes the key.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NOBODY, tsydBin } from '../helpers/tsyd.js';
import { referenceDecrypt, referenceEncrypt } from '../helpers/crypt-reference.js';

const key = randomBytes(32);
const KEY = key.toString('hex');
let dir: string;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsyd-crypt-cli-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

interface Ran {
  status: number | null;
  stderr: string;
  out: Buffer;
}

/** tsyd crypt ARGS < IN > OUT with files (stdin/stdout regular files), as a shell would. */
function withFiles(args: string[], input: Buffer, env: NodeJS.ProcessEnv = process.env): Ran {
  writeFileSync(join(dir, 'in'), input);
  const inFd = openSync(join(dir, 'in'), 'r');
  const outFd = openSync(join(dir, 'out'), 'w');
  try {
    const r = spawnSync(process.execPath, [tsydBin, 'crypt', ...args], { stdio: [inFd, outFd, 'pipe'], env });
    return { status: r.status, stderr: r.stderr.toString(), out: readFileSync(join(dir, 'out')) };
  } finally {
    closeSync(inFd);
    closeSync(outFd);
  }
}

/** The same through pipes. */
function withPipes(args: string[], input: Buffer): Ran {
  const r = spawnSync(process.execPath, [tsydBin, 'crypt', ...args], { input, maxBuffer: 64 << 20 });
  return { status: r.status, stderr: r.stderr.toString(), out: r.stdout };
}

for (const [how, run] of [['files', withFiles], ['pipes', withPipes]] as const) {
  test(`encrypt (${how}): the reference decrypts it; decrypt (${how}): what the reference encrypted`, () => {
    for (const size of [0, 1, 100, 300_000]) {
      const plain = randomBytes(size);
      const enc = run(['encrypt', '--key', KEY], plain);
      assert.is(enc.status, 0, enc.stderr);
      assert.ok(referenceDecrypt(key, enc.out)?.equals(plain), `size ${size}`);
      const dec = run(['decrypt', '--key', KEY], referenceEncrypt(key, plain));
      assert.is(dec.status, 0, dec.stderr);
      assert.ok(dec.out.equals(plain), `size ${size}`);
    }
  });
}

test('--key-env NAME and --key=HEX take the key the same way', () => {
  const plain = randomBytes(1000);
  const enc = withFiles(['encrypt', '--key-env', 'TSYD_TEST_KEY'], plain, { ...process.env, TSYD_TEST_KEY: KEY });
  assert.is(enc.status, 0, enc.stderr);
  const dec = withFiles(['decrypt', `--key=${KEY.toUpperCase()}`], enc.out);
  assert.is(dec.status, 0, dec.stderr);
  assert.ok(dec.out.equals(plain));
});

test('a bad tag (each region flipped, truncated, another key): exit 1, a message, OUT empty', () => {
  const plain = Buffer.from('the secret plaintext, '.repeat(50));
  const file = referenceEncrypt(key, plain);
  const cases: Array<[string, Buffer, string]> = [];
  for (const [region, at] of Object.entries({ header: 3, iv: 20, ciphertext: 100, tag: file.length - 5 })) {
    const bad = Buffer.from(file);
    bad[at]! ^= 0x80;
    cases.push([region, bad, KEY]);
  }
  cases.push(['truncated', file.subarray(0, file.length - 1), KEY], ['short', file.subarray(0, 40), KEY], ['empty', Buffer.alloc(0), KEY], ['another key', file, randomBytes(32).toString('hex')]);
  for (const [what, input, k] of cases) {
    for (const r of [withFiles(['decrypt', '--key', k], input), withPipes(['decrypt', '--key', k], input)]) {
      assert.is(r.status, 1, what);
      assert.match(r.stderr, /tag does not verify|not a crypt file/, `${what}: ${r.stderr}`);
      assert.is(r.out.length, 0, `${what}: nothing written`);
    }
  }
});

test('bad key arguments are usage errors (125) that never echo the key', () => {
  const almost = `${KEY.slice(0, 63)}g`;
  const cases: Array<[string[], NodeJS.ProcessEnv?]> = [
    [['decrypt']],
    [['decrypt', '--key']],
    [['decrypt', '--key', almost]],
    [['decrypt', '--key', KEY.slice(0, 62)]],
    [['decrypt', '--key', KEY, '--key-env', 'X']],
    [['decrypt', '--key-env', 'TSYD_NO_SUCH_VAR']],
    [['decrypt', '--key-env', 'TSYD_TEST_KEY'], { ...process.env, TSYD_TEST_KEY: almost }],
    [['frobnicate', '--key', KEY]],
    [['decrypt', '--kee', KEY]],
  ];
  for (const [args, env] of cases) {
    const r = withFiles(args, Buffer.alloc(0), env);
    assert.is(r.status, 125, args.join(' '));
    assert.ok(r.stderr.length > 0);
    assert.not.ok(r.stderr.includes(almost.slice(0, 40)) || r.stderr.includes(KEY.slice(0, 40)), `${args.join(' ')}: key in ${r.stderr}`);
  }
});

test('a key whose page cannot be locked (ulimit -l 0, unprivileged) is not loaded: 125, the reason named, nothing written', () => {
  const r = spawnSync('sh', ['-c', `ulimit -l 0 && exec setpriv --reuid ${NOBODY} --regid ${NOBODY} --clear-groups "$0" "$@"`, process.execPath, tsydBin, 'crypt', 'encrypt', '--key', KEY], { input: 'x' });
  assert.is(r.status, 125, r.stderr.toString());
  assert.match(r.stderr.toString(), /could not be locked: see ulimit -l/);
  assert.is(r.stdout.length, 0);
});

test('tsyd crypt --help prints the usage and exits 0', () => {
  const r = spawnSync(process.execPath, [tsydBin, 'crypt', '--help']);
  assert.is(r.status, 0);
  assert.match(r.stdout.toString(), /tsyd crypt encrypt\|decrypt/);
});

test.run();
