// Containment of the process tree, attacked as the reviews did: every attack is shown to work
// without tsyd (natively, against sacrificial processes), then to fail under tsyd — as root and
// as nobody — with a record, and tsyd lives on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run as runLibrary } from '../../src/index.js';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, spawnTsyd, type RunResult } from '../helpers/tsyd.js';
import { descendants, isReaper, processesWithArgument, sandboxBelow } from '../helpers/procstat.js';

const bin = () => fixture('contain');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'tsyd-contain-'));
chmodSync(dir, 0o777);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
/** No capability on: every call that is not about containment goes to the kernel. */
const NOTHING_ON = ['-p', 'none'];

function lines(r: RunResult): Map<string, string> {
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.split(' ')[1]!]));
}

function containmentRecords(r: RunResult): Array<Record<string, unknown>> {
  return r.records.filter((x) => x['ctx'] === 'access' && x['cap'] === 'containment');
}

test('natively, a program kills, limits and reprioritises its parent and grandparent', async () => {
  // Sacrificial parent and grandparent: two shells that would sleep on.
  const r = await runNative('sh', ['-c', `sh -c '${bin()} parent-signals; sleep 5'; sleep 5`], { timeoutMs: 20_000 });
  assert.is(r.signal, 'SIGKILL', `the grandparent was killed: ${describe(r)}`);
  const l = lines(r);
  assert.is(l.get('kill-parent'), 'ok', describe(r));
  assert.is(l.get('kill-grandparent'), 'ok', describe(r));
});

for (const user of [undefined, NOBODY]) {
  const who = user === undefined ? 'root' : 'nobody';
  for (const [name, policy] of [['the default profile', []], ['no capability on', NOTHING_ON]] as const) {
    test(`as ${who}, ${name}: no signal, limit or priority reaches tsyd, its threads or its reaper`, async () => {
      const r = await runTsyd(['run', '--log-fd', '3', ...policy, '--', bin(), 'parent-signals'], { logFd: 3, user });
      assert.is(r.code, 0, `tsyd lives on and gives the program's status: ${describe(r)}\n${r.log}`);
      const l = lines(r);
      for (const what of ['kill-parent', 'kill-grandparent', 'tkill-grandparent-thread', 'tgkill-grandparent', 'kill-grandparent-thread',
        'prlimit-parent', 'prlimit-grandparent-thread', 'setpriority-grandparent', 'setpriority-user', 'setaffinity-grandparent-thread',
        'pidfd-open-parent', 'setown-grandparent']) {
        assert.is(l.get(what), 'EPERM', `${what}: ${describe(r)}`);
      }
      assert.is(l.get('kill-parent-probe'), 'ok', 'signal 0 only asks whether the parent exists');
      assert.ok(containmentRecords(r).length >= 12, `a record each: ${r.log}`);
    });
  }
}

test('a /proc/<tsyd> directory fd used as a pidfd: refused (and natively it signals)', async () => {
  const target = spawnTsyd(['run', '--', 'sleep', '30']);
  try {
    // natively: SIGCONT to a live process through its /proc directory works
    const n = await runNative(bin(), ['pidfd-proc', String(target.pid)]);
    assert.match(n.stdout, /pidfd-send-signal ok/, describe(n));
    // Under tsyd, with nothing on (the open is not decided): tsyd's own pid.
    const t = spawnTsyd(['run', '--log-fd', '3', ...NOTHING_ON, '--', 'sh', '-c', `${bin()} pidfd-proc $(cut -d' ' -f4 /proc/$PPID/stat)`], { logFd: 3 });
    const r = await t.result;
    assert.match(r.stdout, /open-proc-dir ok/, describe(r));
    assert.match(r.stdout, /pidfd-send-signal EPERM/, describe(r));
    assert.ok(containmentRecords(r).some((x) => x['sys'] === 'pidfd_send_signal'), r.log);
  } finally {
    target.child.kill('SIGKILL');
    await target.result.catch(() => {});
  }
});

test("another sandbox's tsyd and reaper are not signalled (natively they are)", async () => {
  const other = spawnTsyd(['run', '--', 'sleep', '30']);
  try {
    let reaper: number | undefined;
    for (let i = 0; i < 100 && reaper === undefined; i++) {
      reaper = descendants(other.pid).find((p) => isReaper(p));
      if (reaper === undefined) await sleep(50);
    }
    assert.ok(reaper, 'the other sandbox runs');
    const script = `kill -CONT ${other.pid} && echo tsyd-signalled; kill -CONT ${reaper} && echo reaper-signalled; ${bin()} pidfd-proc ${other.pid}`;
    const n = await runNative('sh', ['-c', script]);
    assert.match(n.stdout, /^tsyd-signalled\nreaper-signalled\n[^]*pidfd-send-signal ok/, describe(n));
    const r = await runTsyd(['run', '--log-fd', '3', ...NOTHING_ON, '--', 'sh', '-c', script], { logFd: 3 });
    assert.not.match(r.stdout, /signalled/, describe(r));
    assert.match(r.stdout, /pidfd-send-signal EPERM/, describe(r));
    const refused = containmentRecords(r).filter((x) => String(x['target']).includes("another sandbox's tsyd"));
    assert.is(refused.length, 3, r.log);
  } finally {
    other.child.kill('SIGKILL');
    await other.result.catch(() => {});
  }
});

test('kill(-1) and joining tsyd\'s process group are refused; kill(0) stays in the program\'s group', async () => {
  const r = await runTsyd(['run', '--log-fd', '3', '--', 'sh', '-c', `${bin()} kill-all; ${bin()} join-group $(ps -o pgid= -p $$ | tr -d ' ')`], { logFd: 3 });
  assert.is(r.code, 0, describe(r));
  assert.match(r.stdout, /kill-all EPERM/);
  // The shell is in the program's own group (not tsyd's): joining its own group is allowed...
  assert.match(r.stdout, /join-group ok/);
  assert.match(r.stdout, /kill-own-group ok/);
  // ...tsyd's is not (tsyd runs detached here: its group is its pid; the program reads it).
  const t = spawnTsyd(['run', '--log-fd', '3', '--', 'sh', '-c', `read g; ${bin()} join-group $g`], { logFd: 3, keepStdinOpen: true });
  t.child.stdin!.end(`${t.pid}\n`);
  const j = await t.result;
  assert.match(j.stdout, /join-group EPERM/, describe(j));
  assert.ok(containmentRecords(j).some((x) => x['sys'] === 'setpgid'), j.log);
  // The reaper's group (its own: its pid, the program's parent) is guarded as tsyd's.
  const g = await runTsyd(['run', '--log-fd', '3', '--', 'sh', '-c', `/bin/kill -s TERM -- -$PPID; echo rc=$?; ${bin()} join-group $PPID`], { logFd: 3 });
  assert.is(g.code, 0, describe(g));
  assert.match(g.stdout, /^rc=1\njoin-group EPERM$/m, describe(g));
  assert.equal(containmentRecords(g).map((x) => x['sys']), ['kill', 'setpgid'], g.log);
});

test('no seccomp listener of its own under tsyd (natively: one is made)', async () => {
  const n = await runNative(bin(), ['listener']);
  assert.match(n.stdout, /listener ok/, describe(n));
  for (const policy of [[], NOTHING_ON]) {
    const r = await runTsyd(['run', ...policy, '--', bin(), 'listener']);
    assert.match(r.stdout, /listener EBUSY/, describe(r));
  }
});

test('a zombie thread-group leader with a live thread is killed when the program ends', async () => {
  const nativeFile = join(dir, 'zombie-native');
  await runNative(bin(), ['zombie-leader', nativeFile]);
  await sleep(2500);
  assert.ok(existsSync(nativeFile), 'natively the thread outlives its process\'s end');
  const file = join(dir, 'zombie-tsyd');
  const start = Date.now();
  const r = await runTsyd(['run', '--log-fd', '3', '--log-level', 'info', ...NOTHING_ON, '--', bin(), 'zombie-leader', file], { logFd: 3 });
  assert.is(r.code, 0, `not a critical failure: ${describe(r)}\n${r.log}`);
  assert.ok(Date.now() - start < 4000, 'promptly');
  assert.ok(r.records.some((x) => x['op'] === 'kill_leftovers'), r.log);
  await sleep(2500);
  assert.not.ok(existsSync(file), 'the thread never ran on');
});

test('library mode: a daemon the program leaves behind is killed when it ends (natively it runs on)', async () => {
  const nativeFile = join(dir, 'daemon-native');
  await runNative(bin(), ['daemon', nativeFile, '1']);
  const file = join(dir, 'daemon-lib');
  const result = await runLibrary(bin(), ['daemon', file, '1'], { policy: [{ rule: 'sandbox/read:off' }], stdio: 'ignore', logLevel: 'silent' });
  assert.is(result.exitCode, 0);
  await sleep(2000);
  assert.ok(existsSync(nativeFile), 'natively the daemon ran on');
  assert.not.ok(existsSync(file), 'under tsyd the daemon is gone');
});

test('the CLI: a daemon is killed too, and nothing of the sandbox is left once tsyd exits', async () => {
  const file = join(dir, 'daemon-cli');
  const t = spawnTsyd(['run', ...NOTHING_ON, '--', bin(), 'daemon', file, '1']);
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
  await sleep(1500);
  assert.not.ok(existsSync(file));
  assert.equal(sandboxBelow(t.pid), []);
});

/** Waits until no process carries `token`, killing the ones that do (a failed test leaves none). */
async function chainGone(token: string, ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let seen: number[] = [];
  while (Date.now() < end) {
    seen = processesWithArgument(token);
    if (seen.length === 0) return [];
    await sleep(50);
  }
  for (let i = 0; i < 2000 && processesWithArgument(token).length > 0; i++) {
    for (const pid of processesWithArgument(token)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  return seen;
}

test('a chain of processes hopping pids (fork, parent exits) does not outlive the program', async () => {
  const token = `tsyd-churn-${process.pid}-a`;
  const r = await runTsyd(['run', ...NOTHING_ON, '--', bin(), 'churn', '20', token]);
  assert.is(r.code, 0, describe(r));
  assert.match(r.stdout, /^churn ok$/m);
  assert.equal(await chainGone(token, 1000), [], 'the chain is gone once tsyd has exited');
});

test('tsyd killed (SIGKILL) while the chain hops: the reaper kills it all, nothing reaches init', async () => {
  const token = `tsyd-churn-${process.pid}-b`;
  const t = spawnTsyd(['run', ...NOTHING_ON, '--', bin(), 'churn', '20', token, 'wait']);
  await t.waitForStdout(/churn ok/);
  await sleep(300);
  assert.ok(processesWithArgument(token).length >= 2, 'the chain runs (the test can fail)');
  t.child.kill('SIGKILL');
  await t.result;
  assert.equal(await chainGone(token, 1500), [], 'nothing of the sandbox is left');
});

for (const user of [undefined, NOBODY]) {
  test(`tsyd's whole process group killed (kill -9 %1, timeout -k; ${user === undefined ? 'root' : 'nobody'}): the reaper, in a group of its own, kills the program's children`, async () => {
    // A marker sleep accepts: durations add up (30 s and a few ms).
    const token = `0.00${process.pid}${user ?? 0}`;
    const t = spawnTsyd(['run', ...NOTHING_ON, '--', 'sh', '-c', `sleep 30 ${token} & echo started; wait`], { user });
    await t.waitForStdout(/started/);
    await sleep(300);
    assert.is(processesWithArgument(token).length, 1, 'the child sleeps (the test can fail)');
    // spawnTsyd starts tsyd as the leader of a group of its own: the job a shell would kill.
    process.kill(-t.pid, 'SIGKILL');
    await t.result;
    assert.equal(await chainGone(token, 1500), [], 'nothing of the sandbox is left');
  });
}

test('TIOCSTI and TIOCLINUX are refused (natively TIOCSTI types into the terminal)', async () => {
  const n = await runNative(bin(), ['tiocsti']);
  assert.match(n.stdout, /tiocsti ok/, describe(n));
  for (const user of [undefined, NOBODY]) {
    const r = await runTsyd(['run', ...NOTHING_ON, '--', bin(), 'tiocsti'], { user });
    assert.match(r.stdout, /tiocsti EPERM/, describe(r));
  }
});

test('acct (as root) is refused (natively it writes records into any file)', async () => {
  const nativeFile = join(dir, 'acct-native');
  const file = join(dir, 'acct-tsyd');
  writeFileSync(nativeFile, '');
  writeFileSync(file, '');
  const n = await runNative(bin(), ['acct', nativeFile]);
  assert.match(n.stdout, /acct ok/, describe(n));
  const r = await runTsyd(['run', '-p', 'off', '--', bin(), 'acct', file]);
  assert.match(r.stdout, /acct EPERM/, describe(r));
  assert.is(readFileSync(file).length, 0);
});

test('core dumps stay off; namespaces, READ_IMPLIES_EXEC and unknown calls are refused', async () => {
  const n = await runNative(bin(), ['core']);
  assert.match(n.stdout, /core ok/, describe(n));
  const r = await runTsyd(['run', '--log-fd', '3', '--', 'sh', '-c', `ulimit -c; ${bin()} core; ${bin()} personality; ${bin()} newns; ${bin()} syscall 470; ${bin()} syscall 1000`], { logFd: 3 });
  assert.is(r.code, 0, describe(r));
  assert.match(r.stdout, /^0$/m, 'the program starts with RLIMIT_CORE 0');
  assert.match(r.stdout, /core EPERM/);
  assert.match(r.stdout, /core-zero ok/);
  assert.match(r.stdout, /personality EPERM/);
  assert.match(r.stdout, /clone-newns EPERM/);
  assert.match(r.stdout, /unshare-newuser EPERM/);
  assert.equal(r.stdout.match(/syscall ENOSYS/g)?.length, 2);
  const natively = await runNative('sh', ['-c', `${bin()} personality; ${bin()} newns`]);
  assert.match(natively.stdout, /personality ok/);
  assert.match(natively.stdout, /clone-newns ok/);
});

test.run();
