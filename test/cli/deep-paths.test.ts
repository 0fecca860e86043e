// Paths longer than PATH_MAX. PATH_MAX limits the string one call passes, not the path it names: a
// program that goes down a tree with chdir, or holds directory fds, passes short names and the
// kernel answers every call at any depth. tsyd decides on the whole canonical path (up to 32 KiB)
// and reaches it in steps shorter than PATH_MAX; beyond 32 KiB it refuses (ENAMETOOLONG). Each
// test runs the same program natively and under tsyd on twin trees and compares what it printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { SYSCALLS } from '../../src/confine/syscall-table.js';
import { fixture } from '../helpers/fixtures.js';
import { allowEverything, expectSameLines, runTwins, twinTrees } from '../helpers/twins.js';
import { NOBODY, describe, type RunOptions } from '../helpers/tsyd.js';

/** 40 levels of 200-character names: about 8 KiB, twice PATH_MAX. */
const DEPTH = '40';
/** The first level's name (deeptree.c level_name(0)). */
const TOP = `a${'x'.repeat(199)}`;
/** The longest canonical path tsyd acts on, its NUL included (addon/common.h kMaxPathLen). */
const MAX_PATH_LEN = 32 * 1024;

/** Removes what deeptree made in `dirs` (natively: Node's rmSync cannot, its paths are too long). */
function removeDeep(...dirs: string[]): void {
  for (const dir of dirs) {
    if (readdirSync(dir).includes(TOP)) execFileSync(fixture('deeptree'), ['rm', TOP], { cwd: dir });
  }
}

/** Runs `deeptree ARGS` natively and under tsyd in fresh twin trees; expects the same lines. */
async function sameAsNative(name: string, args: string[], policy = allowEverything, opts: RunOptions = {}): Promise<string[]> {
  const trees = twinTrees(name, opts.user);
  try {
    return expectSameLines(await runTwins(trees, policy, fixture('deeptree'), args, opts), trees);
  } finally {
    removeDeep(...trees);
  }
}

test('a tree twice PATH_MAX deep, made with chdir + mkdir: every call at every level answers as natively', async () => {
  const lines = await sameAsNative('deep-chdir', ['chdir', DEPTH]);
  assert.is(lines.length, Number(DEPTH) + 2, lines.join('\n'));
  assert.ok(lines.every((l) => !/=E[A-Z]+/.test(l) || l.startsWith('getcwd')), lines.join('\n'));
  // getcwd is the kernel's (never decided by tsyd): ENAMETOOLONG at this depth, as natively, and
  // glibc's getcwd then walks ".." itself (openat, fstatat, getdents: decided, and answered right).
  assert.is(SYSCALLS['getcwd']?.class, 'allowed');
  assert.is(lines.at(-2), 'getcwd syscall=ENAMETOOLONG glibc=ok');
  // A program made at the bottom runs (exec reads its head through the long path).
  assert.is(lines.at(-1), 'exec copy=ok move=ok run=ok unlink=ok');
});

test('the same with mkdirat + openat on directory fds (never chdir): fstatat, renameat, linkat, getdents... at every level', async () => {
  const lines = await sameAsNative('deep-dirfd', ['dirfd', DEPTH]);
  assert.is(lines.length, Number(DEPTH), lines.join('\n'));
  assert.ok(lines.every((l) => !/=E[A-Z]+/.test(l)), lines.join('\n'));
});

test('a deep tree is removed by an openat + getdents + unlinkat walk, and by rm -rf itself', async () => {
  for (const remover of [[fixture('deeptree'), 'rm', TOP], ['/bin/rm', '-rf', TOP]] as const) {
    const trees = twinTrees('deep-rm');
    try {
      for (const t of trees) execFileSync(fixture('deeptree'), ['down', DEPTH], { cwd: t });
      const runs = await runTwins(trees, allowEverything, remover[0], remover.slice(1));
      expectSameLines(runs, trees);
      assert.equal(runs.sandboxed.otherStderr, [], describe(runs.sandboxed));
      assert.equal(readdirSync(trees[1]), [], `${remover[0]} removed the whole tree under tsyd`);
      assert.equal(readdirSync(trees[0]), []);
    } finally {
      removeDeep(...trees);
    }
  }
});

test('as nobody, with the default profile and the tree under /tmp', async () => {
  const asNobody = { user: NOBODY };
  await sameAsNative('deep-nobody-chdir', ['chdir', DEPTH], [], asNobody);
  await sameAsNative('deep-nobody-dirfd', ['dirfd', DEPTH], [], asNobody);
  const trees = twinTrees('deep-nobody-rm', NOBODY);
  try {
    for (const t of trees) execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', fixture('deeptree'), 'down', DEPTH], { cwd: t });
    const runs = await runTwins(trees, [], '/bin/rm', ['-rf', TOP], asNobody);
    expectSameLines(runs, trees);
    assert.equal(readdirSync(trees[1]), [], describe(runs.sandboxed));
  } finally {
    removeDeep(...trees);
  }
});

test('beyond 32 KiB tsyd refuses with ENAMETOOLONG (fails closed), where the kernel would go on', async () => {
  const trees = twinTrees('deep-limit');
  try {
    const runs = await runTwins(trees, allowEverything, fixture('deeptree'), ['down', '170']);
    assert.is(runs.native.stdout, 'down levels=170\n', describe(runs.native));
    // Level k's path is the tree's, then k + 1 names of 201 bytes: the first one not shorter than
    // the limit is refused.
    const made = Math.floor((MAX_PATH_LEN - 1 - trees[1].length) / 201);
    assert.is(runs.sandboxed.stdout, `down levels=${made} mkdir=ENAMETOOLONG\n`, describe(runs.sandboxed));
  } finally {
    removeDeep(...trees);
  }
});

test.run();
