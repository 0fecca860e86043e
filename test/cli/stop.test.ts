// A program blocked in a call tsyd performs for it (here the open of a FIFO with no writer, made
// on a job thread) stops as it would natively: SIGSTOP or SIGTSTP make its state T, and after
// SIGCONT the open is made again and completes when a writer comes (natively the kernel cuts the
// wait short with -ERESTARTSYS, stops the task and restarts the call). A caught signal runs its
// handler during the wait, and the call goes on (SA_RESTART) or fails with EINTR (without), as
// natively. Each scenario runs natively first, then under tsyd: the same outcome. (Before: the
// program stayed in D, unstoppable, and an SA_RESTART handler ran only once the open was done.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, constants, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, spawnProgram, spawnTsyd, type RunningProcess } from '../helpers/tsyd.js';
import { makeFifos, until } from '../supervisor/helpers.js';

const OPENAT = 257;
const CONNECT = 42;

// Natively the program runs as under tsyd: in a process group of its own whose parent is in
// another group of the same session (spawnProgram's setsid made an orphaned group, where the
// kernel discards SIGTSTP), its parent waiting for its end (a death by signal N: 128+N, as tsyd).
const IN_GROUP = `import os, sys
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.execv(sys.argv[1], sys.argv[1:])
st = os.waitpid(pid, 0)[1]
sys.exit(128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st))`;

/** The state letter of a task (/proc/TID/stat), '' once it is gone. */
function state(tid: number): string {
  try {
    const stat = readFileSync(`/proc/${tid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0]!;
  } catch {
    return '';
  }
}

/** The system call a task is in (first field of /proc/TID/syscall), or -1. */
function syscallOf(tid: number): number {
  try {
    return Number(readFileSync(`/proc/${tid}/syscall`, 'latin1').split(' ')[0]);
  } catch {
    return -1;
  }
}

/** How many of process `pid`'s threads are named `name`. */
function threadsNamed(pid: number, name: string): number {
  let n = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${t}/comm`, 'latin1').trim() === name) n++;
    } catch {
      // ended meanwhile
    }
  }
  return n;
}

/** Opens the FIFO for writing once its reader waits (ENXIO until then), writes `data`, closes. */
async function writeWhenRead(fifo: string, data: string): Promise<void> {
  let fd = -1;
  await until(() => {
    try {
      fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      return true;
    } catch {
      return false;
    }
  }, 'a reader opens the FIFO');
  writeSync(fd, data);
  closeSync(fd);
}

interface Blocked {
  run: RunningProcess;
  pid: number;
  /** The thread in the open. */
  tid: number;
  fifo: string;
}

/** Starts `program args` natively (in a group of its own, see IN_GROUP) or under tsyd. */
function start(underTsyd: boolean, program: string, args: string[], user?: number): RunningProcess {
  const opts = { user, keepStdinOpen: true };
  return underTsyd ? spawnTsyd(['run', '--', program, ...args], opts) : spawnProgram('python3', ['-c', IN_GROUP, program, ...args], opts);
}

/** Waits for the fixture's "ready pid=P tid=T", then until T waits in system call `nr` (under tsyd: on a job thread). */
async function blockedIn(run: RunningProcess, underTsyd: boolean, nr: number): Promise<{ pid: number; tid: number }> {
  const out = await run.waitForStdout(/ready pid=\d+ tid=\d+\n/);
  const [, pid, tid] = /ready pid=(\d+) tid=(\d+)/.exec(out)!.map(Number);
  await until(() => syscallOf(tid!) === nr, 'the call waits');
  if (underTsyd) await until(() => threadsNamed(run.pid, 'tsyd_blk') === 1, 'the call waits on a job thread');
  return { pid: pid!, tid: tid! };
}

/** Starts blockopen (natively or under tsyd) and waits until its open blocks. */
async function blockedOpen(underTsyd: boolean, args: string[], user?: number): Promise<Blocked> {
  const dir = tempTree('stop');
  const [fifo] = makeFifos(dir, 'f', 1);
  const run = start(underTsyd, fixture('blockopen'), [...args, fifo!], user);
  return { run, ...(await blockedIn(run, underTsyd, OPENAT)), fifo: fifo! };
}

/** The program is stopped by `sig`, continued, and its open completes when a writer comes. */
async function stopAndContinue(underTsyd: boolean, sig: NodeJS.Signals, args: string[] = [], user?: number): Promise<void> {
  const b = await blockedOpen(underTsyd, args, user);
  process.kill(b.pid, sig);
  await until(() => state(b.tid) === 'T' && state(b.pid) === 'T', 'stopped', 3000);
  process.kill(b.pid, 'SIGCONT');
  await until(() => state(b.tid) !== 'T', 'continued');
  await writeWhenRead(b.fifo, 'hello');
  const r = await b.run.result;
  assert.is(r.code, 0, describe(r));
  assert.match(r.stdout, /open ok\nread=hello\n/, describe(r));
  assert.not.match(r.stdout, 'errno', describe(r));
}

for (const under of [false, true]) {
  const where = under ? 'under tsyd' : 'natively';

  test(`${where}: SIGSTOP stops a program blocked in a FIFO open (T); after SIGCONT the open completes`, async () => {
    await stopAndContinue(under, 'SIGSTOP');
  });

  test(`${where}: SIGTSTP (default action) stops it too; after SIGCONT the open completes`, async () => {
    await stopAndContinue(under, 'SIGTSTP');
  });

  test(`${where}: the open in a second thread, SIGSTOP to the process: every thread stops, then the open completes`, async () => {
    await stopAndContinue(under, 'SIGSTOP', ['-t']);
  });

  test(`${where}: a handler with SA_RESTART runs while the open waits, and the open goes on`, async () => {
    const b = await blockedOpen(under, ['-r', '10']);
    process.kill(b.pid, 'SIGUSR1');
    await b.run.waitForStdout(/caught 10\n/, 3000);
    // The handler ran, the open goes on (restarted: in openat again once the handler returned).
    await until(() => syscallOf(b.tid) === OPENAT, 'in the open again');
    await writeWhenRead(b.fifo, 'x');
    const r = await b.run.result;
    assert.match(r.stdout, /caught 10\nopen ok\nread=x\n/, describe(r));
  });

  // (Before, under tsyd: the handled signal left the thread waiting with a signal pending, and
  // the kernel then gave a fatal one to nobody: the program lived on until SIGKILL.)
  test(`${where}: after a handled signal, SIGTERM ends the program waiting in the open`, async () => {
    const b = await blockedOpen(under, ['-r', '10']);
    process.kill(b.pid, 'SIGUSR1');
    await b.run.waitForStdout(/caught 10\n/, 3000);
    process.kill(b.pid, 'SIGTERM');
    const r = await b.run.result;
    assert.is(r.code, 143, describe(r));
    assert.not.match(r.stdout, 'open', describe(r));
  });

  test(`${where}: stopped, then continued with a SIGCONT handler without SA_RESTART: EINTR`, async () => {
    const b = await blockedOpen(under, ['-i', '18']);
    process.kill(b.pid, 'SIGSTOP');
    await until(() => state(b.pid) === 'T', 'stopped', 3000);
    process.kill(b.pid, 'SIGCONT');
    const r = await b.run.result;
    assert.match(r.stdout, /caught 18\nopen errno=4\n/, describe(r));
  });
}

for (const under of [false, true]) {
  const where = under ? 'under tsyd' : 'natively';

  // (Before, under tsyd: no stop; then, stopped and restarted, the connect found the socket still
  // connecting: EALREADY, where the kernel's blocking connect waits for the handshake.)
  test(`${where}: a connect waiting for room in a listener's queue stops; after SIGCONT it completes`, async () => {
    const run = start(under, fixture('connwait'), []);
    const b = await blockedIn(run, under, CONNECT);
    process.kill(b.pid, 'SIGSTOP');
    await until(() => state(b.tid) === 'T', 'stopped', 3000);
    process.kill(b.pid, 'SIGCONT');
    await until(() => state(b.tid) !== 'T', 'continued');
    run.child.stdin!.end('accept\n');
    const r = await run.result;
    assert.match(r.stdout, /connect ok\n/, describe(r));
  });

  test(`${where}: with a send timeout, the connect stopped and continued fails with EINTR`, async () => {
    const run = start(under, fixture('connwait'), ['-s', '60']);
    const b = await blockedIn(run, under, CONNECT);
    process.kill(b.pid, 'SIGSTOP');
    await until(() => state(b.tid) === 'T', 'stopped', 3000);
    process.kill(b.pid, 'SIGCONT');
    await run.waitForStdout(/connect errno=4\n/, 3000);
    run.child.stdin!.end();
    await run.result;
  });
}

test('under tsyd as nobody: SIGSTOP stops the program blocked in a FIFO open, SIGCONT lets it complete', async () => {
  await stopAndContinue(true, 'SIGSTOP', [], NOBODY);
});

test.run();
