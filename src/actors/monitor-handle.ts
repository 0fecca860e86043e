// The main thread's side of the monitor: starts tsyd_mon, relays its events, and stops the
// whole supervisor (should_exit, wake, interrupt blocked emulators) within a bound.
import { stat } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import type { TsydLogger } from '../log.js';
import { native } from '../native/addon.js';
import type { MonitorCommand, MonitorMessage } from './monitor.worker.js';
import type { MonitorConfig } from '../shared/thread-config.js';
import { EmuState } from '../shared/emulator-states.js';
import { Ctl, Job, JOB_WORDS, JobState, WorkerData } from '../shared/worker-data.js';
import { Slot } from '../shared/slot.js';
import { mark } from '../shared/timeline.js';
import { MONITOR_LIMITS } from '../shared/thread-limits.js';

const SIGALRM = 14;
const INTERRUPT_EVERY_MS = 50;
const CLOSE_TIMEOUT_MS = 5000;

let threadPoolWarm = false;

/**
 * libuv's thread pool takes the fd table, cwd and seccomp filter of the thread that first uses
 * it: start it from the main thread before any supervisor thread unshares or confines itself.
 */
export function warmThreadPool(): void {
  if (threadPoolWarm) return;
  threadPoolWarm = true;
  stat('/', () => {});
}

/**
 * A monitor thread (tsyd_mon) with its interrupter and emulator threads: it serves one sandbox
 * at a time, sandbox after sandbox (src/supervisor/supervisor.ts decides which may follow which).
 * While it serves none it does not keep the host process alive.
 */
export class MonitorThread {
  private readonly worker: Worker;
  readonly exited: Promise<number>;
  /** The sandbox being served. */
  private current: MonitorHandle | undefined;
  private started = false;
  /** The thread has died, or failed a sandbox: it serves no other. */
  broken = false;
  /** It served a locked sandbox: its threads may be confined (filters never come off). */
  confined = false;

  constructor(
    /** What its threads keep across sandboxes (src/supervisor/supervisor.ts: engineKey). */
    readonly key: string,
    first: MonitorConfig,
  ) {
    warmThreadPool();
    // SAFETY: SIGALRM interrupts blocked emulators; without this no-op handler (no
    // SA_RESTART) its default action would end tsyd.
    native.installInterruptHandler();
    // A CommonJS bundle (scripts/bundle-workers.mjs): one file to read instead of dozens of
    // ES modules through the thread pool, which made the monitor the slowest step of start-up.
    this.worker = new Worker(new URL('../actors/monitor.worker.cjs', import.meta.url), { workerData: first, name: 'tsyd_mon', resourceLimits: MONITOR_LIMITS });
    mark('monitor.created');
    this.worker.on('message', (m: MonitorMessage) => {
      if (m.type === 'pool.dead') this.broken = true;
      if (m.type === 'monitor.done' && m.exitCode !== 0) this.broken = true;
      this.current?.message(m);
    });
    this.worker.on('error', (err) => {
      this.broken = true;
      this.current?.failed(err);
    });
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.broken = true;
        this.current?.failed(new Error(`monitor thread exited (${code})`));
        resolve(code);
      }),
    );
  }

  /** Serves `handle`'s sandbox (the first one came with the thread's start). */
  serve(handle: MonitorHandle): void {
    this.current = handle;
    this.worker.ref();
    if (this.started) this.worker.postMessage({ type: 'monitor.serve', config: handle.data } satisfies MonitorCommand);
    this.started = true;
  }

  /** The sandbox has been served: the thread waits for the next one without holding the host. */
  idle(): void {
    this.current = undefined;
    this.worker.unref();
  }

  /** Ends the thread and what it owns (idle emulators, the interrupter). */
  async close(): Promise<void> {
    this.broken = true;
    // Whoever awaits the close is kept alive until the thread has ended.
    this.worker.ref();
    this.worker.postMessage({ type: 'monitor.close' } satisfies MonitorCommand);
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_TIMEOUT_MS);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }
}

/** One sandbox served by a MonitorThread: its events, its result, its stop. */
export class MonitorHandle extends EventEmitter {
  private outcome: { exitCode: number; error?: string } | undefined;
  private readonly done: Promise<void>;
  private finished!: () => void;

  constructor(
    readonly wd: WorkerData,
    readonly data: MonitorConfig,
    private readonly logger: TsydLogger,
  ) {
    super();
    this.done = new Promise((r) => (this.finished = r));
  }

  /** A message of the monitor thread about this sandbox. */
  message(m: MonitorMessage): void {
    if (m.type === 'monitor.done') {
      this.outcome = { exitCode: m.exitCode, error: m.error };
      this.finished();
    }
    this.emit('event', m);
    this.emit(m.type, m);
  }

  /** The monitor thread died while it served this sandbox. */
  failed(err: unknown): void {
    if (this.outcome !== undefined) return;
    this.logger.alert({ ctx: 'boot', op: 'monitor_failed', err: String(err) }, 'monitor thread failed');
    this.outcome = { exitCode: 101, error: String(err) };
    this.finished();
    this.emit('monitor.done', { type: 'monitor.done', ...this.outcome });
  }

  /** The monitor machine's result, once it has one (failed → 101). */
  get result(): { exitCode: number; error?: string } | undefined {
    return this.outcome;
  }

  /**
   * Sets should_exit, wakes every emulator and the monitor, interrupts emulators blocked in a
   * call for the program, and waits for the monitor to have served this sandbox (every emulator
   * task and job thread of it ended). Resolves false if they are still busy after `timeoutMs`.
   */
  async stop(timeoutMs = 5000): Promise<boolean> {
    const { wd } = this;
    Atomics.store(wd.ctl, Ctl.shouldExit, 1);
    Atomics.notify(wd.ctl, Ctl.shouldExit);
    wd.wake();
    native.eventfdWrite(this.data.wakeFd);
    const jobs = wd.jobs();
    const interrupt = setInterval(() => {
      for (let i = 0; i < wd.maxEmulators; i++) {
        const s = wd.slot(i);
        const tid = Atomics.load(s, Slot.tid);
        // Busy in a call for the program, or inside NOTIF_RECV (odd generation) waiting for a
        // notification that will not come (the interrupter has already left).
        const inRecv = (Atomics.load(s, Slot.recvGen) & 1) === 1;
        if (tid > 0 && (Atomics.load(s, Slot.state) === EmuState.busy || inRecv)) native.tgkill(process.pid, tid, SIGALRM);
      }
      // Job threads still blocked in a call for the program (which has ended): cut them short.
      for (let i = 0; i < wd.maxJobs; i++) {
        const tid = Atomics.load(jobs, i * JOB_WORDS + Job.tid);
        if (tid > 0 && Atomics.load(jobs, i * JOB_WORDS + Job.state) === JobState.blocking) native.tgkill(process.pid, tid, SIGALRM);
      }
    }, INTERRUPT_EVERY_MS);
    const jobsDone = async () => {
      // SAFETY: a job thread must not outlive the sandbox's shared words (it writes its entry).
      for (;;) {
        let running = 0;
        for (let i = 0; i < wd.maxJobs; i++) if (Atomics.load(jobs, i * JOB_WORDS + Job.state) !== JobState.free) running++;
        if (running === 0) return;
        await new Promise((r) => setTimeout(r, INTERRUPT_EVERY_MS));
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const crypt = this.data.crypt !== undefined;
    const timeout = new Promise<false>((resolve) => {
      const expire = () => {
        // SAFETY (nothing lost at exit): with Crypt on, the monitor's last step writes every
        // crypt buffer back (waitingAes: a 10 GiB file takes longer than any fixed wait); the
        // timeout counts only once no write-back is queued or running any more.
        if (crypt && native.aesPending() > 0) timer = setTimeout(expire, timeoutMs);
        else resolve(false);
      };
      timer = setTimeout(expire, timeoutMs);
    });
    const done = await Promise.race([Promise.all([this.done, jobsDone()]).then(() => true as const), timeout]);
    clearInterval(interrupt);
    clearTimeout(timer);
    if (!done) this.logger.alert({ ctx: 'boot', op: 'stop_supervisor', ...wd.counts() }, 'supervisor threads did not stop');
    return done;
  }
}
