// Paths are decided canonical for every file system capability (stat and delete here; read in
// access.test.ts): /proc/self and /proc/thread-self are the program's, magic links resolve in
// its view, bind mounts and /dev/shm are ordinary paths, non-UTF-8 names match raw-byte rules,
// and the globs behave the same for every capability.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { allowAllBut, dump, expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';

const dir = tempTree('paths', { secret: 'S', open: 'O', 'g/a.txt': '', 'g/a.md': '', 'g/sub/b.txt': '', 'g/subway': '' });

test('/proc/self and /proc/thread-self name the program, not tsyd', async () => {
  const self = await fsops(allowAllBut('stat', '/proc/*/status'), ['stat', '/proc/self/status', 'stat', '/proc/self/stat']);
  expectRun(self, ['stat ENOENT', 'stat ok type=reg size=0'], [{ cap: 'stat', path: `/proc/${self.pid}/status`, sys: 'stat' }]);
  const thread = await fsops(allowAllBut('stat', '/proc/*/task/*/status'), ['stat', '/proc/thread-self/status']);
  expectRun(thread, ['stat ENOENT'], [{ cap: 'stat', path: `/proc/${thread.pid}/task/${thread.pid}/status`, sys: 'stat' }]);
});

test("/proc/self/cwd is the program's cwd: a path through it is decided on the real file", async () => {
  const run = await fsops(allowAllBut('stat', `${dir}/secret`), [
    'cd', dir,
    'stat', '/proc/self/cwd/secret',
    'stat', '/proc/self/cwd/open',
    'readlink', '/proc/self/cwd',
  ]);
  expectRun(run, ['stat ENOENT', 'stat ok type=reg size=1', `readlink ok ${dir}`], [{ cap: 'stat', path: `${dir}/secret`, sys: 'stat' }]);
});

test("/proc/self/fd/N is the program's fd: a stat through it is decided on the file it names", async () => {
  // fd 3 is the first fd the program opens (tsyd leaks none into it). A hidden file cannot be
  // opened at all (it does not exist for the program); a write-denied one can, for reading.
  const policy = [...allowAllBut('stat', `${dir}/secret`), ...allowAllBut('write', `${dir}/open`)];
  const run = await fsops(policy, [
    'openfd', 's', `${dir}/secret`,
    'openfd', 'o', `${dir}/open`,
    'stat', '/proc/self/fd/3',
    'readlink', '/proc/self/fd/3',
    'stat', '/proc/thread-self/fd/3',
    'open', '/proc/self/fd/3', 'w',
  ]);
  expectRun(run, ['openfd ENOENT', 'openfd ok', 'stat ok type=reg size=1', `readlink ok ${dir}/open`, 'stat ok type=reg size=1', 'open EACCES'], [
    { cap: 'stat', path: `${dir}/secret`, sys: 'openat' },
    { cap: 'write', path: `${dir}/open`, sys: 'open' },
  ]);
});

test('a bind mount is decided on the mount path, and allowed calls act on the mounted tree', async () => {
  const src = `${dir}/mount-src`;
  const mnt = `${dir}/mnt`;
  mkdirSync(src);
  mkdirSync(mnt);
  writeFileSync(`${src}/keep`, 'K');
  writeFileSync(`${src}/gone`, 'G');
  execFileSync('mount', ['--bind', src, mnt]);
  try {
    const policy = [...allowAllBut('stat', `${mnt}/keep`), ...rules('sandbox/delete:on', `allow/delete+${mnt}/gone`)];
    const run = await fsops(policy, ['stat', `${mnt}/keep`, 'stat', `${src}/keep`, 'unlink', `${mnt}/keep`, 'unlink', `${mnt}/gone`]);
    expectRun(run, ['stat ENOENT', 'stat ok type=reg size=1', 'unlink ENOENT', 'unlink ok'], [
      { cap: 'stat', path: `${mnt}/keep`, sys: 'stat' },
      // The unlink of a hidden path: it does not exist for the program (ENOENT, a stat record).
      { cap: 'stat', path: `${mnt}/keep`, sys: 'unlink' },
    ]);
    assert.ok(existsSync(`${src}/keep`));
    assert.not.ok(existsSync(`${src}/gone`), 'the allowed unlink removed the file on the mounted tree');
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('/dev/shm (a tmpfs mount) is decided like any path', async () => {
  const shm = `/dev/shm/tsyd-test-${process.pid}`;
  writeFileSync(`${shm}-a`, 'A');
  writeFileSync(`${shm}-b`, 'B');
  try {
    const run = await fsops(rules('sandbox/delete:on', `allow/delete+${shm}-a`), ['unlink', `${shm}-a`, 'unlink', `${shm}-b`]);
    expectRun(run, ['unlink ok', 'unlink EACCES'], [{ cap: 'delete', path: `${shm}-b`, sys: 'unlink' }]);
    assert.not.ok(existsSync(`${shm}-a`));
    assert.ok(existsSync(`${shm}-b`));
  } finally {
    rmSync(`${shm}-a`, { force: true });
    rmSync(`${shm}-b`, { force: true });
  }
});

test('non-UTF-8 names: a rule with raw bytes (from a -P file) matches those bytes only', async () => {
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  const ndir = tempTree('paths-bytes');
  writeFileSync(raw(`${ndir}/bad\xffx`), '');
  writeFileSync(`${ndir}/bad\u00e9`, ''); // é in UTF-8 is c3 a9: no 0xff byte
  const file = `${ndir}/rules.txt`;
  writeFileSync(file, Buffer.concat([raw(`sandbox/stat:on\nallow/stat+/***\ndeny/stat+${ndir}/bad\xff*\n`)]));
  const run = await fsops(['-P', file], ['stat', `${ndir}/bad\\xffx`, 'stat', `${ndir}/bad\\xc3\\xa9`, 'stat', `${ndir}/bad\\xfex`]);
  assert.equal(run.lines, ['stat ENOENT', 'stat ok type=reg size=0', 'stat ENOENT'], dump(run));
  // One record, for the 0xff name (the 0xfe one does not exist: no denial).
  assert.is(run.denials.length, 1, run.result.log);
  const path = String(run.denials[0]?.['path']);
  assert.ok(path.startsWith(`${ndir}/bad`) && path.endsWith('x'), `record path ${JSON.stringify(path)}`);

  const mk = await fsops(rules('sandbox/create:on', `allow/create+${ndir}/***`), ['mkdir', `${ndir}/new\\xfe`]);
  expectRun(mk, ['mkdir ok']);
  assert.ok(existsSync(raw(`${ndir}/new\xfe`)), 'the directory has the raw byte name');
});

test('globs for another capability: `*` and `?` stay in a component, `**` crosses, `/***` includes the dir', async () => {
  const p = (rel: string): string => `${dir}/g/${rel}`;
  const ops = ['a.txt', 'a.md', 'sub/b.txt', 'sub', 'subway'].flatMap((r) => ['stat', p(r)]);
  const lines = async (deny: string): Promise<string[]> => (await fsops(allowAllBut('stat', deny), ops)).lines.map((l) => l.split(' ')[1]!);
  assert.equal(await lines(p('*.txt')), ['ENOENT', 'ok', 'ok', 'ok', 'ok']);
  assert.equal(await lines(p('a.???')), ['ENOENT', 'ok', 'ok', 'ok', 'ok']);
  assert.equal(await lines(p('**.txt')), ['ENOENT', 'ok', 'ENOENT', 'ok', 'ok']);
  assert.equal(await lines(p('sub/***')), ['ok', 'ok', 'ENOENT', 'ENOENT', 'ok']);
  assert.equal(await lines(p('sub*')), ['ok', 'ok', 'ok', 'ENOENT', 'ENOENT']);
});

test.run();
