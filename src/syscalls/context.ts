// What an emulator thread has at hand while it handles one request.
import type { Policy } from '../sandbox/policy.js';
import type { TsydLogger } from '../log.js';
import type { AddressFamily, Capability, NetCapability } from '../sandbox/rules.js';
import type { Request } from './request.js';
import type { CryptConfig, IpcGuard } from '../shared/thread-config.js';
import type { IpcSockets } from '../shared/ipc-sockets.js';

/** One decision: a path (canonical, or a UNIX socket path / `@abstract` name) or an IP address. */
export interface Access {
  /** The capability decided, or `containment` (an act on tsyd or its reaper, always refused). */
  cap: Capability | 'containment';
  /** Canonical path, UNIX socket path or `@name` (UTF-8 text; non-UTF-8 bytes as U+FFFD). */
  path?: string;
  /**
   * The path's exact bytes (latin1, one char per byte), set only when they are not valid UTF-8
   * and `path` therefore shows U+FFFD: `tsyd learn` writes a rule for exactly this name.
   */
  pathBytes?: string;
  /** IP address and port in rule form: `10.0.0.1!443`, `::1!80`. */
  addr?: string;
  /** The address the program gave, when tsyd decided another (`0.0.0.0!80`, decided as `127.0.0.1!80`). */
  given?: string;
  /** containment: what the call would have reached (`pid 1234`, `process group 7`, ...). */
  target?: string;
  sys: string;
  pid: number;
  allowed: boolean;
  /** Set on a denial that audit mode let through. */
  audit?: boolean;
}

/** A denial (in audit mode: one that was let through). */
export type Violation = Omit<Access, 'allowed'>;

export interface EmulatorContext {
  /** The request being handled (begun anew for each notification). */
  readonly req: Request;
  readonly policy: Policy;
  readonly log: TsydLogger;
  /**
   * SAFETY: call before writing any record of a refused call (the warn of a refusal): false when
   * it is over the container's denial budget (tsyd agent: src/agent/denial-budget.ts; counted
   * instead). Under tsyd run always true: every refusal is logged.
   */
  readonly logsRefusal: () => boolean;
  /** Crypt sandboxing: the key's handle (process-wide) and crypt/tmp; absent while Crypt is off. */
  readonly crypt?: CryptConfig;
  /** Audit mode: decisions made without allows() (listing filters, EXDEV) must let things through too. */
  readonly audit: boolean;
  /**
   * Decides `cap` for a canonical path (a byte string, as in pathBuf): true → the call goes on.
   * A denial is logged once and reported; in audit mode it is logged and then allowed. The
   * caller answers the errno when this returns false.
   */
  allows(cap: Capability, sys: string, path: string): boolean;
  /**
   * The same for an IP address (4 or 16 bytes) and port, for net/bind and net/connect. `given`:
   * the address as the program gave it, when it is decided as another (logged with it).
   */
  allowsAddress(cap: NetCapability, sys: string, family: AddressFamily, addr: Uint8Array, port: number, given?: string): boolean;
  /** An address of a family no rule can name (logged as `family N`): denied, unless in audit mode. */
  allowsOtherFamily(cap: NetCapability, sys: string, family: number): boolean;
  /** The IPC socket of this sandbox (ipc:): the program never reaches it (handlers/net.ts). */
  readonly ipc?: IpcGuard;
  /** Every IPC socket of this process, this sandbox's included: the program reaches none (ipc-guard.ts). */
  readonly ipcSockets: IpcSockets;
  /** The /dev/tsyd control route (handlers/control.ts). */
  readonly control: {
    /** True while the program may still change the policy. */
    open(): boolean;
    /** Applies a rule (byte string) for every emulator: 0, or EINVAL for a bad rule. */
    apply(rule: string): number;
  };
  /**
   * True for a pid (or tid) the program must never act on: tsyd itself, any thread of tsyd,
   * and the reaper (the program's parent).
   */
  isSupervisor(pid: number): boolean;
  /** True for a process below the reaper: one of the program's own. */
  inSandbox(pid: number): boolean;
  /**
   * Refuses a call that would act on tsyd or its reaper (or reach around the policy whatever it
   * says): EPERM (unless `answer` is false: already answered), one warn record
   * (`ctx:"access", cap:"containment"`), a violation. Never let through, not even in audit mode.
   */
  refuseAct(sys: string, target: string, answer?: boolean): void;
  /**
   * True for tsyd's process group and the reaper's (a group of its own, whose id is its pid): the
   * program must not join them or signal them.
   */
  isSupervisorGroup(pgid: number): boolean;
  /**
   * A call that may block found the job table full, or (`memory`) the data the waiting calls
   * hold at its limit (answered EAGAIN): an alert, at most one a second.
   */
  jobsExhausted(sys: string, memory?: boolean): void;
  /** Registers (or clears) a call made for the program that may block, for the interrupter. */
  markBlocking(on: boolean): void;
  /** Test-only fault injection at a decision point (a no-op unless TSYD_FAULT is set). */
  fault(path: string): void;
}

/** A handler answers ctx.req in every path (an answer, an op that answers, or caller gone). */
export type Handler = (ctx: EmulatorContext) => void;

/**
 * One system call's handler and the capabilities it decides: the call stops in the kernel
 * only when one of them is on (or always, with `caps: []`, or while the policy can still change).
 */
export interface HandlerSpec {
  caps: readonly Capability[];
  handle: Handler;
}
