// What an emulator thread has at hand while it handles one request.
import type { Policy } from '../sandbox/policy.js';
import type { TsydLogger } from '../log.js';
import type { Capability } from '../sandbox/rules.js';
import type { EmulatorKind } from '../machines/emulator.machine.js';

/** One emulator's life as a piscina task (structured-cloneable). */
export interface EmulatorTask {
  slot: number;
  kind: EmulatorKind;
  keepAliveMs: number;
  notifyFd: number;
  wakeFd: number;
  shared: SharedArrayBuffer;
  maxEmulators: number;
  policy: unknown;
  log: { level: string; fd: number };
  /** BroadcastChannel name on which violations reach the sandbox's owner. */
  channel: string;
  /** The precomputed confinement filter, loaded once the sandbox is locked; absent: skipped. */
  confinement?: Uint8Array;
  /** Test-only faults (TSYD_FAULT), e.g. "crash-on:/path". */
  fault?: string;
}

export interface Violation {
  cap: Capability;
  path: string;
  sys: string;
  pid: number;
}

export interface EmulatorContext {
  readonly slots: Int32Array;
  readonly pathBuf: Buffer;
  readonly policy: Policy;
  readonly log: TsydLogger;
  /** Records and reports one denial (log record + event to the supervisor's owner). */
  deny(v: Violation): void;
  /** Registers (or clears) a call made for the program that may block, for the interrupter. */
  markBlocking(on: boolean): void;
  /** Test-only fault injection at a decision point (a no-op unless TSYD_FAULT is set). */
  fault(path: string): void;
}

/** A handler answers the current request in every path (respond, openInject, or caller gone). */
export type Handler = (ctx: EmulatorContext) => void;
