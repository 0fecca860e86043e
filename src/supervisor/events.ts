// The events of a SandboxedProcess and their listeners' arguments, for typed on/once/off.
import type { MonitorMessage } from '../actors/monitor.worker.js';
import type { TsydError } from '../errors.js';
import type { InspectEvent } from '../inspect/stream.js';
import type { Access, Violation } from '../syscalls/context.js';
import type { SandboxResult } from './result.js';

export interface SandboxedProcessEvents {
  /** An access the policy denied (also in `result.violations`). */
  violation: [violation: Violation];
  /** Every decision, allowed ones too (with the `record` option). */
  access: [access: Access];
  /** The program stopped (job control); the signal's name. */
  stop: [signal: NodeJS.Signals | null];
  continue: [];
  /** The monitor thread's events. */
  supervisor: [message: MonitorMessage];
  /** A machine's state or the pool's counts changed (emitted while someone listens). */
  inspect: [event: InspectEvent];
  /**
   * The program could not be started (127, 126, 125), was killed for `signal`, `timeout` or
   * `maxBuffer`, or the supervisor failed: the same error as `result.error`. Emitted only when
   * someone listens (unlike child_process, an unheard 'error' does not throw).
   */
  error: [error: TsydError];
  /** Something the user should know that is not an error: `UNCONFINED` (no capability is on: the program runs unconfined). Logged at warn instead when nobody listens. */
  warning: [warning: { code: string; message: string }];
  /** The end: the same object `result` resolves with. */
  exit: [result: SandboxResult];
  /** EventEmitter's own. */
  newListener: [event: string | symbol, listener: (...args: never[]) => void];
  removeListener: [event: string | symbol, listener: (...args: never[]) => void];
}

export type SandboxedProcessEvent = keyof SandboxedProcessEvents;
export type SandboxedProcessListener<E extends SandboxedProcessEvent> = (...args: SandboxedProcessEvents[E]) => void;
