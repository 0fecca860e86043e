// The monitor thread (tsyd_mon): runs the monitor machine with the real actors, once per
// sandbox it serves (the first comes as workerData, the next ones as 'monitor.serve' messages:
// a warm supervisor, src/supervisor/supervisor.ts). It owns the emulator threads, so they are
// created by it and share its private fs (cwd, umask); the emulator threads outlive the
// sandbox they served and serve the next one.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { fromPromise, createActor, toPromise } from 'xstate';
import type { Piscina } from 'piscina';
import type { TsydLogger } from '../log.js';
import { createThreadLogger } from '../thread-log.js';
import { reportThreadMemory } from '../shared/thread-memory.js';
import { MON_GRACE_MS, monitorMachine } from '../machines/monitor.machine.js';
import { StateVisits } from '../machines/visits.js';
import { native } from '../native/addon.js';
import { sameBytes } from '../sandbox/bytes.js';
import { EmulatorPool, emulatorThreads, type PoolEvent } from './emulator-pool.js';
import type { MonitorConfig } from '../shared/thread-config.js';
import { interrupterFailure, logInterrupterEvents, startInterrupter, stopInterrupter } from './interrupter.js';
import { Ctl, WorkerData } from '../shared/worker-data.js';
import { finishWriteBacks, startAesWorker, writeBackInLoop } from './crypt-writeback.js';
import { mark } from '../shared/timeline.js';
import { StateBoard } from '../shared/state-board.js';
import { startIpc, stopIpc, type IpcThread } from './ipc.js';
import { IpcSockets } from '../shared/ipc-sockets.js';

export type MonitorMessage =
  | PoolEvent
  | { type: 'monitor.ready'; tid: number; fds: number[] }
  | { type: 'monitor.confined'; tid: number }
  | { type: 'monitor.state'; value: unknown; context: unknown }
  | { type: 'monitor.visited'; states: string[] }
  | { type: 'monitor.done'; exitCode: number; error?: string };

/** What the owner sends a monitor thread between sandboxes. */
export type MonitorCommand = { type: 'monitor.serve'; config: MonitorConfig } | { type: 'monitor.close' };

const CLONE_FS = 0x200;
const O_CLOEXEC = 0o2000000;
const CLOSE_RANGE_CLOEXEC = 4;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const SETTLE_MS = 2;
const SYNCHRONOUS = new Set([4, 5, 6, 7, 8, 9, 11, 19, 31]); // ILL TRAP ABRT BUS FPE KILL SEGV STOP SYS
const ASYNC_SIGNALS = Array.from({ length: 64 }, (_, i) => i + 1).filter((s) => !SYNCHRONOUS.has(s) && s !== 32 && s !== 33);

const post = (m: MonitorMessage) => parentPort?.postMessage(m);
const tid = native.gettid();
native.setThreadName('tsyd_mon');
mark('monitor.up');
// SAFETY (and liveness): asynchronous signals sent to tsyd must be handled by the main thread.
// libuv's handler wakes the main loop by writing to an fd number; in a thread with a private
// fd table that number is closed or another file, and the signal would be lost (tsyd would
// not forward it). Every supervisor thread created from here on inherits this mask; only the
// synchronous faults stay deliverable. Emulators unblock SIGALRM for themselves.
native.threadSignalMask(0, ASYNC_SIGNALS);

// What lives as long as this thread (across sandboxes).
/** The fs is private (unshared once: a second unshare would only copy it again). */
let fsPrivate = false;
/** The emulator filter this thread loaded (it never comes off); undefined: not confined. */
let confinedWith: Uint8Array | undefined;
let threads: Piscina | undefined;
/** The read end of the interrupter's handshake pipe, until the handshake is read. */
let handshakeFd = -1;

function errnoOf(err: unknown): number | undefined {
  return (err as { errno?: number }).errno;
}

/** Ends what lives across sandboxes: the idle emulator threads (tsyd_int ends with each sandbox). */
async function closeThreads(): Promise<void> {
  await threads?.destroy();
  threads = undefined;
}

/** The sandbox being served (or the last one served, while idle). */
interface Serving {
  data: MonitorConfig;
  log: TsydLogger;
  wd: WorkerData;
  pool: EmulatorPool;
  /** The monitor's states in this sandbox, as first entered (reported to the owner). */
  visits: StateVisits;
  /** With an IPC socket: where the monitor's state is shown to tsyd_ipc, and tsyd_ipc itself once started. */
  board?: StateBoard;
  ipc?: IpcThread;
  /** Its entry among the process's IPC sockets (IpcSockets). */
  ipcEntry?: number;
}
let cur!: Serving;

/** Makes `data` the sandbox being served. */
function take(data: MonitorConfig): void {
  const log = createThreadLogger(data.log).child({ module: 'monitor' });
  const wd = new WorkerData(data.shared, data.maxEmulators);
  Atomics.store(wd.ctl, Ctl.monitorTid, tid);
  const pool = new EmulatorPool({
    threads: () => (threads ??= emulatorThreads(data.maxEmulators, data.idleMs ?? 0)),
    wd,
    coreSize: data.coreSize,
    keepAliveMs: data.keepAliveMs,
    task: data.emulator,
    logger: log,
    onEvent: (e) => post(e),
  });
  cur = { data, log, wd, pool, visits: new StateVisits(), board: data.ipc ? new StateBoard(data.ipc.board) : undefined };
  if (!data.emulatorFilter) log.error({ ctx: 'confine', op: 'confine_monitor_thread' }, 'monitor thread is running unconfined in debug mode (TSYD_SKIP_SCMP)');
  log.info(
    { ctx: 'boot', op: 'start_monitor_thread', core_size: data.coreSize, keep_alive: data.keepAliveMs, tid },
    `started monitor thread with pool size set to ${data.coreSize} threads and keep alive set to ${data.keepAliveMs} ms`,
  );
}

/**
 * Resolves after `ms`, or earlier when an emulator saw every emulator busy (or the supervisor
 * bumps the wake word). After such a wake-up it lets the pool settle for SETTLE_MS before the
 * monitor looks: with one program thread, an emulator that has just answered is still counted
 * busy for a few µs while another takes the next request, and spawning a helper for that
 * overlap only adds a thread that every notification wakes (measured: 3 emulators and
 * +4 µs per CONTINUE answer). A call that really blocks is still blocking 2 ms later.
 * `whole`: only the supervisor's stop ends the wait early (the grace after the first core
 * emulator, below).
 */
async function waitForWork(ms: number, whole = false): Promise<void> {
  const { wd, log } = cur;
  const deadline = Date.now() + ms;
  for (;;) {
    const seen = Atomics.load(wd.ctl, Ctl.wake);
    if (wd.shouldExit) return;
    Atomics.store(wd.ctl, Ctl.monitorWaiting, 1);
    const r = Atomics.waitAsync(wd.ctl, Ctl.wake, seen, Math.max(0, deadline - Date.now()));
    const how = r.async ? await r.value : r.value;
    logInterrupterEvents(log);
    if (cur.data.crypt !== undefined) writeBackInLoop(log);
    Atomics.store(wd.ctl, Ctl.monitorWaiting, 0);
    if (how === 'timed-out' || wd.shouldExit) return;
    if (!whole) {
      if (how === 'ok') await new Promise((res) => setTimeout(res, SETTLE_MS));
      return;
    }
    if (Date.now() >= deadline) return;
  }
}

const machine = monitorMachine.provide({
  actors: {
    unshareMonitor: fromPromise(async () => {
      const { log } = cur;
      // The fs only (cwd, root, umask), not the fd table. A worker thread created from a thread
      // with a private fd table has its event loop's wake-up eventfd in that table alone, but
      // V8's platform threads (main table) post tasks to every isolate by writing to that fd
      // number: in the main table it is closed (libuv aborts the whole process: `make -j2`
      // under `-p off` aborted 4 runs out of 4) or another file (8 bytes written into it).
      // A warm monitor unshared for an earlier sandbox: its fs is private already.
      if (fsPrivate) return;
      try {
        native.unshare(CLONE_FS);
      } catch (err) {
        log.alert({ ctx: 'boot', op: 'unshare_monitor_thread', err: errnoOf(err), msg: `failed to unshare(CLONE_FS): ${String(err)}` });
        throw err;
      }
      // The monitor's fs is private now: umask 0 here is the emulators' (they share it) and
      // leaves tsyd's main thread alone. Modes are masked with the program's umask instead.
      native.umask(0);
      fsPrivate = true;
      log.info({ ctx: 'boot', op: 'unshare_monitor_thread' }, 'monitor has a private fs');
    }),
    closeFds: fromPromise(async () => {
      const { data, log } = cur;
      // SAFETY: the supervisor's own fds (the listener above all) are close-on-exec, so no
      // child of tsyd, nor of a program embedding it, inherits them; set it where it is not.
      const fds = [data.notifyFd, data.pidfd, data.wakeFd];
      const fixed: number[] = [];
      for (const fd of fds) {
        const flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/thread-self/fdinfo/${fd}`, 'utf8'))?.[1];
        if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) !== 0) continue;
        native.closeRange(fd, fd, CLOSE_RANGE_CLOEXEC);
        fixed.push(fd);
      }
      if (fixed.length > 0) log.warn({ ctx: 'boot', op: 'close_monitor_fds', fixed }, 'supervisor fds were inheritable: set close-on-exec');
      else log.info({ ctx: 'boot', op: 'close_monitor_fds', fds }, 'supervisor fds are close-on-exec');
      post({ type: 'monitor.ready', tid, fds });
    }),
    spawnInterrupter: fromPromise(async () => {
      const { data, log } = cur;
      const [rd, wr] = native.pipe2();
      // SAFETY: the thread is created before this thread loads its own filter (confinement.loading,
      // lock:on), so the interrupter inherits none: it loads its own before its handshake. A warm
      // monitor confined for an earlier sandbox passes its filter on; the interrupter's own stacks
      // on it (each denies only calls it never makes). A native thread per sandbox: it starts in
      // microseconds, and reads only the words of the sandbox it was started for.
      try {
        startInterrupter(cur.wd, data.notifyFd, wr, data.interrupterFilter, data.fault);
      } catch (err) {
        native.close(rd);
        native.close(wr);
        log.alert({ ctx: 'boot', op: 'interrupter_failed', err: errnoOf(err), msg: `failed to start the interrupter: ${String(err)}` });
        throw err;
      }
      handshakeFd = rd;
    }),
    interrupterHandshake: fromPromise(async () => {
      const { data, log, wd } = cur;
      const rd = handshakeFd;
      // The handshake: byte 42; EOF or any other byte is an error.
      try {
        for (const deadline = Date.now() + HANDSHAKE_TIMEOUT_MS; ; ) {
          const r = native.waitReadable(rd, 0);
          if (r > 0) break;
          if (Date.now() > deadline) throw new Error('interrupter handshake timed out');
          await new Promise((res) => setTimeout(res, 2));
        }
        const b = native.readByte(rd);
        if (b !== 42) throw new Error(b === -1 ? `interrupter died before its handshake${interrupterFailure()}` : `bad interrupter handshake byte ${b}`);
      } finally {
        native.close(rd);
      }
      mark('interrupter.handshake');
      const confined = data.interrupterFilter !== undefined;
      log.info({ ctx: 'boot', op: 'start_interrupter_thread', tid: Atomics.load(wd.ctl, Ctl.interrupterTid), confined }, 'interrupter is up (handshake 42)');
    }),
    prepareConfinement: fromPromise(async () => {
      const { data, log, wd, pool } = cur;
      pool.confinement = data.emulatorFilter;
      log.info({ ctx: 'confine', op: 'confine_monitor_thread' }, wd.locked ? 'sandbox locked: confining now' : 'monitor thread is running unconfined because the sandbox is not locked yet');
    }),
    loadConfinement: fromPromise(async () => {
      const { data, log } = cur;
      // SAFETY: filters stack and never come off. A warm monitor confined for an earlier
      // sandbox serves only sandboxes with this same filter (the engine key,
      // src/supervisor/supervisor.ts): loading it again would only stack a copy; a different
      // filter is refused (fail closed: 101).
      if (confinedWith !== undefined) {
        if (!sameBytes(confinedWith, data.emulatorFilter)) throw new Error('a confined monitor cannot serve a sandbox with another filter');
        post({ type: 'monitor.confined', tid });
        return;
      }
      try {
        // Test only (TSYD_FAULT=fail-confine): a load that fails, to prove the exit 101.
        if (data.fault === 'fail-confine') throw Object.assign(new Error('seccomp: injected failure'), { errno: 22 });
        native.loadThreadFilter(data.emulatorFilter!);
      } catch (err) {
        log.alert({ ctx: 'boot', op: 'confine_monitor_thread', err: errnoOf(err), msg: `failed to confine: ${String(err)}` });
        throw err;
      }
      confinedWith = data.emulatorFilter;
      log.info({ ctx: 'confine', op: 'confine_monitor_thread', tid }, 'monitor thread confined');
      post({ type: 'monitor.confined', tid });
    }),
    trySpawn: fromPromise(async () => cur.pool.trySpawn()),
    // The grace after the first core emulator is waited whole (DESIGN monitor() step 7): the
    // first requests of a new isolate (its code still compiling) kept it busy past the settle
    // time, and the wake of `true`'s exec started the second core emulator, a Node isolate
    // booting beside the program for nothing (start-up: CPU on a 2-core machine, ~10 MiB
    // peak RSS). A call that blocks no longer holds an emulator (job threads); the running
    // loop still answers a wake-up at once.
    waitForWork: fromPromise(async ({ input }) => waitForWork(MON_GRACE_MS, (input as { whole?: boolean } | undefined)?.whole === true)),
    stopPool: fromPromise(async () => {
      const { data, log, wd, pool } = cur;
      mark('monitor.exiting');
      // Every emulator task of this sandbox ends; the threads stay for the next sandbox, unless
      // none is kept (idleMs 0: the CLI): then they end now, those still booting with them.
      const keepThreads = (data.idleMs ?? 0) > 0;
      await pool.drain(keepThreads);
      if (!keepThreads) {
        await threads?.destroy();
        threads = undefined;
        await pool.settled();
      }
      mark('pool.destroyed');
      stopInterrupter(log);
      log.debug({ ctx: 'boot', op: 'exit_interrupter_thread' }, 'interrupter joined');
      log.debug({ ctx: 'boot', op: 'stop_pool', ...wd.counts() }, 'every emulator ended');
    }),
    closeThreads: fromPromise(closeThreads),
    startAes: fromPromise(async () => startAesWorker(cur.log, cur.data.aesFilter, cur.data.fault)),
    startIpc: fromPromise(async () => {
      const { ipc, guard } = await startIpc(cur.data, cur.log);
      cur.ipc = ipc;
      // SAFETY: every sandbox of this process refuses its program this socket (the same uid's
      // program of another sandbox could otherwise control this one).
      cur.ipcEntry = new IpcSockets(cur.data.emulator.ipcSockets).add(guard);
      if (cur.ipcEntry < 0) {
        await stopIpc(ipc, cur.log);
        cur.ipc = undefined;
        throw new Error('too many IPC sockets in this process');
      }
      // SAFETY: every emulator of this sandbox (none started yet) refuses the program this socket.
      cur.data.emulator.ipc = guard;
    }),
    stopIpc: fromPromise(async () => {
      if (cur.ipc) await stopIpc(cur.ipc, cur.log);
      cur.ipc = undefined;
      new IpcSockets(cur.data.emulator.ipcSockets).remove(cur.ipcEntry ?? -1);
      cur.ipcEntry = undefined;
    }),
    waitAes: fromPromise(async () => finishWriteBacks(cur.log, cur.data.crypt!.handle)),
  },
  guards: {
    locked: () => cur.wd.locked,
    shouldExit: () => cur.wd.shouldExit,
  },
  actions: {
    // After the visits of this step have been reported (the inspection runs within the step).
    sandboxServed: ({ context }) => void setImmediate(() => post({ type: 'monitor.done', exitCode: context.exitCode, error: context.error })),
  },
});

take(workerData as MonitorConfig);
reportThreadMemory(cur.log, 'monitor');
const actor = createActor(machine, {
  input: { skipConfinement: !cur.data.emulatorFilter, crypt: cur.data.crypt !== undefined, ipc: cur.data.ipc !== undefined },
  // The states the monitor has been in reach the owner as they are first entered in a sandbox
  // (a handful of messages per run): the run's record of what the machine really did.
  inspect: (e) => cur.visits.observer('monitor', machine, (states: string[]) => post({ type: 'monitor.visited', states }))(e),
});
actor.subscribe((snap) => {
  cur.board?.set('monitor', snap.value);
  post({ type: 'monitor.state', value: snap.value, context: snap.context });
});
actor.start();
// Ended (closed, or failed: a failed monitor serves no other sandbox).
void toPromise(actor).then(async (out) => {
  if (out.exitCode !== 0) post({ type: 'monitor.done', exitCode: out.exitCode, error: out.error });
  await closeThreads();
  parentPort?.close();
});
parentPort?.on('message', (m: MonitorCommand) => {
  if (m.type === 'monitor.serve') {
    take(m.config);
    actor.send({ type: 'sandbox.serve', skipConfinement: !m.config.emulatorFilter, crypt: m.config.crypt !== undefined, ipc: m.config.ipc !== undefined });
  } else actor.send({ type: 'monitor.close' });
});
