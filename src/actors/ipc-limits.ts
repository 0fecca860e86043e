// What one IPC client may hold of tsyd_ipc (src/actors/ipc.worker.ts). SAFETY: every one is a
// bound: a client that floods, never reads or never speaks costs at most these, and the
// program's calls never wait for the socket at all.
export const IPC_LIMITS = {
  /** Clients served at once; the next is told `error: too many clients` and closed. */
  clients: 128,
  /**
   * Connections open at once, refused and not yet checked ones included (each is an fd of tsyd):
   * past this one is closed unanswered as it is accepted.
   */
  connections: 160,
  /** Refused peers of one uid still being told why (each for 1 s at most): past this one is closed unanswered. */
  refusedPerUid: 4,
  /**
   * Connections the kernel queues before tsyd_ipc accepts them (net.core.somaxconn caps it), and
   * the most it takes from the queue in one go. SAFETY: a flood by another uid must fill this
   * many before the operator's connect finds the queue full (EAGAIN). A connect-and-close flood
   * of 2 processes on 2 CPUs still keeps it full for ~35-55% of connects (~80% at 128 with one
   * JS socket per connection): tsyd ctl retries (README).
   */
  backlog: 4096,
  /** Bytes of one command line (its newline not counted): longer → `error: line too long`, closed. */
  lineBytes: 4096,
  /** Answer bytes waiting for a client that does not read: past this it is dropped. */
  outputBytes: 64 * 1024,
  /** A client silent this long is closed. */
  idleMs: 60_000,
  /** A line begun must end within this (a byte now and then never holds a slot for long): else closed. */
  lineMs: 10_000,
  // The rules the socket may add: RUNTIME_RULE_LIMITS (src/shared/runtime-rule-limits.ts), as the program's,
  // shared evenly by the uids served (ipc/uid:N: half each; src/actors/ipc-commands.ts).
} as const;

/** Test only (TSYD_FAULT=ipc-short-idle): the idle and line bounds, short enough for a test to wait them out. */
export const SHORT_IDLE_MS = 300;
export const SHORT_LINE_MS = 1_000;
