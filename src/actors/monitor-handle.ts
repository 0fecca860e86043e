// The main thread's side of the monitor: starts tsyd_mon, relays its events, and stops the
// whole supervisor (should_exit, wake, interrupt blocked emulators) within a bound.
import { stat } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import type { TsydLogger } from '../log.js';
import { native } from '../native/addon.js';
import type { MonitorMessage } from './monitor.worker.js';
import type { MonitorConfig } from '../shared/thread-config.js';
import { EmuState } from '../shared/emulator-states.js';
import { Ctl, Job, JOB_WORDS, JobState, WorkerData } from '../shared/worker-data.js';
import { Slot } from '../shared/slot.js';
import { mark } from '../shared/timeline.js';
import { MONITOR_LIMITS } from '../shared/thread-limits.js';

const SIGALRM = 14;
const INTERRUPT_EVERY_MS = 50;

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

export class MonitorHandle extends EventEmitter {
  private readonly worker: Worker;
  private readonly exited: Promise<number>;
  private outcome: { exitCode: number; error?: string } | undefined;

  constructor(
    readonly wd: WorkerData,
    readonly data: MonitorConfig,
    private readonly logger: TsydLogger,
  ) {
    super();
    warmThreadPool();
    // SAFETY: SIGALRM interrupts blocked emulators; without this no-op handler (no
    // SA_RESTART) its default action would end tsyd.
    native.installInterruptHandler();
    // A CommonJS bundle (scripts/bundle-workers.mjs): one file to read instead of dozens of
    // ES modules through the thread pool, which made the monitor the slowest step of start-up.
    this.worker = new Worker(new URL('../actors/monitor.worker.cjs', import.meta.url), { workerData: data, name: 'tsyd_mon', resourceLimits: MONITOR_LIMITS });
    mark('monitor.created');
    this.worker.on('message', (m: MonitorMessage) => {
      if (m.type === 'monitor.done') this.outcome = { exitCode: m.exitCode, error: m.error };
      this.emit('event', m);
      this.emit(m.type, m);
    });
    this.worker.on('error', (err) => {
      this.logger.alert({ ctx: 'boot', op: 'monitor_failed', err: String(err) }, 'monitor thread failed');
      this.outcome ??= { exitCode: 101, error: String(err) };
      this.emit('monitor.done', { type: 'monitor.done', ...this.outcome });
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  /** The monitor machine's result, once it has one (failed → 101). */
  get result(): { exitCode: number; error?: string } | undefined {
    return this.outcome;
  }

  /**
   * Sets should_exit, wakes every emulator and the monitor, interrupts emulators blocked in a
   * call for the program, and waits for the monitor (which waits for its pool). Resolves
   * false if the threads are still alive after `timeoutMs`.
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
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([Promise.all([this.exited, jobsDone()]).then(() => true as const), timeout]);
    clearInterval(interrupt);
    clearTimeout(timer);
    if (!done) this.logger.alert({ ctx: 'boot', op: 'stop_supervisor', ...wd.counts() }, 'supervisor threads did not stop');
    return done;
  }
}
