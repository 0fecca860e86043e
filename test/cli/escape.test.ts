// Ways around the policy that are not an open of a denied path, each shown to work natively
// first: the loader runs an exec-denied binary, a file mapped executable runs its code, chattr
// through a read-only fd, /dev/userfaultfd, a program's own Landlock domain (which tsyd's opens
// would not honour), a walk through a hidden directory and out through "..", an execute-only
// script whose interpreter tsyd cannot see.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd } from '../helpers/tsyd.js';

const dir = mkdtempSync(join(tmpdir(), 'tsyd-escape-'));
chmodSync(dir, 0o777);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const LOADER = '/lib64/ld-linux-x86-64.so.2';
const bin = () => fixture('escape');

test('the loader cannot run an exec-denied binary; a file mapped executable is decided as exec', async () => {
  const denied = join(dir, 'denied-true');
  copyFileSync('/bin/true', denied);
  chmodSync(denied, 0o755);
  const n = await runNative(LOADER, [denied]);
  assert.is(n.code, 0, `natively the loader runs it: ${describe(n)}`);
  for (const user of [undefined, NOBODY]) {
    const policy = ['--log-fd', '3', '-m', 'sandbox/exec:on', '-m', 'allow/exec+/***', '-m', `deny/exec+${denied}`, '-m', 'deny/exec+/dev/***', '-m', 'deny/exec+/SYSV*'];
    const direct = await runTsyd(['run', '-p', 'none', ...policy, '--', denied], { logFd: 3, user });
    assert.is(direct.code, 126, `execve is denied: ${describe(direct)}`);
    const r = await runTsyd(['run', '-p', 'none', ...policy, '--', LOADER, denied], { logFd: 3, user });
    assert.is(r.code, 127, `through the loader: the mapping is refused and ld.so gives up: ${describe(r)}`);
    assert.ok(r.records.some((x) => x['cap'] === 'exec' && x['path'] === denied && x['sys'] === 'mmap'), r.log);
    const m = await runTsyd(['run', '-p', 'none', ...policy, '--', bin(), 'mmapexec', denied], { logFd: 3, user });
    assert.match(m.stdout, /^mmap-exec EACCES$/m, describe(m));
    assert.match(m.stdout, /^mmap-read ok$/m, 'readable, not executable');
    assert.match(m.stdout, /^mprotect-exec EACCES$/m);
    assert.match(m.stdout, /^mmap-anon-exec ok$/m, 'anonymous executable memory (JITs) is not a file');
    assert.match(m.stdout, /^mprotect-shared-anon-exec ok$/m, 'shared anonymous memory is not /dev/zero');
    assert.match(m.stdout, /^mprotect-sysv-shm-exec ok$/m, 'SysV shm is not a file either');
  }
  const natively = await runNative(bin(), ['mmapexec', denied]);
  assert.match(natively.stdout, /mmap-exec ok\n[^]*mprotect-exec ok[^]*mprotect-shared-anon-exec ok\nmprotect-sysv-shm-exec ok/);
});

test('chattr through a read-only fd is decided as write (natively it changes the file)', async () => {
  const f = join(dir, 'attr');
  writeFileSync(f, 'x');
  const n = await runNative(bin(), ['chattr', f]);
  assert.match(n.stdout, /setflags ok/, describe(n));
  const g = join(dir, 'attr2');
  writeFileSync(g, 'x');
  const r = await runTsyd(['run', '-p', 'none', '--log-fd', '3', '-m', 'sandbox/read,write:on', '-m', 'allow/read+/***', '--', bin(), 'chattr', g], { logFd: 3 });
  assert.match(r.stdout, /setflags EACCES/, describe(r));
  assert.ok(r.records.some((x) => x['cap'] === 'write' && x['path'] === g && x['sys'] === 'ioctl'), r.log);
  const ok = await runTsyd(['run', '-p', 'none', '-m', 'sandbox/read,write:on', '-m', 'allow/read+/***', '-m', `allow/write+${g}`, '--', bin(), 'chattr', g]);
  assert.match(ok.stdout, /setflags ok/, `allowed: tsyd sets it: ${describe(ok)}`);
});

test('/dev/userfaultfd gives no userfaultfd (natively, as root, it does)', async () => {
  const n = await runNative(bin(), ['userfaultfd']);
  assert.match(n.stdout, /userfaultfd-ioc-new ok/, describe(n));
  const r = await runTsyd(['run', '-p', 'off', '--', bin(), 'userfaultfd']);
  assert.match(r.stdout, /userfaultfd-ioc-new EPERM/, describe(r));
});

test("a program's own Landlock domain: refused (ENOSYS: no Landlock), natively available", async () => {
  const n = await runNative(bin(), ['landlock']);
  assert.match(n.stdout, /landlock abi \d+/, describe(n));
  const r = await runTsyd(['run', '--', bin(), 'landlock']);
  assert.match(r.stdout, /landlock ENOSYS/, describe(r));
});

test('a walk into a hidden directory and out through .. finds nothing', async () => {
  const hidden = join(dir, 'hidden');
  mkdirSync(join(hidden, 'projects', 'alpha'), { recursive: true });
  const policy = ['--log-fd', '3', '-m', 'sandbox/stat:on', '-m', 'allow/stat+/***', '-m', `deny/stat+${hidden}/***`];
  for (const user of [undefined, NOBODY]) {
    const exists = await runTsyd(['run', '-p', 'none', ...policy, '--', bin(), 'stat', `${hidden}/projects/alpha/../../..`], { logFd: 3, user });
    const missing = await runTsyd(['run', '-p', 'none', ...policy, '--', bin(), 'stat', `${hidden}/nosuch/../..`], { logFd: 3, user });
    assert.is(exists.stdout, 'stat ENOENT\n', describe(exists));
    assert.is(missing.stdout, 'stat ENOENT\n', 'the same answer for a name that does not exist');
    const plain = await runTsyd(['run', '-p', 'none', ...policy, '--', bin(), 'stat', `${dir}/../${dir.split('/').pop()}`], { logFd: 3, user });
    assert.is(plain.stdout, 'stat ok\n', 'a walk that stays visible is fine');
  }
  const n = await runNative(bin(), ['stat', `${hidden}/projects/alpha/../../..`]);
  assert.is(n.stdout, 'stat ok\n', 'natively the walk resolves');
});

test('an execute-only script whose #! tsyd cannot read is refused (the kernel would run its interpreter)', async () => {
  const deniedInterp = join(dir, 'interp');
  copyFileSync('/bin/echo', deniedInterp);
  chmodSync(deniedInterp, 0o755);
  const script = join(dir, 'xonly');
  writeFileSync(script, `#!${deniedInterp} ran-the-denied-interpreter\n`);
  chmodSync(script, 0o111);
  const n = await runNative(script, [], { user: NOBODY });
  assert.match(n.stdout, /ran-the-denied-interpreter/, `natively (as nobody) the kernel runs it: ${describe(n)}`);
  const r = await runTsyd(['run', '-p', 'none', '--log-fd', '3', '-m', 'sandbox/exec:on', '-m', 'allow/exec+/***', '-m', `deny/exec+${deniedInterp}`, '--', 'sh', '-c', `${script}; echo rc=$?`], { logFd: 3, user: NOBODY });
  assert.not.match(r.stdout, /ran-the-denied-interpreter/, describe(r));
  assert.match(r.stdout, /rc=126/, describe(r));
  assert.ok(statSync(script).mode & 0o111);
});

test.run();
