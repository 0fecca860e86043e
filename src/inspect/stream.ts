// The inspection source of a SandboxedProcess: the latest state of every machine, the pool's
// counts and the program's life, kept up to date and emitted as 'inspect' events.
//
// The hot path sends nothing for it: the boot and sandbox actors live in this thread and change
// a handful of times per run, the monitor thread already posts its snapshots and its rare pool
// events ('supervisor'), and the emulators' states and the counts are read from shared memory
// by a sampler that runs only while someone listens to 'inspect' (zero cost otherwise).
import type { EventEmitter } from 'node:events';
import type { AnyActorRef, StateValue } from 'xstate';
import type { MonitorMessage } from '../actors/monitor.worker.js';
import type { EmulatorKind } from '../machines/emulator.machine.js';
import { EmuState, emulatorStateName } from '../shared/emulator-states.js';
import { Slot, SLOT_KIND_HELPER } from '../shared/slot.js';
import type { WorkerData } from '../shared/worker-data.js';
import type { Policy } from '../sandbox/policy.js';
import type { SandboxResult } from '../supervisor/result.js';

/** How often the shared words are sampled while someone listens. */
export const SAMPLE_MS = 100;

/** A machine's state value and the context fields worth showing (numbers, strings, booleans). */
export interface MachineView {
  /** null: not started yet (the monitor thread before its first snapshot). */
  value: StateValue | string[] | null;
  [field: string]: unknown;
}

export interface EmulatorView {
  slot: number;
  kind: EmulatorKind;
  /** A state of the emulator machine. */
  value: string;
  tid: number;
}

export interface PoolView {
  curr: number;
  busy: number;
  /** Most emulators at once. */
  max: number;
  /** Core emulators (never retire). */
  core: number;
  /** Helper emulators alive now. */
  helpers: number;
  spawns: number;
  retirements: number;
  deaths: number;
  capacityAlerts: number;
}

export interface ProgramView {
  /** null: the program was not started. */
  pid: number | null;
  running: boolean;
  exitCode?: number;
  signal?: NodeJS.Signals | null;
}

export interface InspectSnapshot {
  /** Milliseconds since the epoch. */
  time: number;
  /**
   * boot, monitor, sandbox: `{ value, ...context }`. emulator: `value` lists the states some
   * emulator is in now, `emulators` each live emulator.
   */
  machines: Record<string, MachineView>;
  pool: PoolView;
  /** Denials so far. */
  violations: number;
  program: ProgramView;
  /** The policy the program started under, normalised (`tsyd check` form). */
  policy: string[];
}

export type InspectEvent =
  | { type: 'machine'; machine: string; value: MachineView['value']; context: Record<string, unknown>; time: number }
  | ({ type: 'pool'; time: number } & PoolView);

/** What the source reads from the process it inspects (a SandboxedProcess). */
export interface Inspectable extends EventEmitter {
  readonly pid: number | undefined;
  /** The program has not ended (the sandbox machine is in a living state). */
  readonly running: boolean;
}

/** The machines and shared words of what is inspected (not on its public type). */
export interface InspectedParts {
  readonly boot: AnyActorRef;
  readonly sandbox: AnyActorRef;
  readonly supervisor: WorkerData;
}

/** The snapshot of a process whose program never started. */
export function notStartedSnapshot(): InspectSnapshot {
  const pool: PoolView = { curr: 0, busy: 0, max: 0, core: 0, helpers: 0, spawns: 0, retirements: 0, deaths: 0, capacityAlerts: 0 };
  return { time: Date.now(), machines: {}, pool, violations: 0, program: { pid: null, running: false }, policy: [] };
}

/** The context fields a page can show: plain values only (no actor refs, no functions). */
function plainFields(context: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (context === null || typeof context !== 'object') return out;
  for (const [k, v] of Object.entries(context)) {
    if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}

export class InspectSource {
  private readonly machines: Record<string, MachineView> = {};
  private readonly counters = { spawns: 0, retirements: 0, deaths: 0, capacityAlerts: 0 };
  private violations = 0;
  private result: SandboxResult | undefined;
  private lastPool = '';
  private lastEmulators = '';
  private timer: NodeJS.Timeout | undefined;
  private policyLines: string[] | undefined;

  constructor(
    private readonly target: Inspectable,
    private readonly parts: InspectedParts,
    private readonly options: { coreSize: number; policy: Policy },
  ) {
    this.follow('boot', parts.boot);
    this.follow('sandbox', parts.sandbox);
    this.machines.monitor = { value: null };
    target.on('supervisor', (m: MonitorMessage) => this.onSupervisor(m));
    target.on('violation', () => this.violations++);
    target.once('exit', (r: SandboxResult) => {
      this.result = r;
      this.violations = r.violationCount;
      this.sample();
      this.stop();
    });
    // The sampler runs while 'inspect' has listeners, and only then.
    target.on('newListener', (event: string | symbol) => {
      if (event === 'inspect' && this.result === undefined) this.start();
    });
    target.on('removeListener', (event: string | symbol) => {
      if (event === 'inspect' && target.listenerCount('inspect') === 0) this.stop();
    });
  }

  /** The latest state of everything, the shared words read now. */
  snapshot(): InspectSnapshot {
    const { pool, emulators } = this.read();
    this.machines.emulator = emulators;
    const r = this.result;
    const program: ProgramView = r
      ? { pid: this.target.pid ?? null, running: false, exitCode: r.exitCode, signal: r.signal }
      : { pid: this.target.pid ?? null, running: this.target.running };
    this.policyLines ??= this.options.policy.normalized();
    return { time: Date.now(), machines: structuredClone(this.machines), pool, violations: this.violations, program, policy: [...this.policyLines] };
  }

  private follow(name: string, actor: AnyActorRef): void {
    const update = (snap: { value: StateValue; context: unknown }) => this.setMachine(name, snap.value, plainFields(snap.context));
    update(actor.getSnapshot());
    actor.subscribe({ next: update, error: () => {} });
  }

  private setMachine(machine: string, value: MachineView['value'], context: Record<string, unknown>): void {
    const before = this.machines[machine];
    const view: MachineView = { ...context, value };
    if (before !== undefined && JSON.stringify(before) === JSON.stringify(view)) return;
    this.machines[machine] = view;
    this.emit({ type: 'machine', machine, value, context, time: Date.now() });
  }

  private onSupervisor(m: MonitorMessage): void {
    switch (m.type) {
      case 'monitor.state':
        return this.setMachine('monitor', m.value as StateValue, plainFields(m.context));
      case 'pool.spawned':
        this.counters.spawns++;
        return;
      case 'pool.retired':
        this.counters.retirements++;
        return;
      case 'pool.dead':
        this.counters.deaths++;
        return;
      case 'pool.capacity_exceeded':
        this.counters.capacityAlerts++;
    }
  }

  /** One pass over the shared words: the counts (one atomic load) and each slot's state. */
  private read(): { pool: PoolView; emulators: MachineView } {
    const wd = this.parts.supervisor;
    const list: EmulatorView[] = [];
    for (let i = 0; i < wd.maxEmulators; i++) {
      const s = wd.slot(i);
      const code = Atomics.load(s, Slot.state);
      if (code === EmuState.free) continue;
      const kind: EmulatorKind = Atomics.load(s, Slot.kind) === SLOT_KIND_HELPER ? 'helper' : 'core';
      list.push({ slot: i, kind, value: emulatorStateName(code), tid: Atomics.load(s, Slot.tid) });
    }
    const held = [...new Set(list.map((e) => e.value))].sort();
    const pool: PoolView = {
      ...wd.counts(),
      max: wd.maxEmulators,
      core: this.options.coreSize,
      helpers: list.filter((e) => e.kind === 'helper').length,
      ...this.counters,
    };
    return { pool, emulators: { value: held, emulators: list } };
  }

  private sample(): void {
    const { pool, emulators } = this.read();
    const em = JSON.stringify(emulators);
    if (em !== this.lastEmulators) {
      this.lastEmulators = em;
      const { value, ...context } = emulators;
      this.machines.emulator = emulators;
      this.emit({ type: 'machine', machine: 'emulator', value, context, time: Date.now() });
    }
    const p = JSON.stringify(pool);
    if (p !== this.lastPool) {
      this.lastPool = p;
      this.emit({ type: 'pool', ...pool, time: Date.now() });
    }
  }

  private emit(e: InspectEvent): void {
    this.target.emit('inspect', e);
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    // The sampler alone must never keep the process alive.
    this.timer.unref();
    // A new listener gets the current counts at once, not after the first period.
    queueMicrotask(() => this.sample());
  }

  private stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
