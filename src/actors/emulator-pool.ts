// The emulator pool, built on piscina: each emulator's life is one long piscina task (core
// tasks end at the sandbox's exit, helper tasks after keep_alive idle); piscina owns the threads'
// life-cycle, resource limits and errors, while the decision to grow is the monitor's
// (try_spawn). It lives in the monitor thread, so emulator threads are created by the monitor
// and share its private fs and its seccomp filter.
import { Piscina } from 'piscina';
import { fileURLToPath } from 'node:url';
import { constants as os } from 'node:os';
import type { TsydLogger } from '../log.js';
import { native } from '../native/addon.js';
import type { EmulatorKind } from '../machines/emulator.machine.js';
import type { EmulatorShared, EmulatorTask } from '../shared/thread-config.js';
import { decideSpawn, type SpawnDecision } from './try-spawn.js';
import { EMULATOR_TABLES, EmuEvent, EmuState } from '../shared/emulator-states.js';
import { WorkerData } from '../shared/worker-data.js';
import { Slot } from '../shared/slot.js';
import { mark } from '../shared/timeline.js';
import { EMULATOR_LIMITS } from '../shared/thread-limits.js';

const CRASH_WINDOW_MS = 10_000;
const MAX_DEATHS_IN_WINDOW = 8;

/**
 * The emulator threads of a monitor thread, for every sandbox it serves: a thread whose task
 * ended (its sandbox was served, or a helper retired) waits `idleMs` for the next task (a new
 * sandbox's emulators run on them), then ends. Created by the monitor after it made its fs private.
 */
export function emulatorThreads(maxEmulators: number, idleMs: number): Piscina {
  return new Piscina({
    // The CommonJS bundle (scripts/bundle-workers.mjs): one file to read, not dozens of modules.
    filename: fileURLToPath(new URL('../actors/emulator.task.cjs', import.meta.url)),
    // None started ahead (a thread starts with its first task), each kept idleMs after its last.
    minThreads: 0,
    maxThreads: maxEmulators,
    idleTimeout: idleMs,
    atomics: 'disabled',
    concurrentTasksPerWorker: 1,
    resourceLimits: EMULATOR_LIMITS,
  });
}

export interface PoolOptions {
  /**
   * The monitor thread's emulator threads (emulatorThreads()), asked for at the first spawn:
   * SAFETY: never before the monitor made its fs private (threads created earlier would share
   * tsyd's cwd and umask).
   */
  threads: () => Piscina;
  wd: WorkerData;
  coreSize: number;
  keepAliveMs: number;
  task: EmulatorShared;
  logger: TsydLogger;
  /** Tells the owner (for logs, tests, the visualizer). */
  onEvent: (e: PoolEvent) => void;
}

export type PoolEvent =
  | { type: 'pool.spawned'; kind: EmulatorKind; slot: number; curr: number; busy: number }
  | { type: 'pool.retired'; slot: number; curr: number; busy: number }
  | { type: 'pool.dead'; slot: number; curr: number; busy: number; answered: boolean }
  | { type: 'pool.capacity_exceeded'; curr: number; busy: number };

export class EmulatorPool {
  private piscina: Piscina | undefined;
  /** The live emulator tasks of this sandbox and their slots. */
  private readonly running = new Map<Promise<unknown>, number>();
  confinement: Uint8Array | undefined;

  constructor(private readonly opts: PoolOptions) {}

  get maxSize(): number {
    return this.opts.wd.maxEmulators;
  }

  /** Times of recent emulator deaths, to tell a crash loop from an accident. */
  private readonly deaths: number[] = [];

  /** try_spawn: one atomic load, the reference's rule, and its log record. */
  trySpawn(): SpawnDecision {
    // SAFETY: emulators that keep dying (e.g. a confinement that cannot load) must not be
    // replaced for ever: that is a critical failure of the supervisor (exit 101).
    const now = Date.now();
    while (this.deaths.length > 0 && now - this.deaths[0]! > CRASH_WINDOW_MS) this.deaths.shift();
    if (this.deaths.length >= MAX_DEATHS_IN_WINDOW) {
      throw new Error(`emulators keep dying: ${this.deaths.length} deaths within ${CRASH_WINDOW_MS} ms`);
    }
    const { wd, coreSize, keepAliveMs, logger } = this.opts;
    // The program has ended: an emulator started now would only delay the exit by its start-up
    // (~60-120 ms measured: the second core emulator of `tsyd run -- true` used to start after
    // `true` had ended). The monitor sees should_exit at its next look.
    if (wd.shouldExit) return 'exiting';
    const { curr, busy } = wd.counts();
    const decision = decideSpawn(curr, busy, coreSize, this.maxSize);
    const fields = { ctx: 'spawn', busy_worker_count: busy, curr_worker_count: curr, core_size: coreSize, keep_alive: keepAliveMs };
    switch (decision) {
      case 'idle_exists':
      case 'exiting':
        return decision;
      case 'capacity_exceeded':
        logger.alert({ ...fields, op: 'emulator_capacity_exceeded' }, 'emulator capacity exceeded');
        this.opts.onEvent({ type: 'pool.capacity_exceeded', curr, busy });
        return decision;
      case 'core':
      case 'helper':
        logger.info(
          { ...fields, op: decision === 'core' ? 'create_new_core_emulator' : 'create_new_idle_emulator' },
          decision === 'core' ? 'spawning a core emulator' : 'every emulator is busy: spawning a helper',
        );
        if (!this.spawn(decision)) return 'capacity_exceeded';
        return decision;
    }
  }

  private spawn(kind: EmulatorKind): boolean {
    const { wd, logger } = this.opts;
    // The slot's state word starts at the emulator machine's initial state (starting), its kind
    // word is set before (the inspector shows a helper whose thread is not up yet as a helper).
    const slot = wd.claimSlot(EMULATOR_TABLES[kind].initial, kind);
    if (slot < 0) return false;
    // curr counts the emulator from now on, so the monitor does not spawn twice for one need.
    const word = wd.addCurr(1);
    const task: EmulatorTask = {
      ...this.opts.task,
      slot,
      kind,
      keepAliveMs: this.opts.keepAliveMs,
      shared: wd.buffer,
      maxEmulators: wd.maxEmulators,
      confinement: this.confinement,
    };
    this.opts.onEvent({ type: 'pool.spawned', kind, slot, curr: word >>> 16, busy: word & 0xffff });
    this.piscina ??= this.opts.threads();
    const p = this.piscina.run(task).then(
      (how: 'retired' | 'stopped') => {
        wd.releaseSlot(slot);
        if (how === 'retired') this.opts.onEvent({ type: 'pool.retired', slot, ...wd.counts() });
      },
      (err: unknown) => (this.endedAtExit(slot, kind) ? undefined : this.buried(slot, kind, err)),
    );
    this.running.set(p, slot);
    void p.finally(() => this.running.delete(p));
    logger.debug({ ctx: 'spawn', op: 'spawned_emulator', kind, slot }, 'emulator task started');
    return true;
  }

  /**
   * An emulator thread died. SAFETY: its in-flight request is answered here (EACCES: never an
   * allow), the counts are repaired, and the monitor replaces it on its next look.
   */
  private buried(slot: number, kind: EmulatorKind, err: unknown): void {
    const { wd, logger } = this.opts;
    const s = wd.slot(slot);
    const state = Atomics.load(s, Slot.state);
    let answered = false;
    // SAFETY: answered exactly when the addon still counted a request for it.
    if (Atomics.load(s, Slot.counted) === 1) {
      // It died between taking a request and answering it.
      answered = native.respondFor(this.opts.task.notifyFd, s[Slot.idLo]! >>> 0, s[Slot.idHi]! >>> 0, os.errno.EACCES) === 0;
      wd.addBusy(-1);
    }
    if (state !== EmuState.retiring && state !== EmuState.stopped) wd.addCurr(-1);
    // starting, idle or busy → dead, as the machine says (a thread that died after it retired
    // or stopped stays in that final state).
    const dead = EMULATOR_TABLES[kind].next(state, EmuEvent.crashed);
    if (dead >= 0) {
      Atomics.store(s, Slot.state, dead);
      Atomics.or(s, Slot.visited, 1 << dead);
    }
    const counts = wd.counts();
    logger.alert(
      { ctx: 'spawn', op: 'emulator_died', slot, answered, err: String(err), busy_worker_count: counts.busy, curr_worker_count: counts.curr },
      'an emulator thread died',
    );
    wd.releaseSlot(slot);
    this.deaths.push(Date.now());
    this.opts.onEvent({ type: 'pool.dead', slot, answered, ...counts });
    wd.wake();
  }

  /**
   * An emulator thread that piscina ended at exit (its threads destroyed) before it served, or
   * while it held no request: stopped, as the machine says, not a death. False when it must be buried.
   */
  private endedAtExit(slot: number, kind: EmulatorKind): boolean {
    const { wd } = this.opts;
    const s = wd.slot(slot);
    // SAFETY: a thread that counted a request is buried: its request is answered there.
    if (!wd.shouldExit || Atomics.load(s, Slot.counted) === 1) return false;
    const state = Atomics.load(s, Slot.state);
    const stopped = EMULATOR_TABLES[kind].next(state, EmuEvent.shouldExit);
    if (stopped < 0) return false;
    Atomics.store(s, Slot.state, stopped);
    Atomics.or(s, Slot.visited, 1 << stopped);
    wd.addCurr(-1);
    wd.releaseSlot(slot);
    return true;
  }

  /**
   * After should_exit: waits for the emulator tasks of this sandbox that serve to end (woken by
   * the wake fd, each returns 'stopped'). `keepThreads`: the threads stay for the next sandbox,
   * so the tasks still booting (state starting) are waited for too. SAFETY: no task of this
   * sandbox may outlive it on a kept thread (it would poll this sandbox's listener, whose fd
   * number is closed and reused after). Otherwise the owner ends the threads next, with those
   * still booting (nothing to wait for: their boot took ~100 ms of a short program's exit), then
   * waits for settled().
   */
  async drain(keepThreads: boolean): Promise<void> {
    const serving = () => [...this.running].filter(([, slot]) => keepThreads || Atomics.load(this.opts.wd.slot(slot), Slot.state) !== EmuState.starting).map(([p]) => p);
    for (let waited = serving(); waited.length > 0; waited = serving()) await Promise.allSettled(waited);
    mark('emulators.ended');
  }

  /** Resolves when every emulator task of this sandbox has ended, however. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.keys()]);
  }
}
