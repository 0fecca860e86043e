// SafeSetID: set*id calls along declared transits (setuid+SRC:DST, setgid+SRC:DST) go on, and
// from then on tsyd acts with the program's new credentials: the kernel checks what tsyd does
// for it (opens, creates) as the program's own. Any other change is EPERM with a ctx:"setid" record.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { runBpf } from '../helpers/bpf-run.js';
import { native } from '../../src/native/addon.js';
import { ownTree, tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, tsydBin, type RunResult } from '../helpers/tsyd.js';

const dir = tempTree('setid', { 'secret': 'root only\n', 'open.txt': 'anyone\n' });
chmodSync(`${dir}/secret`, 0o600);
const TRANSITS = ['-m', 'setuid+root:nobody', '-m', 'setgid+root:nogroup'];
// The policy allows reading everything here: only the kernel can refuse the secret.
const POLICY = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***'];

/** Python: each step prints NAME ok|ERRNO. */
const steps = (...lines: Array<[string, string]>) =>
  `import os, errno, sys\ndef t(name, f):\n    try:\n        f(); print(name, "ok")\n    except OSError as e:\n        print(name, errno.errorcode[e.errno])\n` +
  lines.map(([name, code]) => `t(${JSON.stringify(name)}, lambda: ${code})`).join('\n') + '\n';

const setidRecords = (r: RunResult) => r.records.filter((x) => x.ctx === 'setid' && x.level === 'warn');

/** `tsyd run ARGS` started with these supplementary groups (setpriv --groups, comma-separated). */
const runTsydInGroups = (groups: string, args: string[]) => runNative('setpriv', ['--groups', groups, process.execPath, tsydBin, 'run', ...args]);

test('root → nobody along setuid+root:nobody: then the root-only file is EACCES (tsyd opened it as 65534)', async () => {
  const script = steps(['before', `open("${dir}/secret").read()`], ['setuid1000', 'os.setuid(1000)'], ['setuid', 'os.setuid(65534)'], ['after', `open("${dir}/secret").read()`], ['other', `open("${dir}/open.txt").read()`]);
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, 'before ok\nsetuid1000 EPERM\nsetuid ok\nafter EACCES\nother ok\n', describe(r));
  const recs = setidRecords(r);
  assert.is(recs.length, 1, describe(r));
  assert.is(recs[0]!.sys, 'setuid');
  assert.is(recs[0]!.want, 1000);
});

test('a blocking open (a FIFO: made on a job thread) after the drop is EACCES on a root-only FIFO, as natively', async () => {
  const d = tempTree('setid-fifo');
  spawnSync('mkfifo', ['-m', '600', `${d}/root-only`]);
  spawnSync('mkfifo', ['-m', '666', `${d}/warm`]);
  // First, as root, two blocking opens of a FIFO that meet (each on a job thread, which then
  // stays idle a while, with the credentials it had), then the drop and the open that must fail.
  const script = `import os, threading
w = threading.Thread(target=lambda: os.close(os.open("${d}/warm", os.O_WRONLY)))
w.start(); os.close(os.open("${d}/warm", os.O_RDONLY)); w.join()
os.setuid(65534)
try:
    os.open("${d}/root-only", os.O_RDONLY); print("opened")
except OSError as e:
    print(e.strerror)`;
  const n = await runNative('python3', ['-c', script]);
  assert.is(n.stdout, 'Permission denied\n', describe(n));
  // With tsyd's credentials the open would wait for a writer for ever (the run's timeout).
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', script], { timeoutMs: 20_000 });
  assert.is(r.stdout, 'Permission denied\n', describe(r));
});

test('after the drop, paths are resolved as the program: a symlink in a directory it cannot search is EACCES, as natively', async () => {
  const t = tempTree('setid-walk', { 'pub.txt': 'public\n' });
  mkdirSync(`${t}/priv`, { mode: 0o700 });
  symlinkSync(`${t}/pub.txt`, `${t}/priv/link`);
  const drop = '(os.setgroups([]), os.setresgid(65534, 65534, 65534), os.setresuid(65534, 65534, 65534))';
  const script = steps(['drop', drop], ['link', `open("${t}/priv/link").read()`], ['stat', `os.stat("${t}/priv/link")`], ['pub', `open("${t}/pub.txt").read()`]);
  const want = 'drop ok\nlink EACCES\nstat EACCES\npub ok\n';
  const n = await runNative('python3', ['-c', script]);
  assert.is(n.stdout, want, describe(n));
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, want, describe(r));
});

test('a caller with 601 supplementary groups (a /proc status larger than a page) is followed: calls go on, the drop still counts', async () => {
  const groups = Array.from({ length: 601 }, (_, i) => 100000 + i).join(',');
  const script = steps(['groups', 'print(len(os.getgroups()), end=" ")'], ['before', `open("${dir}/secret").read()`], ['setuid', 'os.setuid(65534)'], ['after', `open("${dir}/secret").read()`], ['other', `open("${dir}/open.txt").read()`]);
  const r = await runTsydInGroups(groups, [...POLICY, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, '601 groups ok\nbefore ok\nsetuid ok\nafter EACCES\nother ok\n', describe(r));
  assert.is(r.code, 0, describe(r));
});

test('after the drop, relative names from a cwd (or a dirfd) inside a directory the program cannot search work, as natively (the walk starts there)', async () => {
  const t = tempTree('setid-cwd', { 'priv/sub/pub.txt': 'public\n' });
  chmodSync(`${t}/priv`, 0o700);
  chmodSync(`${t}/priv/sub`, 0o777);
  mkdirSync(`${t}/priv/sub/deep`);
  chmodSync(`${t}/priv/sub/deep`, 0o777);
  const drop = '(os.setgroups([]), os.setresgid(65534, 65534, 65534), os.setresuid(65534, 65534, 65534))';
  const bind = (name: string) => `__import__("socket").socket(__import__("socket").AF_UNIX).bind("${name}")`;
  const script = steps(['cd', `os.chdir("${t}/priv/sub")`], ['socket', '__import__("socket")'], ['dirfd', 'setattr(sys, "d", os.open(".", os.O_RDONLY))'], ['drop', drop],
    ['openat', 'os.close(os.open("pub.txt", os.O_RDONLY, dir_fd=sys.d))'], ['fchdir', '(os.chdir("/"), os.fchdir(sys.d))'], ['open', 'open("pub.txt").read()'], ['stat', 'os.stat("pub.txt")'],
    ['statdot', 'os.stat(".")'], ['create', 'open("new.txt", "w").close()'], ['mkdir', 'os.mkdir("d")'], ['bind', bind('s.sock')],
    ['binddeep', bind('./deep/../deep/c.sock')], ['listdir', 'os.listdir(".")'], ['up', 'open("../sub/pub.txt").read()'], ['abs', `open("${t}/priv/sub/pub.txt").read()`]);
  const want = 'cd ok\nsocket ok\ndirfd ok\ndrop ok\nopenat ok\nfchdir ok\nopen ok\nstat ok\nstatdot ok\ncreate ok\nmkdir ok\nbind ok\nbinddeep ok\nlistdir ok\nup EACCES\nabs EACCES\n';
  const n = await runNative('python3', ['-c', script]);
  assert.is(n.stdout, want, describe(n));
  for (const f of ['new.txt', 'd', 's.sock', 'deep/c.sock']) rmSync(`${t}/priv/sub/${f}`, { recursive: true });
  const net = ['-m', 'sandbox/net/bind:on', '-m', `allow/net/bind+${t}/**`];
  const r = await runTsyd(['run', ...POLICY, ...net, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, want, describe(r));
  assert.equal(lstatSync(`${t}/priv/sub/new.txt`).uid, NOBODY);
  // SAFETY: still decided on the canonical path: a relative name the policy denies stays denied.
  const deny = steps(['cd', `os.chdir("${t}/priv/sub")`], ['drop', drop], ['denied', 'open("pub.txt").read()'], ['deep', 'open("deep/../pub.txt").read()']);
  const d = await runTsyd(['run', ...POLICY, '-m', `deny/read+${t}/priv/sub/pub.txt`, ...TRANSITS, '--', 'python3', '-c', deny]);
  assert.match(d.stdout, /^cd ok\ndrop ok\ndenied (EACCES|ENOENT)\ndeep (EACCES|ENOENT)\n$/, describe(d));
});

test('without the transit the same program keeps today\'s answer: setuid(65534) is EPERM', async () => {
  const script = steps(['setuid', 'os.setuid(65534)'], ['after', `open("${dir}/secret").read()`]);
  const r = await runTsyd(['run', ...POLICY, '--', 'python3', '-c', script]);
  assert.is(r.stdout, 'setuid EPERM\nafter ok\n', describe(r));
});

test('gids: setgid along setgid+root:nogroup goes on, setgid(1000) is EPERM; a group-only file then is EACCES', async () => {
  const g = tempTree('setid-gid', { 'grp': 'group 0 only\n' });
  chmodSync(`${g}/grp`, 0o040);
  const script = steps(['setgid1000', 'os.setgid(1000)'], ['setgid', 'os.setgid(65534)'], ['euid', 'os.seteuid(65534)'], ['grp', `open("${g}/grp").read()`]);
  // Natively (as root with these steps) the same: group 0 is gone after setgid, so 0040 refuses.
  const n = await runNative('python3', ['-c', script]);
  assert.is(n.stdout, 'setgid1000 ok\nsetgid ok\neuid ok\ngrp EACCES\n', describe(n));
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, 'setgid1000 EPERM\nsetgid ok\neuid ok\ngrp EACCES\n', describe(r));
  assert.equal(setidRecords(r).map((x) => [x.sys, x.want]), [['setgid', 1000]], describe(r));
});

test('setgroups: only to none (a list in memory can change after tsyd reads it): a held subset and a superset are EPERM; refused without transits', async () => {
  const script = steps(['held', 'os.setgroups(os.getgroups())'], ['super', 'os.setgroups(os.getgroups() + [4243])'], ['none', 'os.setgroups([])'], ['groups', 'print(os.getgroups(), end=" ")']);
  const r = await runTsydInGroups('4242', [...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, 'held EPERM\nsuper EPERM\nnone ok\n[] groups ok\n', describe(r));
  const recs = setidRecords(r);
  assert.equal(recs.map((x) => [x.sys, x.size]), [['setgroups', 1], ['setgroups', 2]], describe(r));
  assert.match(String(recs[0]!.msg), /only setgroups to none is allowed/, describe(r));
  const plain = await runTsydInGroups('4242', ['--', 'python3', '-c', script]);
  assert.match(plain.stdout, /^held EPERM\nsuper EPERM\nnone EPERM\n/, describe(plain));
});

test('setreuid/setregid(X, -1) also set the saved id to the old effective one (the kernel\'s rule): 65534 → 0 there is EPERM', async () => {
  const script = steps(['resuid', 'os.setresuid(65534, 0, 65534)'], ['reuid', 'os.setreuid(65534, -1)'], ['uids', 'print(os.getresuid(), end=" ")'],
    ['resgid', 'os.setresgid(65534, 0, 65534)'], ['regid', 'os.setregid(65534, -1)'], ['gids', 'print(os.getresgid(), end=" ")'], ['both', 'os.setreuid(65534, 65534)']);
  // Natively the saved ids go back to 0.
  const n = await runNative('python3', ['-c', script]);
  assert.is(n.stdout, 'resuid ok\nreuid ok\n(65534, 0, 0) uids ok\nresgid ok\nregid ok\n(65534, 0, 0) gids ok\nboth ok\n', describe(n));
  const r = await runTsyd(['run', ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, 'resuid ok\nreuid EPERM\n(65534, 0, 65534) uids ok\nresgid ok\nregid EPERM\n(65534, 0, 65534) gids ok\nboth ok\n', describe(r));
  assert.equal(setidRecords(r).map((x) => [x.sys, x.slot, x.from, x.want]), [['setreuid', 'saved', 65534, 0], ['setregid', 'saved', 65534, 0]], describe(r));
});

test('setpriv --reuid/--regid/--clear-groups then make: works, and what tsyd created is owned by 65534', async () => {
  const work = tempTree('setid-make', { 'Makefile': 'all:\n\t@echo built > made.txt\n\t@cat made.txt\n' });
  ownTree(work, NOBODY);
  const r = await runTsyd(['run', ...TRANSITS, '--', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `cd ${work} && echo ok > file && make -s && cat ${dir}/secret`]);
  assert.is(r.stdout, 'built\n', describe(r));
  assert.match(r.otherStderr.join('\n'), /secret: Permission denied/, describe(r));
  for (const f of ['file', 'made.txt']) {
    const st = lstatSync(`${work}/${f}`);
    assert.equal([st.uid, st.gid], [NOBODY, NOBODY], `${f} owner`);
  }
  assert.is(readFileSync(`${work}/file`, 'utf8'), 'ok\n');
});

test('after the drop, a UNIX socket tsyd binds is owned by 65534, and a peer sees 65534 as the connecting uid', async () => {
  const sock = tempTree('setid-unix');
  ownTree(sock, NOBODY);
  const script = `import os, socket, struct
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind("${sock}/s"); s.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect("${sock}/s"); a, _ = s.accept()
print(os.stat("${sock}/s").st_uid, struct.unpack("3i", a.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1:])`;
  const net = ['-m', 'sandbox/net/bind,net/connect:on', '-m', `allow/net/bind+${sock}/**`, '-m', `allow/net/connect+${sock}/**`];
  const r = await runTsyd(['run', ...net, ...TRANSITS, '--', 'python3', '-c', script]);
  assert.is(r.stdout, '65534 (65534, 65534)\n', describe(r));
});

test('fail closed: an emulator that cannot return to tsyd\'s credentials stops tsyd (exit 101), no later call is served', async () => {
  const script = steps(['setuid', 'os.setuid(65534)'], ['open', `open("${dir}/open.txt").read()`], ['again', `open("${dir}/open.txt").read()`]);
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', script], { env: { TSYD_FAULT: 'setid-return-fails' } });
  assert.is(r.code, 101, describe(r));
  assert.ok(r.records.some((x) => x.level === 'alert' && x.op === 'restore_credentials'), describe(r));
  // The open before the failed return was answered (as 65534); no call after it is served (with
  // tsyd gone the kernel answers the program's notified calls ENOSYS, until it dies with tsyd).
  assert.not.match(r.stdout, /again ok/, describe(r));
});

test('a transit to uid 0 or gid 0 is a policy error (exit 125), naming the rule', async () => {
  for (const rule of ['setuid+nobody:root', 'setgid+65534:0']) {
    const r = await runTsyd(['run', '-m', rule, '--', 'true']);
    assert.is(r.code, 125, describe(r));
    assert.match(r.stderr, new RegExp(`bad rule '${rule.replace('+', '\\+')}'.*root`), describe(r));
  }
  const c = await runTsyd(['check', '-p', 'none', '-m', 'setuid+root:nobody', '-m', 'setuid+0:1000', '-m', 'setuid-0:1000', '-m', 'setgid+root:nogroup']);
  assert.match(c.stdout, /\nsetuid\+0:65534\nsetgid\+0:65534\nlock:exec\n$/, describe(c));
});

test('the exported emulator filter (tsyd_emu.bpf) lets set*id take only tsyd\'s ids and the transits\' targets', () => {
  const AUDIT = native.arch === 'x86_64' ? 0xc000003e : 0xc00000b7;
  const ALLOW = 0x7fff0000;
  const EPERM = 0x00050001;
  const exported = (...policy: string[]) => {
    const cwd = tempTree('setid-export');
    const r = spawnSync(process.execPath, [tsydBin, 'export', 'bpf', ...policy], { cwd, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return readFileSync(`${cwd}/tsyd_emu.bpf`);
  };
  const call = (prog: Buffer, name: string, ...ids: number[]) => runBpf(prog, { nr: native.syscalls[name]!, arch: AUDIT, args: ids.map((i) => BigInt(i >>> 0)) });
  const withTransits = exported('-p', 'none', '-m', 'setuid+root:nobody', '-m', 'setgid+root:4242');
  assert.is(call(withTransits, 'setuid', 65534), ALLOW);
  assert.is(call(withTransits, 'setresuid', 65534, 65534, 0), ALLOW);
  assert.is(call(withTransits, 'setresuid', -1, 65534, -1), ALLOW);
  assert.is(call(withTransits, 'setfsuid', -1), ALLOW);
  assert.is(call(withTransits, 'setresgid', 4242, 4242, 0), ALLOW);
  assert.is(call(withTransits, 'setuid', 1000), EPERM);
  assert.is(call(withTransits, 'setresuid', 0, 0, 1000), EPERM);
  assert.is(call(withTransits, 'setgid', 65534), EPERM, 'nogroup is no target here');
  assert.is(call(withTransits, 'execve'), EPERM, 'the deny-list stays');
  assert.is(call(withTransits, 'openat'), ALLOW);
  // Without a policy (or without transits): tsyd's own ids only.
  const plain = exported();
  assert.is(call(plain, 'setuid', 0), ALLOW);
  assert.is(call(plain, 'setuid', 65534), EPERM);
  assert.is(call(plain, 'setresgid', -1, 4242, -1), EPERM);
});

test.run();
