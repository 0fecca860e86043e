// A working directory (or a directory fd) whose directory was removed: natively stat("."), "..",
// open(".") and fstat still work, and nothing can be made in it (ENOENT). /proc names it
// "/path (deleted)": tsyd decides on the path it had and acts on the directory itself, so that the
// kernel gives its own answers; a directory really named "x (deleted)" is a path like any other.
// Each sequence runs natively and under tsyd on twin trees (test/fixtures/fsops.c).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { allowEverything, expectSameLines, runTwins, twinTrees } from '../helpers/twins.js';
import { NOBODY, type RunOptions } from '../helpers/tsyd.js';

/** Calls in a working directory that was removed (`d`, from the tree's top). */
const removedCwd = [
  'mkdir', 'd', 'cd', 'd', 'openfd', 'here', '.', 'rmdir', '../d',
  'stat', '.', 'lstat', '.', 'stat', '..', 'nlink', '.', 'open', '.', 'rd', 'getdents', '@here', 'access', '.', 'r',
  'fstatat', '@here', '', 'empty', 'statx', 'cwd', '', 'empty', 'fstatat', 'cwd', '', 'empty', 'rawfstat', '@here',
  'open', 'f', 'wc', 'creat', 'f', 'mkdir', 'x', 'mknod', 'p', 'symlink', 't', 's', 'stat', 'f', 'lstat', 'f/',
  'link', 'f', 'g', 'rename', 'f', 'g', 'unlink', 'f', 'rmdir', '.', 'readlink', 's',
  'openat', '@here', 'f', 'wc', 'openat', '@here', '.', 'rd', 'openat', '@here', '..', 'rd', 'fstatat', '@here', '..', '0',
  'mkdirat', '@here', 'x', 'readlinkat', '@here', '', 'chdir', '..', 'stat', 'd',
];

/** Calls on an fd of a directory that was removed, from a live working directory. */
const removedDirfd = [
  'mkdir', 'sub', 'openfd', 'dd', 'sub', 'rmdir', 'sub',
  'openat', '@dd', 'f', 'wc', 'fstatat', '@dd', '', 'empty', 'statx', '@dd', '', 'empty', 'getdents', '@dd',
  'mkdirat', '@dd', 'x', 'openat', '@dd', '.', 'rd', 'openat', '@dd', '..', 'rd', 'fstatat', '@dd', '..', '0',
  'fstatat', '@dd', '.', '0', 'fstatat', '@dd', 'f', '0', 'unlinkat', '@dd', 'f', '0', 'renameat', '@dd', 'f', '@dd', 'g',
  'linkat', '@dd', 'f', '@dd', 'h', '0', 'symlinkat', 't', '@dd', 's', 'readlinkat', '@dd', 's', 'faccessat', '@dd', '.', 'r',
  'fchdir', '@dd', 'stat', '.', 'open', '.', 'rd',
];

/** A directory made again at the removed one's path is reached by that path, the removed one through ".". */
const recreated = [
  'mkdir', 'd', 'cd', 'd', 'openfd', 'here', '.', 'rmdir', '../d', 'mkdir', '../d', 'creat', '../d/f',
  'stat', '../d/f', 'stat', 'f', 'stat', '../d/../d/f', 'openat', '@here', '../d/f', 'r', 'openat', '@here', 'f', 'r',
  'stat', '.', 'getdents', '@here',
];

/** A live directory whose name really ends in " (deleted)". */
const deletedName = [
  'mkdir', 'x (deleted)', 'openfd', 'xd', 'x (deleted)', 'cd', 'x (deleted)', 'stat', '.', 'open', 'f', 'wc', 'stat', 'f',
  'mkdir', 'sub', 'rename', 'f', 'g', 'getdents', 'cwd', 'fstatat', '@xd', 'g', '0', 'openat', '@xd', 'h', 'wc',
  'getdents', '@xd', 'fstatat', '@xd', '', 'empty', 'chdir', '..', 'stat', 'x (deleted)/g', 'rmdir', 'x (deleted)/sub',
];

async function sameAsNative(name: string, ops: string[], policy = allowEverything, opts: RunOptions = {}): Promise<string[]> {
  const trees = twinTrees(name, opts.user);
  return expectSameLines(await runTwins(trees, policy, fixture('fsops'), ops, opts), trees);
}

test('in a removed working directory, ".", "..", fstat and getdents answer as natively, and nothing can be made', async () => {
  const lines = await sameAsNative('rmcwd', removedCwd);
  assert.ok(lines.includes('stat ok type=dir size=0'), lines.join('\n'));
  assert.ok(lines.includes('creat ENOENT'), lines.join('\n'));
});

test('an fd of a removed directory answers as natively (openat, fstatat "" AT_EMPTY_PATH, getdents, fchdir)', async () => {
  await sameAsNative('rmfd', removedDirfd);
});

test('a directory made again at the removed one\'s path is reached by that path, the removed one through "."', async () => {
  const lines = await sameAsNative('recreated', recreated);
  assert.equal(lines.slice(5, 10), ['stat ok type=reg size=0', 'stat ENOENT', 'stat ok type=reg size=0', 'openat ok', 'openat ENOENT']);
});

test('a directory really named "x (deleted)" is a path like any other', async () => {
  await sameAsNative('deletedname', deletedName);
});

test('as nobody, with the default profile and the trees under /tmp', async () => {
  for (const [name, ops] of [['rmcwd', removedCwd], ['rmfd', removedDirfd], ['recreated', recreated], ['deletedname', deletedName]] as const) {
    await sameAsNative(`${name}-nobody`, [...ops], [], { user: NOBODY });
  }
});

test('a removed working directory is decided on the path it had: a denied one stays denied', async () => {
  const dir = tempTree('rmcwd-denied', { 'h/e/.keep': '' });
  const policy = rules('sandbox/stat,read,delete:on', 'allow/stat+/***', 'allow/read+/***', 'allow/delete+/***', `deny/read+${dir}/h/***`);
  const run = await fsops(policy, ['unlink', '.keep', 'rmdir', '../e', 'stat', '.', 'open', '.', 'rd', 'open', '..', 'rd', 'openat', 'cwd', '', 'rd'], { cwd: `${dir}/h/e` });
  expectRun(run, ['unlink ok', 'rmdir ok', 'stat ok type=dir size=0', 'open EACCES', 'open EACCES', 'openat ENOENT'], [
    { cap: 'read', path: `${dir}/h/e`, sys: 'open' },
    { cap: 'read', path: `${dir}/h`, sys: 'open' },
  ]);
});

test.run();
