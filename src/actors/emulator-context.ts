// What an emulator thread has at hand while it handles one request.
import type { Policy } from '../sandbox/policy.js';
import type { TsydLogger } from '../log.js';
import type { Capability } from '../sandbox/rules.js';

/** Data the supervisor hands to each emulator thread (structured-cloneable). */
export interface EmulatorData {
  id: number;
  notifyFd: number;
  wakeFd: number;
  /** Int32 control words: [0] = should_exit, [1 + id] = the emulator's thread id while it runs. */
  control: SharedArrayBuffer;
  policy: unknown;
  log: { level: string; fd: number };
  /** Answer denials with success instead (learning/audit mode, later issues). */
  audit?: boolean;
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
  /** Records and reports one denial (log record + event to the supervisor). */
  deny(v: Violation): void;
}

/** A handler answers the current request in every path (respond, openInject, or caller gone). */
export type Handler = (ctx: EmulatorContext) => void;
