// The stat capability: the stat family, statx, access/faccessat/faccessat2, readlink(at),
// chdir/fchdir and getdents64. A denied path does not exist: ENOENT, exactly one record; an allowed
// call returns the real data.
import { dirname } from 'node:path';
import { test } from 'uvu';
import { fixture } from '../helpers/fixtures.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { allowAllBut, expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';

const dir = tempTree('stat', { 'ok/f': '12345', 'no/f': 'NOF', 'no/sub/x': 'X', 'mixed/a': '', 'mixed/b': '', 'mixed/hidden1': '', 'mixed/hidden2': '' });
symlinkSync('../no/f', `${dir}/ok/l`); // an allowed link into the denied directory
symlinkSync('f', `${dir}/ok/lok`);
symlinkSync('f', `${dir}/no/l`);
mkdirSync(`${dir}/ok/sub`);
const policy = allowAllBut('stat', `${dir}/no/***`);
const ok = (rel: string): string => `${dir}/ok/${rel}`;
const no = (rel: string): string => `${dir}/no/${rel}`;

test('allowed: every stat-like call returns the real data and logs nothing', async () => {
  const run = await fsops(policy, [
    'stat', ok('f'),
    'lstat', ok('l'),
    'fstatat', 'cwd', 'ok/f', '0',
    'fstatat', 'cwd', 'ok/lok', 'nofollow',
    'statx', 'cwd', 'ok/lok', '0',
    'statx', 'cwd', 'ok/lok', 'nofollow',
    'access', ok('f'), 'rw',
    'faccessat', 'cwd', 'ok/f', 'r',
    'faccessat2', 'cwd', 'ok/nothing', 'f', '0',
    'readlink', ok('l'),
    'openfd', 'o', ok(''),
    'readlinkat', '@o', 'lok',
    'getdents', '@o',
    'chdir', ok('sub'),
    'fchdir', '@o',
  ], { cwd: dir });
  expectRun(run, [
    'stat ok type=reg size=5',
    'lstat ok type=lnk size=7',
    'fstatat ok type=reg size=5',
    'fstatat ok type=lnk size=1',
    'statx ok type=reg size=5',
    'statx ok type=lnk size=1',
    'access ok',
    'faccessat ok',
    'faccessat2 ENOENT', // a missing allowed path is just missing, without a record
    'readlink ok ../no/f',
    'openfd ok',
    'readlinkat ok f',
    'getdents ok f,l,lok,sub',
    `chdir ok ${ok('sub')}`,
    `fchdir ok ${ok('')}`.replace(/\/$/, ''),
  ]);
});

test('denied: every stat-like call says ENOENT, one record each', async () => {
  const run = await fsops(policy, [
    'stat', no('f'),
    'lstat', no('f'),
    'fstatat', 'cwd', 'no/f', '0',
    'fstatat', 'cwd', 'no/l', 'nofollow',
    'statx', 'cwd', 'no/f', '0',
    'access', no('f'), 'r',
    'faccessat', 'cwd', 'no/f', 'f',
    'faccessat2', 'cwd', 'no/f', 'r', '0',
    'readlink', no('l'),
    'readlinkat', 'cwd', 'no/l',
    'openfd', 'n', no(''), // a hidden directory cannot be opened either
    'chdir', no('sub'),
    'chdir', '.', // the cwd did not move
  ], { cwd: dir });
  const sys = ['stat', 'lstat', 'newfstatat', 'newfstatat', 'statx', 'access', 'faccessat', 'faccessat2', 'readlink'];
  const paths = ['f', 'f', 'f', 'l', 'f', 'f', 'f', 'f', 'l'];
  expectRun(
    run,
    [...sys.map((s) => `${s === 'newfstatat' ? 'fstatat' : s} ENOENT`), 'readlinkat ENOENT', 'openfd ENOENT',
      'chdir ENOENT', `chdir ok ${dir}`],
    [
      ...sys.map((s, i) => ({ cap: 'stat', path: no(paths[i]!), sys: s })),
      { cap: 'stat', path: no('l'), sys: 'readlinkat' },
      { cap: 'stat', path: `${dir}/no`, sys: 'openat' },
      { cap: 'stat', path: no('sub'), sys: 'chdir' },
    ],
  );
});

test('a symlink in an allowed directory to a denied file: following it is denied, the link is not', async () => {
  const run = await fsops(policy, [
    'stat', ok('l'),
    'statx', 'cwd', ok('l'), '0',
    'faccessat2', 'cwd', ok('l'), 'r', '0',
    'lstat', ok('l'),
    'fstatat', 'cwd', ok('l'), 'nofollow',
    'faccessat2', 'cwd', ok('l'), 'f', 'nofollow',
  ]);
  expectRun(
    run,
    ['stat ENOENT', 'statx ENOENT', 'faccessat2 ENOENT', 'lstat ok type=lnk size=7', 'fstatat ok type=lnk size=7', 'faccessat2 ok'],
    ['stat', 'statx', 'faccessat2'].map((sys) => ({ cap: 'stat', path: no('f'), sys })),
  );
});

test('dirfd-relative stats are decided on the directory + name; AT_EMPTY_PATH on an fd is not decided', async () => {
  const run = await fsops(policy, [
    'openfd', 'o', ok(''),
    'openfd', 'of', ok('f'),
    'fstatat', '@o', '../no/f', '0',
    'fstatat', '@o', 'f', '0',
    // The fd came through a checked open: the kernel acts on that fd.
    'fstatat', '@of', '', 'empty',
    'statx', '@of', '', 'empty',
  ]);
  expectRun(
    run,
    ['openfd ok', 'openfd ok', 'fstatat ENOENT', 'fstatat ok type=reg size=5', 'fstatat ok type=reg size=5', 'statx ok type=reg size=5'],
    [{ cap: 'stat', path: no('f'), sys: 'newfstatat' }],
  );
});

test('getdents64 of an allowed directory leaves the denied entries out, without records', async () => {
  const run = await fsops(allowAllBut('stat', `${dir}/mixed/hidden*`), ['openfd', 'm', `${dir}/mixed`, 'getdents', '@m']);
  expectRun(run, ['openfd ok', 'getdents ok a,b']);
  const all = await fsops([], ['openfd', 'm', `${dir}/mixed`, 'getdents', '@m']);
  expectRun(all, ['openfd ok', 'getdents ok a,b,hidden1,hidden2']);
});

test('a hidden path is ENOENT for create and delete as well, with one record each', async () => {
  const policy = rules('sandbox/stat,create,delete:on', 'allow/stat+/***', 'allow/create+/***', 'allow/delete+/***',
    `deny/stat+${dir}/no/***`, `deny/create+${dir}/no/***`, `deny/delete+${dir}/no/***`);
  const run = await fsops(policy, ['mkdir', no('new'), 'open', no('new'), 'wc', 'unlink', no('f'), 'rename', no('f'), ok('moved')]);
  // Hidden first: the call's own capability is not even consulted (one stat record each).
  expectRun(run, ['mkdir ENOENT', 'open ENOENT', 'unlink ENOENT', 'rename ENOENT'], [
    { cap: 'stat', path: no('new'), sys: 'mkdir' },
    { cap: 'stat', path: no('new'), sys: 'open' },
    { cap: 'stat', path: no('f'), sys: 'unlink' },
    { cap: 'stat', path: no('f'), sys: 'rename' },
  ]);
  assert.not.ok(existsSync(no('new')));
  assert.ok(existsSync(no('f')));
});

test('stat on without a matching rule hides the path', async () => {
  // Hidden paths do not exist for any call: the program, its loader and its libraries must be
  // visible for it to start at all.
  const only = rules('sandbox/stat:on', 'allow/stat+/usr/***', 'allow/stat+/lib*/***', 'allow/stat+/etc/***',
    `allow/stat+${dirname(fixture('fsops'))}/***`, `allow/stat+${dir}/ok/***`);
  const run = await fsops(only, ['stat', ok('f'), 'stat', `${dir}/mixed/a`]);
  expectRun(run, ['stat ok type=reg size=5', 'stat ENOENT'], [{ cap: 'stat', path: `${dir}/mixed/a`, sys: 'stat' }]);
});

test.run();
