// The addon's canonicalisation, against a real process whose cwd and fds we control.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native, Resolve } from '../../src/native/addon.js';

const AT_FDCWD = -100;
const { ENOENT, ELOOP, EXDEV, EACCES, ENOTDIR, EBADF } = constants.errno;

let dir: string;
let target: ChildProcess;

test.before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tsyd-canon-')));
  mkdirSync(join(dir, 'a/b'), { recursive: true });
  writeFileSync(join(dir, 'a/b/file'), 'x');
  symlinkSync(join(dir, 'a/b/file'), join(dir, 'abs-link'));
  symlinkSync('a/b', join(dir, 'rel-link'));
  symlinkSync('loop2', join(dir, 'loop1'));
  symlinkSync('loop1', join(dir, 'loop2'));
  symlinkSync('/', join(dir, 'a/root-link'));
  // A program that sits in `dir` with fd 3 open on `dir/a` (the dirfd for relative lookups).
  const fd = openSync(join(dir, 'a'), 'r');
  target = spawn('sleep', ['60'], { cwd: dir, stdio: ['ignore', 'ignore', 'ignore', fd] });
  closeSync(fd);
  await new Promise((r) => target.once('spawn', r));
});

test.after(() => {
  target.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const canon = (path: string, dirfd = AT_FDCWD, flags = 0) => native.canonicalize(target.pid!, path, dirfd, flags);

test('absolute paths: dots, double slashes and .. above the root', () => {
  assert.is(canon(`${dir}//a/./b/../b/file`), `${dir}/a/b/file`);
  assert.is(canon('/../../etc/../etc/hostname'), '/etc/hostname');
  assert.is(canon('/'), '/');
});

test('relative paths start at the program cwd, or at its dirfd', () => {
  assert.is(canon('a/b/file'), `${dir}/a/b/file`);
  assert.is(canon('b/file', 3), `${dir}/a/b/file`);
  assert.is(canon('../abs-link', 3), `${dir}/a/b/file`);
  assert.is(canon('x', 99), -EBADF);
});

test('symlinks are resolved, absolute and relative, in the middle and at the end', () => {
  assert.is(canon(`${dir}/abs-link`), `${dir}/a/b/file`);
  assert.is(canon(`${dir}/rel-link/file`), `${dir}/a/b/file`);
  assert.is(canon(`${dir}/a/root-link/etc/hostname`), '/etc/hostname');
  assert.is(canon(`${dir}/rel-link/../b/file`), `${dir}/a/b/file`, '.. applies to the resolved directory');
});

test('no-follow keeps a trailing symlink; missing last components are allowed, middle ones not', () => {
  assert.is(canon(`${dir}/abs-link`, AT_FDCWD, Resolve.noFollow), `${dir}/abs-link`);
  assert.is(canon(`${dir}/a/new-file`), `${dir}/a/new-file`);
  assert.is(canon(`${dir}/missing/new-file`), -ENOENT);
  assert.is(canon(`${dir}/a/b/file/x`), -ENOTDIR);
  assert.is(canon(`${dir}/a/b/file/`), -ENOTDIR, 'a trailing slash needs a directory');
  assert.is(canon(`${dir}/a/b/`), `${dir}/a/b`);
});

test('deep paths: plain ones (resolved in one lookup) and with a symlink, a file, a missing directory or a link at the end', () => {
  mkdirSync(join(dir, 'd1/d2/d3/d4'), { recursive: true });
  writeFileSync(join(dir, 'd1/d2/d3/d4/f'), '');
  symlinkSync('d3', join(dir, 'd1/d2/l3')); // relative, in the middle
  symlinkSync(join(dir, 'd1'), join(dir, 'l1')); // absolute, near the start
  symlinkSync('f', join(dir, 'd1/d2/d3/d4/lf')); // at the end
  const f = `${dir}/d1/d2/d3/d4/f`;
  assert.is(canon(f), f);
  assert.is(canon('d1/d2/d3/d4/f'), f, 'from the cwd');
  assert.is(canon('../d1/d2/d3/d4/f', 3), f, '.. from the dirfd');
  assert.is(canon(`${dir}/d1/d2/l3/d4/f`), f);
  assert.is(canon(`${dir}/l1/d2/d3/d4/f`), f);
  assert.is(canon('l1/d2/l3/d4/lf'), f);
  assert.is(canon(`${dir}/d1/d2/d3/d4/lf`), f);
  assert.is(canon(`${dir}/d1/d2/d3/d4/lf`, AT_FDCWD, Resolve.noFollow), `${dir}/d1/d2/d3/d4/lf`);
  assert.is(canon(`${dir}/d1/d2/l3/d4/lf`, AT_FDCWD, Resolve.noFollow), `${dir}/d1/d2/d3/d4/lf`);
  assert.is(canon(`${dir}/d1/d2/l3/d4/f`, AT_FDCWD, Resolve.noSymlinks), -ELOOP);
  assert.is(canon(`${f}/x/y`), -ENOTDIR);
  assert.is(canon(`${dir}/d1/nope/d3/d4/f`), -ENOENT);
  assert.is(canon(`${dir}/d1/d2/d3/d4/new`), `${dir}/d1/d2/d3/d4/new`);
  assert.is(canon('/proc/self/cwd/d1/d2/l3/d4'), `${dir}/d1/d2/d3/d4`);
  assert.is(canon('/proc/self/fd/3/../d1/d2/d3'), `${dir}/d1/d2/d3`);
});

test('loops and resolve flags', () => {
  assert.is(canon(`${dir}/loop1`), -ELOOP);
  assert.is(canon(`${dir}/abs-link`, AT_FDCWD, Resolve.noSymlinks), -ELOOP);
  assert.is(canon('/etc/hostname', 3, Resolve.beneath), -EXDEV);
  assert.is(canon('../../x', 3, Resolve.beneath), -EXDEV);
  assert.is(canon('b/file', 3, Resolve.beneath), `${dir}/a/b/file`);
  assert.is(canon('/b/../../b/file', 3, Resolve.inRoot), `${dir}/a/b/file`, 'IN_ROOT clamps / and .. to the dirfd');
  assert.is(canon('', AT_FDCWD), -ENOENT);
});

test('RESOLVE_NO_XDEV: a walk that crosses a mount point fails with EXDEV', () => {
  // /proc is always its own mount; the test dir is not below a mount point of its own.
  assert.is(canon('/proc/self/status', AT_FDCWD, Resolve.noXdev), -EXDEV);
  assert.is(canon('b/file', 3, Resolve.noXdev), `${dir}/a/b/file`, 'within one directory tree: no mount crossed');
});

test('/proc/self and /proc/thread-self name the program; magic links are resolved or kept', () => {
  const pid = target.pid!;
  assert.is(canon('/proc/self/status'), `/proc/${pid}/status`);
  assert.is(canon('/proc/thread-self/status'), `/proc/${pid}/task/${pid}/status`);
  assert.is(canon('/proc/self/cwd/a'), `${dir}/a`);
  assert.is(canon('/proc/self/fd/3/b/file'), `${dir}/a/b/file`);
  // stdin is /dev/null (a path); a pipe or socket has none and stays a magic link of its own.
  assert.is(canon('/proc/self/fd/0'), '/dev/null');
});

test("the supervisor's own /proc entries are refused", () => {
  assert.is(canon(`/proc/${process.pid}/mem`), -EACCES);
  assert.is(canon(`/proc/${process.pid}/fd`), -EACCES);
  // Not even followed out again: /proc/<tsyd>/cwd and fd/N would lead to tsyd's files by name.
  assert.is(canon(`/proc/${process.pid}/cwd/x`), -EACCES, 'a symlink out of /proc/<tsyd> is refused too');
  assert.is(canon(`/proc/${process.pid}/fd/1`), -EACCES);
});

test.run();
