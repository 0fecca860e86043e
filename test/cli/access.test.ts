// Path access decisions for the open family: EACCES in the program, exactly one warn record per
// denial, decided on the canonical path (symlinks, `..`, dirfd and cwd resolved).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, existsSync, symlinkSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, type RunOptions, type RunResult } from '../helpers/tsyd.js';

const dir = tempTree('access', {
  'allowed.txt': 'ALLOWED',
  'secret.txt': 'SECRET',
  'secret.txt.bak': 'BACKUP',
  'subway.txt': 'SUBWAY',
  'sub/x.txt': 'SUBX',
  'sub/a/c.txt': 'SUBAC',
  'deep/secret.txt': 'DEEPSECRET',
  'deep/inner/keep.txt': 'KEEP',
});
// Plain concatenation: path.join would resolve `..` lexically before tsyd sees it.
const p = (rel: string): string => `${dir}/${rel}`;
const secret = p('secret.txt');
const allowed = p('allowed.txt');
symlinkSync('secret.txt', p('link-to-secret'));
symlinkSync('link-to-secret', p('link-chain'));
symlinkSync(allowed, p('link-to-allowed'));
symlinkSync(p('sub'), p('alias')); // a symlinked directory
symlinkSync('deep/inner', p('jump')); // jump/.. is deep, not dir: `..` is not lexical
mkdirSync(p('out'), { mode: 0o755 });

/** -m flags for each rule. */
const rules = (...list: string[]): string[] => list.flatMap((r) => ['-m', r]);
const readPolicy = (...extra: string[]): string[] =>
  rules('sandbox/read:on', 'allow/read+/***', `deny/read+${secret}`, ...extra);
const writePolicy = rules('sandbox/write:on', `allow/write+${p('out')}/***`);

async function run(policy: string[], prog: string, args: string[], opts?: RunOptions): Promise<RunResult> {
  return runTsyd(['run', '-p', 'none', ...policy, '--', fixture(prog), ...args], opts);
}

/** The fixture's stdout without its leading "pid=N" line, and N. */
function split(r: RunResult): { pid: number; out: string } {
  const m = /^pid=(\d+)\n/.exec(r.stdout);
  assert.ok(m, `stdout starts with pid=N: ${describe(r)}`);
  return { pid: Number(m[1]), out: r.stdout.slice(m[0].length) };
}

function expectContent(r: RunResult, content: string): void {
  assert.is(r.code, 0, describe(r));
  assert.is(split(r).out, content, describe(r));
  assert.equal(r.records, [], 'an allowed open logs nothing');
}

function expectDenied(r: RunResult, want: { cap: string; path: string; sys: string }): void {
  const { pid, out } = split(r);
  assert.is(out, 'err errno=13\n', describe(r));
  assert.is(r.code, 1, describe(r));
  assert.is(r.records.length, 1, `exactly one log record: ${r.stderr}`);
  const rec = r.records[0] ?? {};
  assert.is(rec['level'], 'warn', r.stderr);
  assert.is(rec['ctx'], 'access', r.stderr);
  assert.is(rec['cap'], want.cap, r.stderr);
  assert.is(rec['path'], want.path, r.stderr);
  assert.is(rec['sys'], want.sys, r.stderr);
  assert.is(rec['pid'], pid, r.stderr);
}

// --- no policy -----------------------------------------------------------------------------------

test('without rules everything is allowed', async () => {
  expectContent(await run([], 'readfile', ['-p', secret]), 'SECRET');
  const r = await run([], 'writefile', ['-p', p('out/free.txt'), 'free']);
  assert.is(split(r).out, 'ok bytes=4\n', describe(r));
  assert.is(readFileSync(p('out/free.txt'), 'utf8'), 'free');
});

// --- read ----------------------------------------------------------------------------------------

test('read: an allowed file is read, a denied one gives EACCES and one record', async () => {
  expectContent(await run(readPolicy(), 'readfile', ['-p', allowed]), 'ALLOWED');
  expectDenied(await run(readPolicy(), 'readfile', ['-p', secret]), { cap: 'read', path: secret, sys: 'openat' });
});

for (const sys of ['open', 'openat', 'openat2']) {
  test(`read through the ${sys} system call is decided`, async () => {
    expectContent(await run(readPolicy(), 'readfile', ['-p', '-s', sys, allowed]), 'ALLOWED');
    expectDenied(await run(readPolicy(), 'readfile', ['-p', '-s', sys, secret]), { cap: 'read', path: secret, sys });
  });
}

test('O_RDWR needs read: a denied read of an O_RDWR open is logged as read', async () => {
  expectDenied(await run(readPolicy(), 'readfile', ['-p', '-m', 'rdwr', secret]), {
    cap: 'read',
    path: secret,
    sys: 'openat',
  });
});

test('a capability that is on denies what no rule allows', async () => {
  // The dynamic loader needs ld.so.cache and libc; nothing in the test dir but allowed.txt is allowed.
  const policy = rules(
    'sandbox/read:on',
    'allow/read+/usr/***',
    'allow/read+/lib/***',
    'allow/read+/lib64/***',
    'allow/read+/etc/ld.so.cache',
    `allow/read+${allowed}`,
  );
  expectContent(await run(policy, 'readfile', ['-p', allowed]), 'ALLOWED');
  expectDenied(await run(policy, 'readfile', ['-p', secret]), { cap: 'read', path: secret, sys: 'openat' });
  expectDenied(await run(policy, 'readfile', ['-p', p('sub/x.txt')]), { cap: 'read', path: p('sub/x.txt'), sys: 'openat' });
});

// --- write ---------------------------------------------------------------------------------------

for (const sys of ['libc', 'open', 'openat', 'openat2', 'creat']) {
  const name = sys === 'libc' ? 'openat' : sys;
  test(`write through ${sys}: allowed under out/, denied elsewhere and the file is untouched`, async () => {
    const target = p(`out/${sys}.txt`);
    const ok = await run(writePolicy, 'writefile', ['-p', '-s', sys, target, `via ${sys}`]);
    assert.is(split(ok).out, `ok bytes=${4 + sys.length}\n`, describe(ok));
    assert.equal(ok.records, []);
    assert.is(readFileSync(target, 'utf8'), `via ${sys}`);

    const denied = await run(writePolicy, 'writefile', ['-p', '-s', sys, allowed, 'CLOBBERED']);
    expectDenied(denied, { cap: 'write', path: allowed, sys: name });
    assert.is(readFileSync(allowed, 'utf8'), 'ALLOWED', 'the denied open did not truncate or write');
  });
}

test('write: a denied O_CREAT does not create the file', async () => {
  const target = p(`never-created.txt`);
  const r = await run(writePolicy, 'writefile', ['-p', target, 'x']);
  assert.is(split(r).out, 'err errno=13\n', describe(r));
  assert.is(r.records.length, 1, r.stderr);
  assert.is(r.records[0]?.['path'], target);
  assert.not.ok(existsSync(target), 'file was not created');
});

test('O_RDWR needs write: denied by the write policy, logged as write', async () => {
  expectDenied(await run(writePolicy, 'readfile', ['-p', '-m', 'rdwr', allowed]), {
    cap: 'write',
    path: allowed,
    sys: 'openat',
  });
});

test('read-only opens are not subject to the write capability', async () => {
  expectContent(await run(writePolicy, 'readfile', ['-p', allowed]), 'ALLOWED');
});

// --- canonical paths -----------------------------------------------------------------------------

test('a symlink to a denied file is denied; the record names the target', async () => {
  for (const link of ['link-to-secret', 'link-chain']) {
    expectDenied(await run(readPolicy(), 'readfile', ['-p', p(link)]), { cap: 'read', path: secret, sys: 'openat' });
  }
  expectContent(await run(readPolicy(), 'readfile', ['-p', p('link-to-allowed')]), 'ALLOWED');
});

test('a path through a symlinked directory is denied by its canonical path', async () => {
  const policy = readPolicy(`deny/read+${p('sub/x.txt')}`);
  expectDenied(await run(policy, 'readfile', ['-p', p('alias/x.txt')]), { cap: 'read', path: p('sub/x.txt'), sys: 'openat' });
});

test('`..`, `.` and repeated slashes are resolved', async () => {
  for (const path of [
    p('sub/../secret.txt'),
    p('sub/./../sub/a/../../secret.txt'),
    `${dir}//sub///..//./secret.txt`,
    p('alias/../secret.txt'),
  ]) {
    expectDenied(await run(readPolicy(), 'readfile', ['-p', path]), { cap: 'read', path: secret, sys: 'openat' });
  }
});

test('`..` after a symlink goes up from the target, not lexically', async () => {
  // jump -> deep/inner, so jump/../secret.txt is deep/secret.txt.
  const deepSecret = p('deep/secret.txt');
  const denyDeep = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${deepSecret}`);
  expectDenied(await run(denyDeep, 'readfile', ['-p', p('jump/../secret.txt')]), {
    cap: 'read',
    path: deepSecret,
    sys: 'openat',
  });
  // The other way round: the lexical reading (dir/secret.txt) is denied, the real file is not.
  expectContent(await run(readPolicy(), 'readfile', ['-p', p('jump/../secret.txt')]), 'DEEPSECRET');
});

test('relative paths are resolved against the program cwd', async () => {
  for (const path of ['secret.txt', './sub/../secret.txt', 'link-to-secret']) {
    expectDenied(await run(readPolicy(), 'readfile', ['-p', path], { cwd: dir }), {
      cap: 'read',
      path: secret,
      sys: 'openat',
    });
  }
  expectContent(await run(readPolicy(), 'readfile', ['-p', 'allowed.txt'], { cwd: dir }), 'ALLOWED');
  expectDenied(await run(readPolicy(), 'readfile', ['-p', '../secret.txt'], { cwd: p('sub') }), {
    cap: 'read',
    path: secret,
    sys: 'openat',
  });
});

for (const sys of ['libc', 'openat', 'openat2']) {
  const name = sys === 'libc' ? 'openat' : sys;
  test(`dirfd-relative opens (${sys}) are resolved against the directory fd`, async () => {
    const args = (d: string, n: string): string[] => ['-p', '-s', sys, d, n];
    expectContent(await run(readPolicy(), 'dirfd', args(dir, 'allowed.txt')), 'ALLOWED');
    expectDenied(await run(readPolicy(), 'dirfd', args(dir, 'secret.txt')), { cap: 'read', path: secret, sys: name });
    expectDenied(await run(readPolicy(), 'dirfd', args(p('sub'), '../secret.txt')), { cap: 'read', path: secret, sys: name });
    expectDenied(await run(readPolicy(), 'dirfd', args(p('sub'), secret)), { cap: 'read', path: secret, sys: name });
    expectDenied(await run(readPolicy(), 'dirfd', args(dir, 'link-to-secret')), { cap: 'read', path: secret, sys: name });
    // A directory opened through a symlink is the target directory.
    expectContent(await run(readPolicy(), 'dirfd', args(p('jump'), '../secret.txt')), 'DEEPSECRET');
  });
}

// --- rule order and globs ------------------------------------------------------------------------

test('the last matching rule wins', async () => {
  const carveOut = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/***`, `allow/read+${allowed}`);
  expectContent(await run(carveOut, 'readfile', ['-p', allowed]), 'ALLOWED');
  expectDenied(await run(carveOut, 'readfile', ['-p', secret]), { cap: 'read', path: secret, sys: 'openat' });

  const overridden = rules('sandbox/read:on', 'allow/read+/***', `allow/read+${allowed}`, `deny/read+${dir}/***`);
  expectDenied(await run(overridden, 'readfile', ['-p', allowed]), { cap: 'read', path: allowed, sys: 'openat' });

  const denyThenAllow = rules('sandbox/read:on', `deny/read+${secret}`, 'allow/read+/***');
  expectContent(await run(denyThenAllow, 'readfile', ['-p', secret]), 'SECRET');
});

test('a rule without glob characters matches that path only', async () => {
  expectContent(await run(readPolicy(), 'readfile', ['-p', p('secret.txt.bak')]), 'BACKUP');
});

test('glob `*` matches within one component only', async () => {
  const policy = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/*.txt`);
  expectDenied(await run(policy, 'readfile', ['-p', secret]), { cap: 'read', path: secret, sys: 'openat' });
  expectDenied(await run(policy, 'readfile', ['-p', allowed]), { cap: 'read', path: allowed, sys: 'openat' });
  expectContent(await run(policy, 'readfile', ['-p', p('sub/x.txt')]), 'SUBX');
  expectContent(await run(policy, 'readfile', ['-p', p('secret.txt.bak')]), 'BACKUP');

  const subStar = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/sub/*`);
  expectDenied(await run(subStar, 'readfile', ['-p', p('sub/x.txt')]), { cap: 'read', path: p('sub/x.txt'), sys: 'openat' });
  expectContent(await run(subStar, 'readfile', ['-p', p('sub/a/c.txt')]), 'SUBAC');
});

test('glob `?` matches one character but never `/`', async () => {
  const policy = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/secre?.txt`, `deny/read+${dir}/sub?x.txt`);
  expectDenied(await run(policy, 'readfile', ['-p', secret]), { cap: 'read', path: secret, sys: 'openat' });
  expectContent(await run(policy, 'readfile', ['-p', p('sub/x.txt')]), 'SUBX');
});

test('glob `**` matches across `/`', async () => {
  const policy = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/sub/**`);
  expectDenied(await run(policy, 'readfile', ['-p', p('sub/x.txt')]), { cap: 'read', path: p('sub/x.txt'), sys: 'openat' });
  expectDenied(await run(policy, 'readfile', ['-p', p('sub/a/c.txt')]), { cap: 'read', path: p('sub/a/c.txt'), sys: 'openat' });
  expectContent(await run(policy, 'readfile', ['-p', allowed]), 'ALLOWED');
});

test('a trailing `/***` matches the directory itself and everything below, nothing beside it', async () => {
  const policy = rules('sandbox/read:on', 'allow/read+/***', `deny/read+${dir}/sub/***`);
  // Opening the directory itself: denied (EACCES) rather than opened (read() would give EISDIR).
  expectDenied(await run(policy, 'readfile', ['-p', p('sub')]), { cap: 'read', path: p('sub'), sys: 'openat' });
  expectDenied(await run(policy, 'readfile', ['-p', p('sub/a/c.txt')]), { cap: 'read', path: p('sub/a/c.txt'), sys: 'openat' });
  expectContent(await run(policy, 'readfile', ['-p', p('subway.txt')]), 'SUBWAY');
  const open = await run([], 'readfile', ['-p', p('sub')]);
  assert.is(split(open).out, 'err errno=21\n', `without the rule the directory opens: ${describe(open)}`);
});

test.run();
