// Emulation fidelity: with every file system capability on and everything allowed, tsyd performs
// the calls itself — and each one must give the program what the kernel gives it natively (same
// result, same errno) and leave the same tree. Run side by side on two identical trees.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runNative, type RunOptions } from '../helpers/tsyd.js';

const allowEverything = (caps: string[]): string[] => rules(`sandbox/${caps.join(',')}:on`, ...caps.map((c) => `allow/${c}+/***`));
const allCaps = ['read', 'write', 'create', 'delete', 'stat', 'exec'];

function makeTree(name: string): string {
  const dir = tempTree(name, { f: 'F', 'full/x': 'X' });
  for (let i = 1; i <= 10; i++) mkdirSync(`${dir}/e${i}`);
  symlinkSync('loop', `${dir}/loop`);
  mkdirSync(`${dir}/mine`);
  chownSync(`${dir}/mine`, NOBODY, NOBODY);
  return dir;
}

/** Every entry below `dir` with its type and content or target, sorted. */
function listTree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(`${dir}/${rel}`).sort()) {
    const p = rel === '' ? name : `${rel}/${name}`;
    const s = lstatSync(`${dir}/${p}`);
    if (s.isSymbolicLink()) out.push(`${p} -> ${readlinkSync(`${dir}/${p}`)}`);
    else if (s.isDirectory()) out.push(`${p}/`, ...listTree(dir, p));
    else if (s.isFIFO()) out.push(`${p} fifo`);
    else out.push(`${p} = ${readFileSync(`${dir}/${p}`, 'utf8')}`);
  }
  return out;
}

/** Runs `ops` natively and under tsyd on twin trees; expects the same lines and the same tree. */
async function expectSameAsNative(name: string, ops: string[], opts: RunOptions = {}, caps = allCaps): Promise<void> {
  const a = makeTree(`fidelity-${name}-native`);
  const b = makeTree(`fidelity-${name}-tsyd`);
  const native = await runNative(fixture('fsops'), ops, { ...opts, cwd: a });
  assert.is(native.code, 0, describe(native));
  const sandboxed = await fsops(allowEverything(caps), ops, { ...opts, cwd: b });
  assert.is(sandboxed.result.code, 0, describe(sandboxed.result));
  const nativeLines = native.stdout.split('\n').filter((l) => l !== '');
  // Number each result so that a difference names the call; the twin trees' paths become <dir>.
  const pairs = (lines: string[], dir: string): string[] => lines.map((l, i) => `#${i} ${l.split(dir).join('<dir>')}`);
  assert.equal(pairs(sandboxed.lines, b), pairs(nativeLines, a), 'every call answers as it does natively');
  assert.equal(listTree(b), listTree(a), 'the tree ends up the same');
  assert.equal(sandboxed.denials, [], 'nothing was denied');
}

test('errors and results of create, delete, rename, stat, link and open calls match the kernel', async () => {
  await expectSameAsNative('calls', [
    'mkdir', 'd', 'mkdir', 'd', 'mkdir', 'd/', 'mkdir', 'missing/x', 'mkdir', 'f/x', 'mkdir', '',
    'mknod', 'd', 'symlink', 'nowhere', 'dangling', 'symlink', 'f', 'd/lf',
    'stat', 'dangling', 'lstat', 'dangling', 'stat', 'f/', 'stat', 'd/', 'stat', 'loop', 'lstat', 'loop/', 'stat', '',
    'fstatat', 'cwd', '', '0', 'fstatat', 'cwd', '', 'empty', 'statx', 'cwd', '', 'empty', 'statx', 'cwd', 'd/lf', 'nofollow',
    'access', 'f', 'x', 'access', 'f', 'w', 'access', 'missing', 'f',
    'faccessat2', 'cwd', 'dangling', 'f', 'nofollow', 'faccessat2', 'cwd', 'dangling', 'f', '0',
    'readlink', 'f', 'readlink', 'dangling', 'readlink', 'd/lf/', 'readlink', 'loop', 'readlinkat', 'cwd', '',
    'open', 'd', 'w', 'open', 'd/', 'rc', 'open', 'dangling', 'wc', 'open', 'f/', 'r', 'open', 'f', 'rd', 'open', 'dangling', 'wcx',
    'creat', 'd', 'truncate', 'd', '0', 'truncate', 'f', '-1', 'truncate', 'missing', '0',
    'link', 'd', 'd2', 'link', 'f', 'f', 'link', 'f', 'd/', 'link', 'missing', 'x',
    'linkat', 'cwd', 'dangling', 'cwd', 'hl', '0', 'linkat', 'cwd', 'dangling', 'cwd', 'hl2', 'follow',
    'unlink', 'd', 'unlink', 'd/', 'unlink', 'f/', 'unlink', 'missing', 'unlinkat', 'cwd', 'f', 'removedir',
    'rmdir', 'f', 'rmdir', 'full', 'rmdir', 'd/..', 'rmdir', '/',
    'rename', 'd', 'd/sub', 'rename', 'f', 'full', 'rename', 'full', 'f', 'rename', 'f', 'f', 'rename', 'missing', 'x',
    'renameat2', 'cwd', 'f', 'cwd', 'd', 'noreplace', 'renameat2', 'cwd', 'f', 'cwd', 'nothere', 'exchange',
    'renameat2', 'cwd', 'f', 'cwd', 'd', 'noreplace,exchange', 'rename', 'f/', 'g', 'rename', 'd', 'e/',
    'mknod', 'fifo', 'mknod', 'fifo', 'mkdirat', 'cwd', 'fifo/x', 'unlink', 'fifo',
    'chdir', 'f', 'chdir', 'missing', 'chdir', 'dangling', 'chdir', 'd/lf', 'mkdir', 'full/sub',
  ]);
});

test('a last component `.` or `..` is refused as the kernel refuses it (nothing is removed or moved)', async () => {
  await expectSameAsNative('dots', [
    'rmdir', 'e1/.', 'rmdir', 'e2/./', 'unlinkat', 'cwd', 'e3/.', 'removedir',
    'rename', 'e4/.', 'moved', 'rename', 'f', 'e5/.', 'renameat2', 'cwd', 'e7/.', 'cwd', 'f', 'exchange',
    'mkdir', 'e6/.', 'symlink', 'x', 'e6/.', 'link', 'f', 'e6/.', 'mkdir', 'e8/..', 'rmdir', 'e9/..',
    'unlink', 'f/..', 'unlink', 'e9/.',
    'cd', 'e10', 'rmdir', '.', 'rmdir', '../e10',
  ]);
});

test('dirfd-relative and fd calls (AT_EMPTY_PATH) match the kernel', async () => {
  await expectSameAsNative('dirfd', [
    'openfd', 'd', 'e1', 'openfd', 'f', 'f', 'openfd', 'full', 'full',
    'mkdirat', '@d', 'x', 'mkdirat', '@f', 'x', 'mknodat', '@d', 'p', 'symlinkat', '../f', '@d', 'l',
    'linkat', '@full', 'x', '@d', 'hx', '0', 'linkat', '@f', '', '@d', 'hf', 'empty', 'linkat', '@d', 'l', '@d', 'hl', 'follow',
    'readlinkat', '@d', 'l', 'fstatat', '@d', 'l', '0', 'fstatat', '@f', '', 'empty', 'fstatat', '@f', '', '0',
    'statx', '@d', 'hf', '0', 'faccessat2', '@d', 'l', 'r', 'nofollow',
    'renameat', '@d', 'hx', '@full', 'y', 'renameat2', '@d', 'p', '@full', 'x', 'exchange',
    'unlinkat', '@d', 'x', '0', 'unlinkat', '@d', 'x', 'removedir', 'unlinkat', '@f', 'x', '0', 'unlinkat', '@d', '', '0',
    'getdents', '@d', 'getdents', '@full', 'getdents', '@f', 'fchdir', '@f', 'fchdir', '@d', 'mkdir', 'incwd', 'getdents', '@d',
  ]);
});

test('fd forms, NULL paths and the metadata calls match the kernel', async () => {
  await expectSameAsNative('fdforms', [
    // (O_PATH|O_NOFOLLOW of a symlink is an intended difference: see caps-stat's fd test.)
    'setxattr', 'f', 'user.k', 'V', 'openfd', 'f', 'f', 'openfd', 'd', 'e1', 'openpath', 'pf', 'f',
    'statx', '@pf', '', 'empty',
    'faccessat2', '@f', '', 'x', 'empty', 'faccessat2', '@f', '', 'r', '0',
    'readlinkat', '@f', '', 'readlinkat', '@pf', '',
    'fstatnull', '@f', 'statxnull', '@d', 'fstatnull', 'cwd', 'statxnull', 'cwd', 'fstatnull', '#99',
    'fnlink', '@d', 'nlink', 'full', 'nlink', '.',
    'statfs', 'f', 'statfs', 'missing', 'statfs', 'loop',
    'getxattr', 'f', 'user.k', '0', 'getxattr', 'f', 'user.k', '10', 'getxattr', 'f', 'user.none', '10', 'getxattr', 'f', '', '10',
    'getxattr', 'f', 'user.k', '1', 'lgetxattr', 'loop', 'user.k', '10', 'getxattr', 'missing', 'user.k', '10',
    'listxattr', 'f', '0', 'listxattr', 'f', '100', 'listxattr', 'f', '1', 'llistxattr', 'loop', '100', 'listxattr', 'loop', '100',
    'inotify', 'f', '0', 'inotify', 'loop', 'dontfollow', 'inotify', 'loop', '0', 'inotify', 'f', 'onlydir', 'inotify', 'e1', 'onlydir',
    'inotify', 'missing', '0',
    'handle', 'cwd', 'f', '0', '128', 'handle', 'cwd', 'f', '0', '0', 'handle', '@f', '', 'empty', '128', 'handle', 'cwd', 'loop', '0', '128',
    'handle', 'cwd', 'loop', 'follow', '128', 'handle', 'cwd', 'f', '0', '200', 'handle', 'cwd', 'missing', '0', '128',
  ]);
});

test("as nobody: tsyd acts with the program's rights (the kernel's own refusals are the same)", async () => {
  await expectSameAsNative('nobody', [
    'mkdir', 'x', 'mkdir', 'mine/x', 'unlink', 'f', 'rename', 'f', 'mine/f', 'truncate', 'f', '0',
    'access', 'f', 'w', 'access', 'f', 'r', 'faccessat2', 'cwd', 'f', 'w', '0', 'open', 'f', 'w', 'creat', 'new',
    'symlink', 'x', 'mine/l', 'link', 'f', 'mine/hl', 'mknod', 'mine/fifo', 'unlink', 'mine/l', 'rmdir', 'mine/x',
    'rmdir', 'e1', 'renameat2', 'cwd', 'mine/fifo', 'cwd', 'e2/fifo', '0', 'stat', 'full/x',
    'statfs', 'f', 'getxattr', 'f', 'user.k', '10', 'listxattr', 'mine', '100', 'inotify', 'mine', '0', 'handle', 'cwd', 'f', '0', '128',
    'openfd', 'm', 'mine', 'fstatat', '@m', '', 'empty', 'fnlink', '@m', 'faccessat2', '@m', '', 'w', 'empty',
    'chdir', 'mine', 'write', 'w', 'W',
  ], { user: NOBODY }, allCaps.filter((c) => c !== 'exec')); // exec as nobody: caps-exec.test.ts
});

test.run();
