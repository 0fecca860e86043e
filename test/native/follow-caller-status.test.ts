// followCaller (addon/act-as.cc) reads the caller's ids from /proc/<tid>/status on every decided
// call. It opens the file once per caller thread and reads it again on the kept fd (a pread);
// the kept fd names the task it was opened on, so a tid that another process reuses is read
// anew, never with the ended task's ids. Nothing is kept once the thread leaves the sandbox.
// This test thread acts as the emulator (it takes the child's ids until endRequest).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../src/native/addon.js';

/** A `sleep` running with real, effective and saved uid and gid `id`, no supplementary groups. */
async function sleeperAs(id: number): Promise<ChildProcess> {
  const child = spawn('setpriv', [`--reuid=${id}`, `--regid=${id}`, '--clear-groups', 'sleep', '60'], { stdio: 'ignore' });
  for (const end = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 10))) {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    if (new RegExp(`^Uid:\\t${id}\\t`, 'm').test(status)) return child;
    if (Date.now() > end) throw new Error(`setpriv did not take uid ${id}`);
  }
}

async function end(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** This process's fds open on /proc/<tid>/status. */
function statusFdsOf(tid: number): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === `/proc/${tid}/status`) n++;
    } catch {
      // the fd readdir itself used, closed by now
    }
  }
  return n;
}

/** The effective uid this thread acts with while it follows `tid`: followCaller's answer and the uid. */
function followedUid(tid: number): { r: number; euid: number } {
  const r = native.followCaller(tid);
  try {
    return { r, euid: process.geteuid!() };
  } finally {
    native.endRequest();
  }
}

test('the caller\'s status is opened once per caller thread and read again on the kept fd; none kept after leaveSandbox', async () => {
  const child = await sleeperAs(65534);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal(followedUid(child.pid!), { r: 1, euid: 65534 });
      assert.is(statusFdsOf(child.pid!), 1, 'one fd on the caller\'s status, kept across calls');
    }
    assert.is(process.geteuid!(), 0, 'back to root after endRequest');
    native.leaveSandbox();
    assert.is(statusFdsOf(child.pid!), 0, 'nothing kept once the thread leaves the sandbox');
  } finally {
    await end(child);
  }
});

test('a tid reused by another process is followed with that process\'s ids, not the ended one\'s', async () => {
  const first = await sleeperAs(65534);
  const tid = first.pid!;
  assert.equal(followedUid(tid), { r: 1, euid: 65534 });
  await end(first);
  // The next pid of the machine's namespace is set to `tid` (root); another fork of the machine
  // may take it first: tried again.
  let second: ChildProcess | undefined;
  for (let attempt = 0; attempt < 50 && second === undefined; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(tid - 1));
    const child = await sleeperAs(4242);
    if (child.pid === tid) second = child;
    else await end(child);
  }
  if (second === undefined) throw new Error(`tid ${tid} was not reused in 50 tries`);
  try {
    assert.equal(followedUid(tid), { r: 1, euid: 4242 });
  } finally {
    native.leaveSandbox();
    await end(second);
  }
});

test.run();
