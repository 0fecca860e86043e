// A warm supervisor: the monitor threads (each with its interrupter and emulator threads) that
// served a sandbox stay and serve the next one, so a library host pays the threads' start-up once,
// not per spawn(). Explicit (`new Supervisor()`, closed by the host) or the shared default that
// spawn()/run() use, which ends its idle threads by itself. An idle supervisor never keeps the
// host process alive (unref'd threads and timers).
import { MonitorHandle, MonitorThread } from '../actors/monitor-handle.js';
import { droppedCapabilities } from '../confine/capabilities.js';
import type { TsydLogger } from '../log.js';
import type { MonitorConfig } from '../shared/thread-config.js';
import type { WorkerData } from '../shared/worker-data.js';
import type { SandboxConfig, SpawnOptions } from './options.js';
import type { SandboxResult } from './result.js';
import { spawn, type SandboxedProcess } from '../spawn.js';

/** How long an idle monitor thread waits for the next sandbox. */
export const DEFAULT_IDLE_MS = 5000;
/** How many idle monitor threads a supervisor keeps (each holds core_size emulators). */
export const DEFAULT_MAX_IDLE = 2;

export interface SupervisorOptions {
  /** How long an idle monitor thread (and its emulators) waits for the next sandbox. @default 5000 */
  idleMs?: number;
  /** How many idle monitor threads are kept. 0: none (each sandbox starts its own threads). @default 2 */
  maxIdle?: number;
}

/**
 * What a thread keeps of the sandboxes it served and cannot give back, and what sizes its pool:
 * only a sandbox with the same key may follow. SAFETY: the lowered capabilities of an emulator
 * are in it (a thread must not act for a program with more power than it has, nor with less).
 */
export function engineKey(config: SandboxConfig): string {
  return JSON.stringify({
    drops: droppedCapabilities(config.policy),
    // The emulators' filter bounds their credential calls by the transits' targets.
    setid: [config.policy.transits.targets('uid'), config.policy.transits.targets('gid')],
    core: config.coreSize,
    max: config.maxEmulators,
    jobs: config.maxBlockingCalls,
    skip: config.skipConfinement,
    fault: config.fault ?? null,
  });
}

export class Supervisor {
  private readonly idle: { thread: MonitorThread; timer: NodeJS.Timeout }[] = [];
  private readonly serving = new Set<MonitorThread>();
  private readonly idleMs: number;
  private readonly maxIdle: number;
  private closed = false;

  constructor(options: SupervisorOptions = {}) {
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.maxIdle = options.maxIdle ?? DEFAULT_MAX_IDLE;
  }

  /** As spawn(), served by this supervisor's threads. */
  spawn(file: string, args: string[] = [], options: SpawnOptions = {}): SandboxedProcess {
    return spawn(file, args, { ...options, supervisor: this });
  }

  /** As run(), served by this supervisor's threads. */
  async run(file: string, args: string[] = [], options: SpawnOptions = {}): Promise<SandboxResult> {
    return this.spawn(file, args, options).result;
  }

  /** Monitor threads alive: serving a sandbox, and idle. */
  get threads(): { serving: number; idle: number } {
    return { serving: this.serving.size, idle: this.idle.length };
  }

  /** Starts serving a sandbox: on an idle monitor thread that may serve it, else on a new one. @internal */
  serve(config: SandboxConfig, wd: WorkerData, data: MonitorConfig, logger: TsydLogger): MonitorHandle {
    const handle = new MonitorHandle(wd, { ...data, idleMs: this.maxIdle === 0 ? 0 : this.idleMs }, logger);
    const key = engineKey(config);
    // SAFETY: filters stack and never come off. A thread confined for an earlier sandbox (its
    // monitor, interrupter or emulators loaded the supervisor filter at that sandbox's lock)
    // serves only a sandbox whose threads confine themselves with that same filter: locked now
    // (lock:on) or once its program runs (lock:exec), with confinement not skipped (the key; the
    // filter depends on nothing else but the transits' targets: confinementFilter(kind, bounds)). It denies only calls no
    // supervisor thread makes for any sandbox (src/confine/thread-filters.ts), so confined before
    // the exec it lost nothing that sandbox needs. A lock:off sandbox (its threads stay
    // unconfined until the program locks) gets threads that were never confined, and so does a
    // sandbox with an IPC socket: tsyd_ipc is created by the monitor thread and would inherit
    // its filter (no socket), before it loads its own.
    // Capabilities: engineKey.
    const lockedLater = (config.policy.lock === 'on' || config.policy.lock === 'exec') && config.policy.ipc.address === undefined;
    const at = this.idle.findIndex(({ thread }) => thread.key === key && !thread.broken && (!thread.confined || lockedLater));
    let thread: MonitorThread;
    if (at >= 0) {
      const [taken] = this.idle.splice(at, 1);
      clearTimeout(taken!.timer);
      thread = taken!.thread;
    } else {
      thread = new MonitorThread(key, handle.data);
    }
    this.serving.add(thread);
    thread.serve(handle);
    this.threadOf.set(handle, thread);
    return handle;
  }

  private readonly threadOf = new WeakMap<MonitorHandle, MonitorThread>();

  /**
   * The sandbox has been served (`clean`: every thread of it has ended its work): its monitor
   * thread waits for the next one, or ends when it failed, when the supervisor keeps no more idle
   * threads, or is closed. @internal
   */
  async release(handle: MonitorHandle, clean: boolean): Promise<void> {
    const thread = this.threadOf.get(handle);
    if (thread === undefined) return;
    this.serving.delete(thread);
    // Once set the lock flag stays: some supervisor thread may have confined itself.
    if (handle.wd.locked) thread.confined = true;
    // SAFETY: a thread that failed a sandbox (an emulator died, the monitor failed, a stop that
    // did not finish) serves no other: what it left behind is not known.
    if (!clean || thread.broken || handle.result?.exitCode !== 0 || this.closed || this.maxIdle === 0) {
      await thread.close();
      return;
    }
    thread.idle();
    const timer = setTimeout(() => this.retire(thread), this.idleMs);
    timer.unref();
    this.idle.push({ thread, timer });
    while (this.idle.length > this.maxIdle) this.retire(this.idle[0]!.thread);
  }

  private retire(thread: MonitorThread): void {
    const at = this.idle.findIndex((i) => i.thread === thread);
    if (at < 0) return;
    clearTimeout(this.idle[at]!.timer);
    this.idle.splice(at, 1);
    void thread.close();
  }

  /** Ends the idle threads now; the supervisor stays usable (the next sandbox starts threads). */
  async closeIdle(): Promise<void> {
    const idle = this.idle.map((i) => i.thread);
    for (const t of idle) this.retire(t);
    await Promise.all(idle.map((t) => t.exited));
  }

  /** Ends the idle threads now, and those serving once their sandbox ends. */
  async close(): Promise<void> {
    this.closed = true;
    await this.closeIdle();
  }
}

/** The supervisor of spawn() and run() without a `supervisor` option: idle threads end by themselves. */
export const defaultSupervisor = new Supervisor();
