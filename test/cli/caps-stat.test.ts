// The stat capability: the stat family, statx, access/faccessat/faccessat2, readlink(at),
// chdir/fchdir, getdents64 and the metadata calls (statfs, xattrs, inotify, file handles). A
// denied path does not exist: ENOENT, exactly one record; an allowed call returns the real data.
// The fd forms (AT_EMPTY_PATH with "") are decided on the fd's object.
import { dirname } from 'node:path';
import { test } from 'uvu';
import { fixture } from '../helpers/fixtures.js';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { allowAllBut, expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, tsydBin } from '../helpers/tsyd.js';

const dir = tempTree('stat', { 'ok/f': '12345', 'no/f': 'NOF', 'no/sub/x': 'X', 'mixed/a': '', 'mixed/b': '', 'mixed/hidden1': '', 'mixed/hidden2': '',
  'tree/deep/hidden.key': '', 'tree/deep/shown': '', 'tree/flat': '' });
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

test('dirfd-relative stats are decided on the directory + name; AT_EMPTY_PATH on an fd is decided on the fd', async () => {
  const run = await fsops(policy, [
    'openfd', 'o', ok(''),
    'openfd', 'of', ok('f'),
    // Intended difference: O_PATH opens are performed by tsyd as opens for reading (never
    // continued: README), and a symlink cannot be opened for reading: ELOOP, no fd of the link.
    'openpath', 'pl', ok('l'),
    'fstatat', '@o', '../no/f', '0',
    'fstatat', '@o', 'f', '0',
    // tsyd performs the call on its copy of the fd, decided on the copy's path.
    'fstatat', '@of', '', 'empty',
    'statx', '@of', '', 'empty',
    'faccessat2', '@of', '', 'r', 'empty',
    'fstatnull', '@of', // NULL with AT_EMPTY_PATH: the fd (Linux 6.11), as natively
    'statxnull', '@o',
    'readlinkat', '@of', '', // not a link: the kernel's ENOENT
    'fstatat', 'cwd', '', 'empty', // the cwd
  ], { cwd: ok('sub') });
  expectRun(
    run,
    ['openfd ok', 'openfd ok', 'openpath ELOOP', 'fstatat ENOENT', 'fstatat ok type=reg size=5', 'fstatat ok type=reg size=5',
      'statx ok type=reg size=5', 'faccessat2 ok', 'fstatnull ok type=reg size=5', 'statxnull ok type=dir size=4096',
      'readlinkat ENOENT', 'fstatat ok type=dir size=4096'],
    [{ cap: 'stat', path: no('f'), sys: 'newfstatat' }],
  );
});

test('an fd of a hidden object is hidden too; an fd without a path (a socket) needs no rule', async () => {
  // The program cannot open a hidden file, but it can be handed one (here on stdin, by the shell
  // that starts tsyd; an O_PATH open raced into a hidden directory is another way).
  const ops = ['pid', 'fstatat', '#0', '', 'empty', 'statx', '#0', '', 'empty', 'faccessat2', '#0', '', 'r', 'empty', 'fstatnull', '#0'];
  const policyArgs = policy.map((a) => `'${a}'`).join(' ');
  const r = await runNative('sh', ['-c', `exec "$0" "$1" run --log-fd 3 ${policyArgs} -- "$2" ${ops.map((o) => `'${o}'`).join(' ')} < "$3"`,
    process.execPath, tsydBin, fixture('fsops'), no('f')], { logFd: 3 });
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.split('\n').filter((l) => l !== '').slice(1), ['fstatat ENOENT', 'statx ENOENT', 'faccessat2 ENOENT', 'fstatnull ENOENT'], describe(r));
  const denials = r.records.filter((rec) => rec['ctx'] === 'access').map((rec) => `${rec['sys']} ${rec['path']}`);
  assert.equal(denials, ['newfstatat', 'statx', 'faccessat2', 'newfstatat'].map((sys) => `${sys} ${no('f')}`), r.log);
  // stdin from the test is a socket (Node's 'pipe'): named /proc/<pid>/fd/0, which no rule of
  // this policy allows, and allowed anyway.
  const only = rules('sandbox/stat:on', 'allow/stat+/usr/***', 'allow/stat+/lib*/***', 'allow/stat+/etc/***',
    `allow/stat+${dirname(fixture('fsops'))}/***`);
  const pipe = await fsops(only, ['fstatat', '#0', '', 'empty', 'statx', '#0', '', 'empty'], { input: 'x' });
  expectRun(pipe, ['fstatat ok type=sock size=0', 'statx ok type=sock size=0']);
});

test('metadata calls: allowed ones give the real data, hidden ones are ENOENT with one record each', async () => {
  const set = await runNative(fixture('fsops'), ['setxattr', ok('f'), 'user.k', 'V', 'setxattr', no('f'), 'user.k', 'S']);
  assert.equal(set.stdout, 'setxattr ok\nsetxattr ok\n', describe(set));
  const allowed = await fsops(policy, [
    'statfs', ok('f'), 'getxattr', ok('f'), 'user.k', '10', 'getxattr', ok('f'), 'user.k', '0', 'lgetxattr', ok('l'), 'user.k', '10',
    'listxattr', ok('f'), '100', 'llistxattr', ok('l'), '100', 'inotify', ok('f'), '0', 'inotify', ok('l'), 'dontfollow',
    'handle', 'cwd', ok('f'), '0', '128', 'handle', 'cwd', ok('l'), '0', '128',
  ]);
  expectRun(allowed, [
    // /tmp's file system type, whatever it is: checked below against the kernel's answer
    allowed.lines[0]!, 'getxattr ok 1 V', 'getxattr ok 1', 'lgetxattr ENODATA', 'listxattr ok 7 user.k', 'llistxattr ok 0',
    'inotify ok', 'inotify ok', 'handle ok bytes=8 type=1 mnt=set', 'handle ok bytes=8 type=1 mnt=set',
  ]);
  const native = await runNative(fixture('fsops'), ['statfs', ok('f')]);
  assert.is(allowed.lines[0], native.stdout.trim());
  // Hidden: the file, a link into the hidden directory (followed), and the hidden link itself.
  const denied = await fsops(policy, [
    'statfs', no('f'), 'getxattr', no('f'), 'user.k', '10', 'lgetxattr', no('l'), 'user.k', '10', 'listxattr', ok('l'), '100',
    'llistxattr', no('l'), '100', 'inotify', no('f'), '0', 'inotify', ok('l'), '0', 'handle', 'cwd', no('f'), '0', '128',
    'handle', 'cwd', ok('l'), 'follow', '128',
  ]);
  expectRun(
    denied,
    ['statfs', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'inotify', 'inotify', 'handle', 'handle'].map((op) => `${op} ENOENT`),
    [
      { cap: 'stat', path: no('f'), sys: 'statfs' },
      { cap: 'stat', path: no('f'), sys: 'getxattr' },
      { cap: 'stat', path: no('l'), sys: 'lgetxattr' },
      { cap: 'stat', path: no('f'), sys: 'listxattr' },
      { cap: 'stat', path: no('l'), sys: 'llistxattr' },
      { cap: 'stat', path: no('f'), sys: 'inotify_add_watch' },
      { cap: 'stat', path: no('f'), sys: 'inotify_add_watch' },
      { cap: 'stat', path: no('f'), sys: 'name_to_handle_at' },
      { cap: 'stat', path: no('f'), sys: 'name_to_handle_at' },
    ],
  );
});

test('getxattrat, listxattrat and file_getattr are refused with ENOSYS while stat is on (natively they work)', async () => {
  const ops = ['getxattrat', ok('f'), 'user.k', 'listxattrat', ok('f'), 'file_getattr', ok('f')];
  const native = await runNative(fixture('fsops'), ops);
  assert.equal(native.stdout, 'getxattrat ok\nlistxattrat ok\nfile_getattr ok\n', describe(native));
  expectRun(await fsops(policy, ops), ['getxattrat ENOSYS', 'listxattrat ENOSYS', 'file_getattr ENOSYS']);
});

test('getdents64 of an allowed directory leaves the denied entries out, without records', async () => {
  const run = await fsops(allowAllBut('stat', `${dir}/mixed/hidden*`), ['openfd', 'm', `${dir}/mixed`, 'getdents', '@m']);
  expectRun(run, ['openfd ok', 'getdents ok a,b']);
  const all = await fsops([], ['openfd', 'm', `${dir}/mixed`, 'getdents', '@m']);
  expectRun(all, ['openfd ok', 'getdents ok a,b,hidden1,hidden2']);
});

test('getdents64 where no rule can hide a child lists every entry; where one can (a rule keyed below a * component, in a long list), it hides them', async () => {
  // More rules than check() scans: the decisions go through the index (a WILD edge for the *).
  const filler = Array.from({ length: 30 }, (_, i) => `deny/stat+${dir}/nothing${i}/***`);
  const policy = rules('sandbox/stat:on', 'allow/stat+/***', ...filler, `deny/stat+${dir}/*/deep/*.key`);
  const ops = ['openfd', 't', `${dir}/tree`, 'getdents', '@t', 'openfd', 'd', `${dir}/tree/deep`, 'getdents', '@d'];
  expectRun(await fsops(policy, ops), ['openfd ok', 'getdents ok deep,flat', 'openfd ok', 'getdents ok shown']);
  expectRun(await fsops([], ops), ['openfd ok', 'getdents ok deep,flat', 'openfd ok', 'getdents ok hidden.key,shown']);
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
