// A path hidden by stat does not exist for the program: stat says ENOENT, listings leave it out,
// and no other call's errno tells it apart from a missing file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { expectRun, fsops } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, tsydBin } from '../helpers/tsyd.js';

const dir = tempTree('hidden', { 'a': '1', 'b': '2', 'secret': 'S', 'vault/key': 'K' });
const many = tempTree('hidden-many', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`h${i}`, ''])));
const policy = (hide: string[]) => [
  '-m', 'sandbox/stat,read:on', '-m', 'allow/stat+/***', '-m', 'allow/read+/***',
  ...hide.flatMap((h) => ['-m', `deny/stat+${h}`, '-m', `deny/read+${h}`]),
];

test('ls leaves hidden entries out; stat of them is ENOENT', async () => {
  const r = await runTsyd(['run', ...policy([`${dir}/secret`, `${dir}/vault/***`]), '--', 'ls', '-a', dir]);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, '.\n..\na\nb\n', describe(r));
  const s = await runTsyd(['run', ...policy([`${dir}/secret`]), '--', 'stat', `${dir}/secret`]);
  assert.is(s.code, 1);
  assert.match(s.stderr, /No such file or directory/);
});

test('reading a hidden file fails with ENOENT, not EACCES', async () => {
  const r = await runTsyd(['run', ...policy([`${dir}/secret`]), '--', 'cat', `${dir}/secret`, `${dir}/missing`]);
  assert.is(r.code, 1);
  const errs = r.otherStderr.filter((l) => l.startsWith('cat:'));
  assert.equal(errs, [`cat: ${dir}/secret: No such file or directory`, `cat: ${dir}/missing: No such file or directory`], describe(r));
});

test('a directory whose entries are all hidden in a chunk still lists the rest (no early end)', async () => {
  // Everything hidden but two names, wherever the kernel puts them in the stream.
  const keep = ['-m', `allow/stat+${many}/h2999`, '-m', `allow/stat+${many}/h7`];
  const r = await runTsyd(['run', ...policy([`${many}/h*`]), ...keep, '--', 'ls', many]);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'h2999\nh7\n', describe(r));
});

test('no errno of a failed lookup tells a hidden file apart from a missing one (ENOTDIR, ELOOP)', async () => {
  // Found by the fuzzer (test/reliability/fuzz.test.ts): "hidden/" said ENOTDIR and a symlink
  // loop ELOOP, where a missing path says ENOENT.
  symlinkSync('loop', `${dir}/vault/loop`);
  const run = await fsops(policy([`${dir}/secret`, `${dir}/vault/***`]), [
    'stat', `${dir}/secret/`,
    'stat', `${dir}/secret/x`,
    'open', `${dir}/secret/.`, 'r',
    'mkdir', `${dir}/secret/d`,
    'access', `${dir}/vault/key/`, 'f',
    'stat', `${dir}/vault/loop`,
    'open', `${dir}/vault/loop/x`, 'wc',
    'stat', `${dir}/missing/`,
    'stat', `${dir}/a/`, // visible: the kernel's answer
  ]);
  assert.is(run.result.code, 0, describe(run.result));
  assert.equal(run.lines, [
    'stat ENOENT', 'stat ENOENT', 'open ENOENT', 'mkdir ENOENT', 'access ENOENT', 'stat ENOENT', 'open ENOENT',
    'stat ENOENT', 'stat ENOTDIR',
  ], describe(run.result));
  // Each answer is a stat denial of the hidden object (logged once per object and call).
  assert.ok(run.denials.length > 0 && run.denials.every((d) => d['cap'] === 'stat' && String(d['path']).startsWith(`${dir}/`)), run.result.log);
  assert.ok(run.denials.every((d) => d['path'] !== `${dir}/missing` && d['path'] !== `${dir}/a`), run.result.log);
});

test("a directory's link count leaves its hidden subdirectories out (natively it counts them)", async () => {
  // st_nlink of a directory is 2 + its subdirectories: 2 + a, h1, h2 natively.
  const parent = tempTree('hidden-nlink', { 'hf': '' });
  for (const d of ['a', 'h1', 'h2', 'h1/inner']) mkdirSync(`${parent}/${d}`, { mode: 0o755 });
  const ops = ['nlink', parent, 'openfd', 'p', parent, 'fnlink', '@p', 'nlink', `${parent}/a`];
  for (const user of [undefined, NOBODY]) {
    const native = await runNative(fixture('fsops'), ops, { user });
    assert.is(native.stdout, 'nlink ok 5 statx=5\nopenfd ok\nfnlink ok 5 statx=5\nnlink ok 2 statx=2\n', describe(native));
    const run = await fsops(policy([`${parent}/h*`]), ops, { user });
    // stat, statx, and both through an fd: 2 + a. No record: the program did not name them.
    expectRun(run, ['nlink ok 3 statx=3', 'openfd ok', 'fnlink ok 3 statx=3', 'nlink ok 2 statx=2']);
    // Nothing hidden below this directory: the kernel's count.
    expectRun(await fsops(policy([`${dir}/secret`]), ops, { user }), ['nlink ok 5 statx=5', 'openfd ok', 'fnlink ok 5 statx=5', 'nlink ok 2 statx=2']);
  }
  // A directory tsyd cannot list (as the program: nobody, search but no read permission) cannot
  // be counted: 1, what a file system that does not count says, never the number with the hidden.
  chmodSync(parent, 0o711);
  const native = await runNative(fixture('fsops'), ['nlink', parent], { user: NOBODY });
  assert.is(native.stdout, 'nlink ok 5 statx=5\n', describe(native));
  expectRun(await fsops(policy([`${parent}/h*`]), ['nlink', parent], { user: NOBODY }), ['nlink ok 1 statx=1']);
  chmodSync(parent, 0o755);
  const ls = await runTsyd(['run', ...policy([`${parent}/h*`]), '--', 'ls', '-ld', parent]);
  assert.match(ls.stdout, /^drwxr-xr-x 3 /, describe(ls));
});

test('a hidden symlink leads nowhere, even to a visible file (absolute, relative, chained); a shown one does', async () => {
  // Found by review: "hidden/link" to a visible file resolved, telling that hidden holds "link".
  const tree = tempTree('hidden-links', { 'open': 'O', 'vault/key': 'K' });
  symlinkSync(`${tree}/open`, `${tree}/vault/abs`);
  symlinkSync('../open', `${tree}/vault/rel`);
  symlinkSync(`${tree}/open`, `${tree}/vault/shown`); // in the hidden directory, but allowed by name
  symlinkSync('vault/abs', `${tree}/via`); // visible, but through the hidden link
  const ops = ['stat', `${tree}/vault/abs`, 'read', `${tree}/vault/rel`, 'read', `${tree}/via`, 'read', `${tree}/open`, 'read', `${tree}/vault/shown`];
  const shown = ['-m', `allow/stat+${tree}/vault/shown`, '-m', `allow/read+${tree}/vault/shown`];
  for (const user of [undefined, NOBODY]) {
    const native = await runNative(fixture('fsops'), ops, { user });
    assert.is(native.stdout, 'stat ok type=reg size=1\n' + 'read ok O\n'.repeat(4), describe(native));
    const run = await fsops([...policy([`${tree}/vault/***`]), ...shown], ops, { user });
    assert.is(run.result.code, 0, describe(run.result));
    assert.equal(run.lines, ['stat ENOENT', 'read ENOENT', 'read ENOENT', 'read ok O', 'read ok O'], describe(run.result));
    const paths = run.denials.map((d) => `${d['cap']} ${d['path']}`);
    assert.equal(paths, [`stat ${tree}/vault/abs`, `stat ${tree}/vault/rel`, `stat ${tree}/vault/abs`], run.result.log);
  }
});

test('a directory that may hold hidden entries cannot be watched (inotify events name entries)', async () => {
  const tree = tempTree('hidden-watch', { 'open/f': '', 'mixed/a': '', 'mixed/secret': '' });
  const ops = ['inotify', `${tree}/mixed`, '0', 'inotify', `${tree}/mixed/a`, '0', 'inotify', `${tree}/open`, 'onlydir', 'inotify', tree, '0'];
  for (const user of [undefined, NOBODY]) {
    const native = await runNative(fixture('fsops'), ops, { user });
    assert.is(native.stdout, 'inotify ok\n'.repeat(4), describe(native));
    // An event on mixed would say IN_CREATE "secret" when it is made again: refused, and said.
    const run = await fsops(policy([`${tree}/mixed/secret`]), ops, { user });
    assert.is(run.result.code, 0, describe(run.result));
    assert.equal(run.lines, ['inotify EACCES', 'inotify ok', 'inotify ok', 'inotify ok'], describe(run.result));
    const refusals = run.result.records.filter((r) => r['cap'] === 'containment');
    assert.equal(refusals.map((r) => [r['sys'], r['target']]), [['inotify_add_watch', `${tree}/mixed (watched, its events would name entries stat hides)`]], run.result.log);
  }
});

test('an fd of a hidden object, handed in from outside, says nothing: raw fstat, fstatfs, flistxattr (Go uses raw fstat)', async () => {
  const tree = tempTree('hidden-fd', { 'vault/key': 'KEY', 'shown': 'S' });
  for (const d of ['sub', 'hsub']) mkdirSync(`${tree}/${d}`, { mode: 0o755 });
  const ops = ['rawfstat', '#0', 'fstatfs', '#0', 'flistxattr', '#0'];
  // stdin opened by the shell outside tsyd (or natively): the program never named the path.
  const withStdin = (file: string, argv: string[], user?: number) =>
    runNative('/bin/sh', ['-c', `exec "$0" "$@" < ${file}`, ...argv], { user });
  for (const user of [undefined, NOBODY]) {
    const native = await withStdin(`${tree}/vault/key`, [fixture('fsops'), ...ops], user);
    assert.match(native.stdout, /^rawfstat ok nlink=1 size=3\nfstatfs ok type=0x[0-9a-f]+\nflistxattr ok\n$/, describe(native));
    const tsyd = [process.execPath, tsydBin, 'run', ...policy([`${tree}/vault/***`, `${tree}/hsub`]), '--', fixture('fsops')];
    const hidden = await withStdin(`${tree}/vault/key`, [...tsyd, ...ops], user);
    assert.is(hidden.stdout, 'rawfstat ENOENT\nfstatfs ENOENT\nflistxattr ENOENT\n', describe(hidden));
    const shown = await withStdin(`${tree}/shown`, [...tsyd, ...ops], user);
    assert.match(shown.stdout, /^rawfstat ok nlink=1 size=1\nfstatfs ok/, describe(shown));
    // A directory's link count leaves the hidden subdirectories (vault, hsub) out, as stat does (natively 5).
    const dir = await withStdin(tree, [...tsyd, 'rawfstat', '#0'], user);
    assert.match(dir.stdout, /^rawfstat ok nlink=3 /, describe(dir));
  }
});

test.run();
