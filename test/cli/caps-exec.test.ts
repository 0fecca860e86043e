// The exec capability: execve and execveat, decided on the canonical path of the binary and of
// the interpreter of a `#!` script. A denied exec is EACCES with one record and the program does
// not run (it would print); the initial program is checked too (exit 126).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { allowAllBut, expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runTsyd } from '../helpers/tsyd.js';

const dir = tempTree('exec');
const echo = realpathSync('/bin/echo'); // /usr/bin/echo where /bin is a symlink
const sh = realpathSync('/bin/sh'); // the interpreter's canonical path (dash on Debian)
const script = `${dir}/script.sh`;
writeFileSync(script, '#!/bin/sh\necho script-ran "$1"\n', { mode: 0o755 });
symlinkSync('/bin/echo', `${dir}/myecho`);

test('an allowed exec runs the program', async () => {
  const run = await fsops(allowAllBut('exec', `${dir}/nothing`), ['execve', '/bin/echo', 'echoed']);
  expectRun(run, ['echoed']);
});

test('a denied execve is EACCES, the program does not run and the caller goes on', async () => {
  const run = await fsops(allowAllBut('exec', echo), [
    'execve', '/bin/echo', 'echoed',
    'execve', `${dir}/myecho`, 'echoed', // through a symlink: the target decides
    'access', dir, 'f',
  ]);
  expectRun(run, ['execve EACCES', 'execve EACCES', 'access ok'], [
    { cap: 'exec', path: echo, sys: 'execve' },
    { cap: 'exec', path: echo, sys: 'execve' },
  ]);
});

test('execveat: dirfd-relative and AT_EMPTY_PATH on an fd are decided on the binary', async () => {
  const binDir = echo.slice(0, echo.lastIndexOf('/'));
  const name = echo.slice(binDir.length + 1);
  const ops = ['openfd', 'b', binDir, 'openfd', 'e', echo, 'execveat', '@b', name, 'x', '0', 'execveat', '@e', '', 'x', 'empty'];
  const denied = await fsops(allowAllBut('exec', echo), ops);
  expectRun(denied, ['openfd ok', 'openfd ok', 'execveat EACCES', 'execveat EACCES'], [
    { cap: 'exec', path: echo, sys: 'execveat' },
    { cap: 'exec', path: echo, sys: 'execveat' },
  ]);
  const allowed = await fsops(allowAllBut('exec', `${dir}/nothing`), ['openfd', 'e', echo, 'execveat', '@e', '', 'from-fd', 'empty']);
  expectRun(allowed, ['openfd ok', 'from-fd']);
});

test('a #! script: its interpreter is decided too', async () => {
  const ok = await fsops(allowAllBut('exec', `${dir}/nothing`), ['execve', script, 'arg']);
  expectRun(ok, ['script-ran arg']);
  const noInterp = await fsops(allowAllBut('exec', sh), ['execve', script, 'arg']);
  expectRun(noInterp, ['execve EACCES'], [{ cap: 'exec', path: sh, sys: 'execve' }]);
  const noScript = await fsops(allowAllBut('exec', script), ['execve', script, 'arg']);
  expectRun(noScript, ['execve EACCES'], [{ cap: 'exec', path: script, sys: 'execve' }]);
});

test('the initial program is checked: allowed runs, denied exits 126 without running', async () => {
  const usrOnly = rules('sandbox/exec:on', 'allow/exec+/usr/***');
  const ok = await runTsyd(['run', '-p', 'none', ...usrOnly, '--', '/usr/bin/true']);
  assert.is(ok.code, 0, describe(ok));
  assert.equal(ok.records, [], describe(ok));

  const fsops = fixture('fsops');
  const denied = await runTsyd(['run', '-p', 'none', '--log-fd', '3', ...usrOnly, '--', fsops, 'pid'], { logFd: 3 });
  assert.is(denied.code, 126, describe(denied));
  assert.is(denied.stdout, '', 'the program did not run');
  const access = denied.records.filter((r) => r['ctx'] === 'access');
  assert.equal(access.map((r) => [r['level'], r['cap'], r['path'], r['sys']]), [['warn', 'exec', fsops, 'execve']], denied.log);
});

test('as nobody: the initial program and later execs are decided as for root', async () => {
  const asNobody = { user: NOBODY };
  const ok = await runTsyd(['run', '-p', 'none', ...rules('sandbox/exec:on', 'allow/exec+/***'), '--', '/usr/bin/true'], asNobody);
  assert.is(ok.code, 0, describe(ok));
  const run = await fsops(allowAllBut('exec', echo), ['execve', '/bin/echo', 'echoed', 'execve', '/usr/bin/printf', 'printed'], asNobody);
  expectRun(run, ['execve EACCES', 'printed'], [{ cap: 'exec', path: echo, sys: 'execve' }]);
});

test.run();
