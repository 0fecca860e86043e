// What each supervisor thread is given when it starts (workerData, a piscina task): one typed
// configuration, built once by the main thread (src/supervisor/thread-configs.ts) and narrowed per
// thread kind. Everything here crosses postMessage (structured clone): plain data, shared
// buffers, no classes.
import type { LogFormat, LogLevel } from '../log.js';
import type { EmulatorKind } from '../machines/emulator.machine.js';

export interface LogConfig {
  level: LogLevel;
  fd: number;
  format: LogFormat;
  /** Fields of every record (tsyd agent: the container's id). */
  bindings?: Record<string, string>;
}

/** What every thread that touches the program's calls shares. */
export interface SupervisorConfig {
  /** The seccomp listener of the program's filter. */
  notifyFd: number;
  /** The supervisor's shared words (src/shared/worker-data.ts). */
  shared: SharedArrayBuffer;
  maxEmulators: number;
  log: LogConfig;
}

/** The monitor thread (tsyd_mon): the pool's owner. */
export interface MonitorConfig extends SupervisorConfig {
  pidfd: number;
  /** Written to wake every idle emulator at exit. */
  wakeFd: number;
  /** The program's parent (tsyd's reaper): protected like tsyd from the program. */
  reaperPid: number;
  coreSize: number;
  keepAliveMs: number;
  /** What every emulator gets. */
  emulator: EmulatorShared;
  /** Confinement filters (absent with TSYD_SKIP_SCMP). */
  emulatorFilter?: Uint8Array;
  interrupterFilter?: Uint8Array;
  aesFilter?: Uint8Array;
  /** Test-only faults (TSYD_FAULT), see EmulatorShared.fault. */
  fault?: string;
  /** Crypt sandboxing is on: the monitor starts the AES worker and waits for it at exit. */
  crypt?: CryptConfig;
  /** How long an emulator thread whose task ended waits for the next sandbox's (the supervisor's idleMs). */
  idleMs?: number;
  /** Run-time control (ipc:): the monitor starts tsyd_ipc before the first emulator. */
  ipc?: IpcConfig;
}

/** What tsyd_ipc (src/actors/ipc.worker.ts) is given. */
export interface IpcConfig {
  /** The socket: an absolute path, or `@` and an abstract name (a byte string). */
  address: string;
  /** The peer uids served: tsyd's own and ipc/uid:N. */
  uids: number[];
  /** Its confinement filter (absent with TSYD_SKIP_SCMP). */
  filter?: Uint8Array;
  /** The machines' states (StateBoard), the decision ring (its violation count), the program's pid. */
  board: SharedArrayBuffer;
  decisions: SharedArrayBuffer;
  programPid: number;
}

/** The identity of the IPC socket: its abstract name (`@` and its bytes), or the socket file's st_dev and st_ino. */
export interface IpcGuard {
  abstract?: string;
  dev?: bigint;
  ino?: bigint;
}

/** Crypt sandboxing, for the threads that open crypt files and write them back. SAFETY: a handle, never the key. */
export interface CryptConfig {
  /** The key's handle (cryptKeyLoad): process-wide. */
  handle: number;
  /** crypt/tmp DIR: plaintext buffers as O_TMPFILE files there instead of memfds. */
  tmp?: string;
}

/** The part of an emulator's configuration that is the same for every emulator of a sandbox. */
export interface EmulatorShared {
  notifyFd: number;
  wakeFd: number;
  reaperPid: number;
  /**
   * The policy's data (Policy.toJSON) as JSON text: a string crosses postMessage as one copy
   * (the user profile's ~1800 rules as objects took 1.2 ms per clone, twice per emulator), and
   * is its own key for the emulator's compiled copy.
   */
  policy: string;
  log: LogConfig;
  /** The DecisionRing on which denials (and, learning, every access) reach the sandbox's owner. */
  decisions: SharedArrayBuffer;
  /** Rules the program adds at run time (lock:off), shared by all emulators (PolicyLog). */
  policyLog: SharedArrayBuffer;
  /** Audit mode (`--audit`): denials are logged and reported, then allowed. */
  audit: boolean;
  /** Learning mode: every decision, allowed or not, is reported as an Access. */
  record: boolean;
  /** Crypt sandboxing is on: its key's handle. */
  crypt?: CryptConfig;
  /** The IPC socket (ipc:), set by the monitor once tsyd_ipc listens: never reached for the program. */
  ipc?: IpcGuard;
  /** Every IPC socket of this process (IpcSockets: every sandbox's): never reached for the program either. */
  ipcSockets: SharedArrayBuffer;
  /** tsyd agent: the container's view (its root, O_PATH) and its runtime's binary (src/agent/runtime-phase.ts). */
  view?: ContainerView;
  /**
   * Test-only faults (TSYD_FAULT): "crash-on:/path" (the thread dies), "throw-on:/path" (the
   * handler throws), "inline-blocking" (FIFO and device opens block the emulator, as before job threads),
   * "slow-job-pickup" (an idle job thread takes a job handed to it 200 ms late), "stuck-start"
   * (every emulator but the first stays in its start for a minute), "setid-return-fails" (an
   * emulator's return to tsyd's credentials after acting as the caller fails: tsyd exits 101), "ipc-probe" (tsyd_ipc tries an
   * open and an exec once confined, and logs their errnos), "ipc-short-idle" (tsyd_ipc closes a
   * silent client after 300 ms), "ipc-die" (tsyd_ipc throws, uncaught, 200 ms after it listens).
   */
  fault?: string;
}

/** What the emulators of a container's listener know of it (tsyd agent). */
export interface ContainerView {
  /** tsyd's O_PATH fd of /proc/PID/root of the container's first process. */
  rootFd: number;
  /** The container has a pid namespace of its own (the agent serves no other). */
  ownPidNs: boolean;
  /** The link of the container's pid namespace ("pid:[INO]") and "DEV:INO" of its root, from the claimed pid when the listener came (src/agent/caller-check.ts). */
  pidNs: string;
  root: string;
  /** The runtime's init process that loaded the filter (the message's pid): its calls before the first exec are the runtime's (src/agent/runtime-phase.ts). */
  runtimePid: number;
  /** st_dev and st_ino of the runtime's binary (its init process's /proc/PID/exe when the listener came): native.exeIdentity. */
  runtimeExe: string;
  /** A word of the shared buffer: 1 once an exec was notified (the runtime's part is over for good). */
  programWord: number;
  /** The container has a user namespace of its own: its capabilities are its namespace's, none of them tsyd's. */
  otherUserNs: boolean;
  /** The effective capabilities of the process that loaded the filter (runc: the container's, with noNewPrivileges). */
  capabilities: number[];
}

/** One emulator's life as a piscina task. */
export interface EmulatorTask extends EmulatorShared {
  slot: number;
  kind: EmulatorKind;
  keepAliveMs: number;
  shared: SharedArrayBuffer;
  maxEmulators: number;
  /** The precomputed confinement filter, loaded once the sandbox is locked; absent: skipped. */
  confinement?: Uint8Array;
}
