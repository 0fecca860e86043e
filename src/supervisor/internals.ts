// What tests and the inspector read of a SandboxedProcess beyond its public API (the
// supervisor's shared words, the machines' actors, the states visited), kept off the public
// type: a WeakMap from the process to them. Not exported by src/index.ts.
import type { AnyActorRef } from 'xstate';
import type { MonitorHandle } from '../actors/monitor-handle.js';
import type { WorkerData } from '../shared/worker-data.js';

export interface SandboxInternals {
  /** The program's parent (tsyd's reaper). */
  readonly reaperPid: number;
  /** The supervisor's shared words (counts, slots). */
  readonly supervisor: WorkerData;
  /** The boot machine's and the program's actors (live state). */
  readonly boot: AnyActorRef;
  readonly sandbox: AnyActorRef;
  /** The monitor thread's handle, once started. */
  readonly monitor: MonitorHandle | undefined;
  /** The states each machine has been in so far (the emulators': of every emulator). */
  stateVisits(): Record<string, string[]>;
}

const table = new WeakMap<object, SandboxInternals>();

export function setInternals(child: object, parts: SandboxInternals): void {
  table.set(child, parts);
}

/** The internals of a started SandboxedProcess; throws for one whose program never started. */
export function internals(child: object): SandboxInternals {
  const parts = table.get(child);
  if (parts === undefined) throw new Error('no sandbox internals: the program was not started');
  return parts;
}
