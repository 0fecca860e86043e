// tsyd never lends a privilege: what it does for the program it does with the program's
// capabilities (no CAP_SYS_PTRACE), never on tsyd's own or its reaper's /proc, never on another
// process's memory, environment or fds; and a deleted file is decided by the path it had.
// Each attack is shown to work without tsyd first.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, spawnProgram, spawnTsyd, tsydBin } from '../helpers/tsyd.js';

const bin = () => fixture('lend');
const dir = mkdtempSync(join(tmpdir(), 'tsyd-lend-'));
chmodSync(dir, 0o777);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A non-dumpable process holding a secret (as root, or as `user`); stops when stdin closes. */
async function holder(user?: number) {
  const h = spawnProgram(bin(), ['holder'], { keepStdinOpen: true, user });
  const line = await h.waitForStdout(/holder \d+ \d+\n/);
  const [, pid, addr] = /holder (\d+) (\d+)/.exec(line)!;
  return { pid: pid!, addr: addr!, stop: () => h.child.stdin!.end() };
}

test("root: a foreign non-dumpable process's memory is read natively, never through tsyd", async () => {
  const h = await holder();
  try {
    const n = await runNative(bin(), ['peek', h.pid, h.addr]);
    assert.match(n.stdout, /peek ok the-holders-secret-key/, `natively root (CAP_SYS_PTRACE) reads it: ${describe(n)}`);
    for (const policy of [['-p', 'off'], []]) {
      const r = await runTsyd(['run', ...policy, '--', bin(), 'peek', h.pid, h.addr]);
      assert.is(r.code, 0, describe(r));
      assert.match(r.stdout, /^peek EACCES$/m, `policy ${policy.join(' ') || 'user'}: ${describe(r)}`);
    }
  } finally {
    h.stop();
  }
});

test("nobody: another same-uid process's environment and memory stay out of reach", async () => {
  const h = await holder(NOBODY);
  // A dumpable same-uid process: what the kernel itself lets a same-uid program read.
  const plain = spawnProgram('sh', ['-c', 'read x'], { keepStdinOpen: true, user: NOBODY, env: { TSYD_TEST_SECRET: 'env-secret' } });
  try {
    const n = await runNative(bin(), ['environ', String(plain.pid)], { user: NOBODY });
    assert.match(n.stdout, /environ ok \S/, `natively: ${describe(n)}`);
    const r = await runTsyd(['run', '--', bin(), 'environ', String(plain.pid)], { user: NOBODY });
    assert.match(r.stdout, /^environ EACCES$/m, describe(r));
    const m = await runTsyd(['run', '-p', 'off', '--', bin(), 'peek', h.pid, h.addr], { user: NOBODY });
    assert.match(m.stdout, /^peek EACCES$/m, describe(m));
  } finally {
    h.stop();
    plain.child.stdin!.end();
  }
});

/**
 * Waits until `pid` runs its program: between its setuid and its exec a child of another uid is
 * not dumpable, and its /proc files are root's (EACCES for everyone else, natively too).
 */
async function execed(pid: number): Promise<void> {
  const end = Date.now() + 5000;
  while (!['sh', 'dash'].includes(readFileSync(`/proc/${pid}/comm`, 'utf8').trim())) {
    if (Date.now() > end) throw new Error(`process ${pid} did not exec sh`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("another process's /proc is read, never written (oom_score_adj); the sandbox's own is written", async () => {
  for (const user of [undefined, NOBODY]) {
    const other = spawnProgram('sh', ['-c', 'read x'], { keepStdinOpen: true, user });
    try {
      await execed(other.pid);
      const script = (p: number) =>
        `echo 500 > /proc/${p}/oom_score_adj && echo other-written; cat /proc/${p}/status > /dev/null && echo other-read; ` +
        'echo 600 > /proc/self/oom_score_adj && echo self-written; sh -c "echo 700 > /proc/$$/oom_score_adj" && echo child-written';
      const n = await runNative('sh', ['-c', script(other.pid)], { user });
      assert.match(n.stdout, /^other-written$/m, `natively: ${describe(n)}`);
      writeFileSync(`/proc/${other.pid}/oom_score_adj`, '0');
      const policy = ['-p', 'off', '-m', 'sandbox/read,write:on', '-m', 'allow/read+/***', '-m', 'allow/write+/***'];
      const r = await runTsyd(['run', '--log-fd', '3', ...policy, '--', 'sh', '-c', script(other.pid)], { logFd: 3, user });
      assert.is(r.stdout, 'other-read\nself-written\nchild-written\n', describe(r));
      assert.match(readFileSync(`/proc/${other.pid}/oom_score_adj`, 'utf8'), /^0\n/);
      assert.ok(r.records.some((x) => x['cap'] === 'containment' && String(x['target']).startsWith(`/proc/${other.pid}/oom_score_adj`)), r.log);
    } finally {
      other.child.stdin!.end();
    }
  }
});

test("tsyd's own fds through /proc/<tsyd thread>/fd/N and the reaper's /proc are refused", async () => {
  const log = join(dir, 'tsyd.log');
  writeFileSync(log, 'TSYD-LOG-CONTENT\n');
  chmodSync(log, 0o666);
  const script = join(dir, 'probe.sh');
  writeFileSync(script, `read tid\n${bin()} open /proc/$tid/fd/3\n${bin()} open /proc/$PPID/cwd/.\n`);
  chmodSync(script, 0o755);
  for (const user of [undefined, NOBODY]) {
    // tsyd's fd 3 is the log file; the program learns one of tsyd's thread ids from the test.
    const t = spawnProgram('sh', ['-c', 'exec 3>>"$1"; exec "$2" "$3" run --log-fd 3 -p off -- sh "$4"', 'sh', log, process.execPath, tsydBin, script], {
      keepStdinOpen: true,
      user,
    });
    await new Promise((r) => setTimeout(r, 1000));
    const tid = readdirSync(`/proc/${t.pid}/task`).filter((x) => x !== String(t.pid))[0];
    t.child.stdin!.end(`${tid}\n`);
    const r = await t.result;
    assert.equal(r.stdout.split('\n').filter(Boolean), ['open EACCES', 'open EACCES'], `${user ?? 'root'}: ${describe(r)}`);
  }
});

test('a file opened write-only, unlinked, then reopened for reading: decided by its path (natively it reads)', async () => {
  const make = (name: string) => {
    const f = join(dir, name);
    writeFileSync(f, 'SECRET-CONTENT\n');
    chmodSync(f, 0o666);
    return f;
  };
  const n = await runNative(bin(), ['reopen-deleted', make('native-deleted')]);
  assert.match(n.stdout, /^reopen ok SECRET-CONTENT/m, describe(n));
  // README's own example: read everywhere but this file; write allowed.
  const f = make('tsyd-deleted');
  const r = await runTsyd(['run', '--log-fd', '3', '-m', 'sandbox/read,write,delete:on', '-m', 'allow/read+/***', '-m', `deny/read+${f}`,
    '-m', 'allow/write+/***', '-m', 'allow/delete+/***', '--', bin(), 'reopen-deleted', f], { logFd: 3 });
  assert.match(r.stdout, /^open-write ok$/m, describe(r));
  assert.match(r.stdout, /^reopen EACCES$/m, describe(r));
  assert.match(r.stdout, /^reopen-devfd EACCES$/m, describe(r));
  const denial = r.records.find((x) => x['ctx'] === 'access' && x['cap'] === 'read');
  assert.is(denial?.['path'], f, `decided on the file's path: ${r.log}`);
});

test('emulator threads act without CAP_SYS_PTRACE (and the net capabilities when net is on)', async () => {
  const t = spawnTsyd(['run', '--', 'sleep', '5']);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    let emulators = 0;
    for (const tid of readdirSync(`/proc/${t.pid}/task`)) {
      const status = await import('node:fs').then((fs) => fs.readFileSync(`/proc/${t.pid}/task/${tid}/status`, 'utf8'));
      const name = /^Name:\s+(.*)$/m.exec(status)![1];
      const eff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)$/m.exec(status)![1]}`);
      if (name === 'tsyd_emu') {
        emulators++;
        assert.is((eff >> 19n) & 1n, 0n, `emulator ${tid} has no CAP_SYS_PTRACE`);
        assert.is((eff >> 13n) & 1n, 0n, `emulator ${tid} has no CAP_NET_RAW (net is on under -p user)`);
      }
      if (name === 'node') assert.is((eff >> 19n) & 1n, 1n, "tsyd's main thread keeps its capabilities");
    }
    assert.ok(emulators >= 1, 'emulators were seen');
  } finally {
    t.child.kill('SIGKILL');
    await t.result.catch(() => {});
  }
});

// syslog(2) READ_ALL as python ctypes (no fixture needed): "readall N" or "readall ERRNO".
const KLOG = [
  'import ctypes, errno',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'buf = ctypes.create_string_buffer(1 << 16)',
  'r = libc.klogctl(3, buf, len(buf))',
  'print("readall", "ok" if r > 0 else errno.errorcode[ctypes.get_errno()])',
].join('\n');

test('syslog(2) reads the kernel log only where reading /dev/kmsg is allowed', async () => {
  // With dmesg_restrict 0 the kernel lets anyone read its log: then only the policy stands between.
  const restrict = readFileSync('/proc/sys/kernel/dmesg_restrict', 'utf8');
  writeFileSync('/proc/sys/kernel/dmesg_restrict', '0');
  try {
    const denyKmsg = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/dev/kmsg'];
    for (const user of [undefined, NOBODY]) {
      const n = await runNative('/usr/bin/python3', ['-c', KLOG], { user });
      assert.is(n.stdout, 'readall ok\n', `natively the log is read: ${describe(n)}`);
      const allowed = await runTsyd(['run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', '/usr/bin/python3', '-c', KLOG], { user });
      assert.is(allowed.stdout, 'readall ok\n', describe(allowed));
      const denied = await runTsyd(['run', ...denyKmsg, '--', '/usr/bin/python3', '-c', KLOG], { user });
      assert.is(denied.stdout, 'readall EPERM\n', describe(denied));
      const records = denied.records.filter((r) => r.ctx === 'access' && r.sys === 'syslog');
      assert.equal(records.map((r) => [r.cap, r.path]), [['read', '/dev/kmsg']], describe(denied));
    }
  } finally {
    writeFileSync('/proc/sys/kernel/dmesg_restrict', restrict);
  }
});

test.run();
