// The create capability: O_CREAT of a new file, mkdir, mknod, symlink (the link's path), link (the
// new path), the target of rename. An allowed call really creates the name; a denied one is EACCES,
// logs exactly one record and creates nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { fsops, dump, expectRun, rules } from '../helpers/fsops.js';
import { raceTests } from '../helpers/fsrace.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY } from '../helpers/tsyd.js';

/** A tree with an allowed `ok/` and a denied `no/`, and the policy allowing create under ok/ only. */
function setup(name: string): { dir: string; policy: string[] } {
  const dir = tempTree(`create-${name}`, { 'ok/src.txt': 'SRC', 'no/exists.txt': 'EXISTS' });
  return { dir, policy: rules('sandbox/create:on', `allow/create+${dir}/ok/***`) };
}

/** fsops operations creating each kind of name under `sub/` (relative to the cwd `dir`). */
function createOps(dir: string, sub: string): string[] {
  return [
    'openfd', 'd', `${dir}/${sub}`,
    'mkdir', `${sub}/dir1`,
    'mkdirat', '@d', 'dir2',
    'mknod', `${sub}/fifo1`,
    'mknodat', '@d', 'fifo2',
    'symlink', 'src.txt', `${sub}/sym1`,
    'symlinkat', 'src.txt', '@d', 'sym2',
    'link', 'ok/src.txt', `${sub}/hard1`,
    'linkat', 'cwd', 'ok/src.txt', '@d', 'hard2', '0',
    'open', `${sub}/new1`, 'wc',
    'openat', '@d', 'new2', 'wcx',
    'creat', `${sub}/new3`,
  ];
}
const createSys = ['mkdir', 'mkdirat', 'mknod', 'mknodat', 'symlink', 'symlinkat', 'link', 'linkat', 'open', 'openat', 'creat'];
const createNames = ['dir1', 'dir2', 'fifo1', 'fifo2', 'sym1', 'sym2', 'hard1', 'hard2', 'new1', 'new2', 'new3'];

test('every create call makes its name in an allowed directory, and logs nothing', async () => {
  const { dir, policy } = setup('allowed');
  const run = await fsops(policy, createOps(dir, 'ok'), { cwd: dir });
  expectRun(run, ['openfd ok', ...createSys.map((s) => `${s} ok`)]);
  const kind = (n: string): string => {
    const s = lstatSync(`${dir}/ok/${n}`);
    return s.isDirectory() ? 'dir' : s.isFIFO() ? 'fifo' : s.isSymbolicLink() ? 'lnk' : s.isFile() ? 'reg' : '?';
  };
  assert.equal(createNames.map(kind), ['dir', 'dir', 'fifo', 'fifo', 'lnk', 'lnk', 'reg', 'reg', 'reg', 'reg', 'reg']);
  assert.is(readlinkSync(`${dir}/ok/sym2`), 'src.txt');
  assert.is(readFileSync(`${dir}/ok/hard2`, 'utf8'), 'SRC');
  assert.is(statSync(`${dir}/ok/hard1`).nlink, 3, 'src.txt has two more hard links');
});

test('every create call in a denied directory: EACCES, one record each, nothing created', async () => {
  const { dir, policy } = setup('denied');
  const run = await fsops(policy, createOps(dir, 'no'), { cwd: dir });
  expectRun(
    run,
    ['openfd ok', ...createSys.map((s) => `${s} EACCES`)],
    createSys.map((sys, i) => ({ cap: 'create', path: `${dir}/no/${createNames[i]}`, sys })),
  );
  for (const n of createNames) assert.not.ok(existsSync(`${dir}/no/${n}`), `${n} was not created`);
  assert.is(statSync(`${dir}/ok/src.txt`).nlink, 1, 'no hard link was made');
});

test('the target of rename needs create', async () => {
  const { dir, policy } = setup('rename');
  const run = await fsops(policy, ['rename', 'ok/src.txt', 'no/moved', 'rename', 'ok/src.txt', 'ok/moved'], { cwd: dir });
  expectRun(run, ['rename EACCES', 'rename ok'], [{ cap: 'create', path: `${dir}/no/moved`, sys: 'rename' }]);
  assert.not.ok(existsSync(`${dir}/no/moved`));
  assert.is(readFileSync(`${dir}/ok/moved`, 'utf8'), 'SRC');
});

test('create on without a matching rule denies', async () => {
  const { dir } = setup('unmatched');
  const run = await fsops(rules('sandbox/create:on'), ['mkdir', `${dir}/ok/d`]);
  expectRun(run, ['mkdir EACCES'], [{ cap: 'create', path: `${dir}/ok/d`, sys: 'mkdir' }]);
  assert.not.ok(existsSync(`${dir}/ok/d`));
});

test('a name that exists creates nothing: EEXIST without a record; O_CREAT opens the file', async () => {
  const { dir, policy } = setup('exists');
  const e = `${dir}/no/exists.txt`;
  const run = await fsops(policy, [
    'mkdir', e, 'mknod', e, 'symlink', 'x', e, 'link', `${dir}/ok/src.txt`, e,
    'open', e, 'wc', 'open', e, 'wcx', 'creat', `${dir}/no`,
  ]);
  expectRun(run, ['mkdir EEXIST', 'mknod EEXIST', 'symlink EEXIST', 'link EEXIST', 'open ok', 'open EEXIST', 'creat EISDIR']);
  assert.is(readFileSync(e, 'utf8'), 'EXISTS', 'O_CREAT without O_TRUNC left the file as it was');
});

test('symlink is decided on the link path, never on its target', async () => {
  const { dir, policy } = setup('symlink');
  const run = await fsops(policy, ['symlink', `${dir}/no/anything`, `${dir}/ok/l1`, 'symlink', `${dir}/ok/src.txt`, `${dir}/no/l2`]);
  expectRun(run, ['symlink ok', 'symlink EACCES'], [{ cap: 'create', path: `${dir}/no/l2`, sys: 'symlink' }]);
  assert.is(readlinkSync(`${dir}/ok/l1`), `${dir}/no/anything`);
  assert.not.ok(existsSync(`${dir}/no/l2`));
});

test('linkat: AT_SYMLINK_FOLLOW links the target, without it the symlink itself', async () => {
  const { dir, policy } = setup('linkat');
  symlinkSync('src.txt', `${dir}/ok/sym`);
  const run = await fsops(policy, [
    'linkat', 'cwd', 'ok/sym', 'cwd', 'ok/nofollow', '0',
    'linkat', 'cwd', 'ok/sym', 'cwd', 'ok/follow', 'follow',
    'linkat', 'cwd', 'ok/sym', 'cwd', 'no/follow', 'follow',
  ], { cwd: dir });
  expectRun(run, ['linkat ok', 'linkat ok', 'linkat EACCES'], [{ cap: 'create', path: `${dir}/no/follow`, sys: 'linkat' }]);
  assert.ok(lstatSync(`${dir}/ok/nofollow`).isSymbolicLink());
  assert.ok(lstatSync(`${dir}/ok/follow`).isFile());
  assert.is(statSync(`${dir}/ok/src.txt`).nlink, 2);
});

test('the new name is decided on its canonical path: symlinked parents, `..`, dirfd and cwd', async () => {
  const { dir, policy } = setup('canonical');
  symlinkSync('../no', `${dir}/ok/tono`); // an allowed directory's symlink into the denied one
  symlinkSync('../no/made-through-link', `${dir}/ok/dangling`); // O_CREAT follows it
  const run = await fsops(policy, [
    'mkdir', `${dir}/ok/tono/a`,
    'mkdir', `${dir}/ok/../no/b`,
    'open', `${dir}/ok/dangling`, 'wc',
    'openfd', 'n', `${dir}/no`,
    'mkdirat', '@n', 'c',
    'mkdirat', '@n', '../ok/viafd',
    'cd', `${dir}/ok`,
    'mkdir', '../no/d',
    'mkdir', 'here',
  ]);
  expectRun(
    run,
    ['mkdir EACCES', 'mkdir EACCES', 'open EACCES', 'openfd ok', 'mkdirat EACCES', 'mkdirat ok', 'mkdir EACCES', 'mkdir ok'],
    [
      { cap: 'create', path: `${dir}/no/a`, sys: 'mkdir' },
      { cap: 'create', path: `${dir}/no/b`, sys: 'mkdir' },
      { cap: 'create', path: `${dir}/no/made-through-link`, sys: 'open' },
      { cap: 'create', path: `${dir}/no/c`, sys: 'mkdirat' },
      { cap: 'create', path: `${dir}/no/d`, sys: 'mkdir' },
    ],
  );
  for (const n of ['a', 'b', 'c', 'd', 'made-through-link']) assert.not.ok(existsSync(`${dir}/no/${n}`), n);
  assert.ok(statSync(`${dir}/ok/viafd`).isDirectory());
  assert.ok(statSync(`${dir}/ok/here`).isDirectory());
});

test("tsyd creates with the program's umask", async () => {
  const { dir, policy } = setup('umask');
  const run = await fsops(policy, ['umask', '077', 'mkdir', `${dir}/ok/private`, 'creat', `${dir}/ok/private.txt`]);
  expectRun(run, ['umask ok', 'mkdir ok', 'creat ok']);
  assert.is(statSync(`${dir}/ok/private`).mode & 0o777, 0o700);
  assert.is(statSync(`${dir}/ok/private.txt`).mode & 0o777, 0o600);
});

test('as nobody: allowed creates happen (owned by nobody), denied ones do not', async () => {
  const { dir, policy } = setup('nobody');
  for (const sub of ['ok', 'no']) chmodSync(`${dir}/${sub}`, 0o777);
  mkdirSync(`${dir}/root-only`, { mode: 0o755 });
  const allowRootOnly = [...policy, ...rules(`allow/create+${dir}/root-only/***`)];
  const run = await fsops(allowRootOnly, [
    'mkdir', `${dir}/ok/mine`, 'mkdir', `${dir}/no/mine`, 'mkdir', `${dir}/root-only/mine`,
  ], { user: NOBODY });
  // Allowed by the policy is not more than the kernel allows: tsyd creates with the program's rights.
  expectRun(run, ['mkdir ok', 'mkdir EACCES', 'mkdir EACCES'], [{ cap: 'create', path: `${dir}/no/mine`, sys: 'mkdir' }]);
  assert.is(statSync(`${dir}/ok/mine`).uid, NOBODY, dump(run));
  assert.not.ok(existsSync(`${dir}/no/mine`));
  assert.not.ok(existsSync(`${dir}/root-only/mine`), 'the kernel refused nobody in a root directory');
});

// --- race: a thread flips the mkdir path between an allowed and a denied location ------------

raceTests(test, 'mkdir', 'create');

test.run();
