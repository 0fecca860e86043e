// The delete capability (unlink, unlinkat, rmdir, the source of rename) and how rename combines
// delete and create. Allowed calls really remove or move; denied ones are EACCES with exactly one
// record and leave the tree as it was.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { fsops, expectRun, rules } from '../helpers/fsops.js';
import { raceTests } from '../helpers/fsrace.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY } from '../helpers/tsyd.js';

/** ok/ and no/ each with a file f, a dir d and a symlink l; delete allowed under ok/ only. */
function setup(name: string, policy = (dir: string) => rules('sandbox/delete:on', `allow/delete+${dir}/ok/***`)) {
  const dir = tempTree(`delete-${name}`, { 'ok/f': 'OKF', 'ok/g': 'OKG', 'no/f': 'NOF', 'no/g': 'NOG', 'ok/d/.keep': '', 'no/d/.keep': '' });
  for (const sub of ['ok', 'no']) {
    mkdirSync(`${dir}/${sub}/e`);
    mkdirSync(`${dir}/${sub}/e2`);
    symlinkSync('f', `${dir}/${sub}/l`);
  }
  return { dir, policy: policy(dir) };
}

/** unlink, unlinkat, unlinkat(AT_REMOVEDIR), rmdir of names under `sub/`. */
const removeOps = (sub: string): string[] => [
  'unlink', `${sub}/f`,
  'openfd', 'd', sub,
  'unlinkat', '@d', 'g', '0',
  'unlinkat', '@d', 'e', 'removedir',
  'rmdir', `${sub}/e2`,
  'unlink', `${sub}/l`,
];

test('allowed unlink, unlinkat (0 and AT_REMOVEDIR), rmdir remove the name', async () => {
  const { dir, policy } = setup('allowed');
  const run = await fsops(policy, removeOps('ok'), { cwd: dir });
  expectRun(run, ['unlink ok', 'openfd ok', 'unlinkat ok', 'unlinkat ok', 'rmdir ok', 'unlink ok']);
  for (const n of ['f', 'g', 'e', 'e2', 'l']) assert.not.ok(existsSync(`${dir}/ok/${n}`), n);
});

test('denied removals: EACCES, one record each, everything still there', async () => {
  const { dir, policy } = setup('denied');
  const run = await fsops(policy, removeOps('no'), { cwd: dir });
  const p = (n: string): string => `${dir}/no/${n}`;
  expectRun(
    run,
    ['unlink EACCES', 'openfd ok', 'unlinkat EACCES', 'unlinkat EACCES', 'rmdir EACCES', 'unlink EACCES'],
    [
      { cap: 'delete', path: p('f'), sys: 'unlink' },
      { cap: 'delete', path: p('g'), sys: 'unlinkat' },
      { cap: 'delete', path: p('e'), sys: 'unlinkat' },
      { cap: 'delete', path: p('e2'), sys: 'rmdir' },
      { cap: 'delete', path: p('l'), sys: 'unlink' }, // the link itself, not its target
    ],
  );
  assert.is(readFileSync(p('f'), 'utf8'), 'NOF');
  assert.is(readFileSync(p('g'), 'utf8'), 'NOG');
  assert.ok(lstatSync(p('e')).isDirectory() && lstatSync(p('e2')).isDirectory());
  assert.ok(lstatSync(p('l')).isSymbolicLink());
});

test('unlinking a symlink in an allowed dir that points into a denied one removes only the link', async () => {
  const { dir, policy } = setup('symlink');
  symlinkSync(`${dir}/no/f`, `${dir}/ok/tonof`);
  symlinkSync(`${dir}/no`, `${dir}/ok/tono`);
  const run = await fsops(policy, ['unlink', `${dir}/ok/tonof`, 'unlink', `${dir}/ok/tono/g`]);
  expectRun(run, ['unlink ok', 'unlink EACCES'], [{ cap: 'delete', path: `${dir}/no/g`, sys: 'unlink' }]);
  assert.not.ok(existsSync(`${dir}/ok/tonof`));
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'NOF');
  assert.is(readFileSync(`${dir}/no/g`, 'utf8'), 'NOG');
});

test('delete on without a matching rule denies', async () => {
  const { dir } = setup('unmatched');
  const run = await fsops(rules('sandbox/delete:on'), ['unlink', `${dir}/ok/f`]);
  expectRun(run, ['unlink EACCES'], [{ cap: 'delete', path: `${dir}/ok/f`, sys: 'unlink' }]);
  assert.ok(existsSync(`${dir}/ok/f`));
});

test('as nobody: an allowed unlink happens, a denied one is refused and logged', async () => {
  const { dir, policy } = setup('nobody');
  for (const sub of ['ok', 'no']) chmodSync(`${dir}/${sub}`, 0o777);
  const run = await fsops(policy, ['unlink', `${dir}/ok/f`, 'unlink', `${dir}/no/f`], { user: NOBODY });
  expectRun(run, ['unlink ok', 'unlink EACCES'], [{ cap: 'delete', path: `${dir}/no/f`, sys: 'unlink' }]);
  assert.not.ok(existsSync(`${dir}/ok/f`));
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'NOF');
});

// --- rename ----------------------------------------------------------------------------------------

/** delete and create both on, both allowed under ok/ only. */
const both = (dir: string): string[] =>
  rules('sandbox/delete,create:on', `allow/delete+${dir}/ok/***`, `allow/create+${dir}/ok/***`);

test('rename: the source needs delete', async () => {
  const { dir } = setup('rename-src', both);
  const run = await fsops(both(dir), [
    'rename', 'no/f', 'ok/new1',
    'openfd', 'o', 'ok', 'openfd', 'n', 'no',
    'renameat', '@n', 'g', '@o', 'new2',
    'renameat2', '@n', 'g', '@o', 'new3', 'noreplace',
    'rename', 'ok/f', 'ok/moved',
  ], { cwd: dir });
  expectRun(run, ['rename EACCES', 'openfd ok', 'openfd ok', 'renameat EACCES', 'renameat2 EACCES', 'rename ok'], [
    { cap: 'delete', path: `${dir}/no/f`, sys: 'rename' },
    { cap: 'delete', path: `${dir}/no/g`, sys: 'renameat' },
    { cap: 'delete', path: `${dir}/no/g`, sys: 'renameat2' },
  ]);
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'NOF');
  assert.is(readFileSync(`${dir}/no/g`, 'utf8'), 'NOG');
  for (const n of ['new1', 'new2', 'new3', 'f']) assert.not.ok(existsSync(`${dir}/ok/${n}`), n);
  assert.is(readFileSync(`${dir}/ok/moved`, 'utf8'), 'OKF');
});

test('rename: the target needs create; replacing an existing target needs delete too', async () => {
  const { dir } = setup('rename-dst', both);
  // create allowed in no/ too, delete not: a new name is fine, replacing no/g is not.
  const policy = [...both(dir), ...rules(`allow/create+${dir}/no/***`)];
  const run = await fsops(both(dir), ['rename', 'ok/f', 'no/new'], { cwd: dir });
  expectRun(run, ['rename EACCES'], [{ cap: 'create', path: `${dir}/no/new`, sys: 'rename' }]);
  assert.not.ok(existsSync(`${dir}/no/new`));
  assert.is(readFileSync(`${dir}/ok/f`, 'utf8'), 'OKF');

  const replace = await fsops(policy, ['rename', 'ok/f', 'no/g', 'renameat2', 'cwd', 'ok/f', 'cwd', 'no/g', 'noreplace', 'rename', 'ok/f', 'no/new'], { cwd: dir });
  expectRun(replace, ['rename EACCES', 'renameat2 EEXIST', 'rename ok'], [{ cap: 'delete', path: `${dir}/no/g`, sys: 'rename' }]);
  assert.is(readFileSync(`${dir}/no/g`, 'utf8'), 'NOG', 'the target was not replaced');
  assert.is(readFileSync(`${dir}/no/new`, 'utf8'), 'OKF');
});

test('RENAME_EXCHANGE needs delete and create on both names', async () => {
  const { dir } = setup('exchange', both);
  const createEverywhere = [...both(dir), ...rules(`allow/create+${dir}/no/***`)];
  const deleteEverywhere = [...both(dir), ...rules(`allow/delete+${dir}/no/***`)];
  const x = (a: string, b: string): string[] => ['renameat2', 'cwd', a, 'cwd', b, 'exchange'];
  const noDelete = await fsops(createEverywhere, [...x('ok/f', 'no/f'), ...x('no/f', 'ok/f')], { cwd: dir });
  expectRun(noDelete, ['renameat2 EACCES', 'renameat2 EACCES'], [
    { cap: 'delete', path: `${dir}/no/f`, sys: 'renameat2' },
    { cap: 'delete', path: `${dir}/no/f`, sys: 'renameat2' },
  ]);
  const noCreate = await fsops(deleteEverywhere, [...x('ok/f', 'no/f'), ...x('no/f', 'ok/f')], { cwd: dir });
  expectRun(noCreate, ['renameat2 EACCES', 'renameat2 EACCES'], [
    { cap: 'create', path: `${dir}/no/f`, sys: 'renameat2' },
    { cap: 'create', path: `${dir}/no/f`, sys: 'renameat2' },
  ]);
  assert.is(readFileSync(`${dir}/ok/f`, 'utf8'), 'OKF');
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'NOF');

  const allowed = await fsops([...createEverywhere, ...rules(`allow/delete+${dir}/no/***`)], x('ok/f', 'no/f'), { cwd: dir });
  expectRun(allowed, ['renameat2 ok']);
  assert.is(readFileSync(`${dir}/ok/f`, 'utf8'), 'NOF');
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'OKF');
});

// --- race: a thread flips the unlink path between an allowed and a denied location ------------

raceTests(test, 'unlink', 'delete');

test.run();
