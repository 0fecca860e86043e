// The sandboxed program's life as tsyd sees it, fed by the reaper's reports: spawned (filter
// installed, listener handed over) → running once execve succeeded → ended (exited or killed by
// a signal; or it never started) → its leftovers reaped → over. The final snapshot is the
// program's result: the library's SandboxResult is derived from it, and nothing else.
import { assign, fromPromise, setup } from 'xstate';

export type SandboxEvent =
  | { type: 'child.exec_ok' }
  | { type: 'child.exec_failed'; syscall: string; errno: number }
  | { type: 'child.exited'; code: number }
  | { type: 'child.signaled'; signal: number }
  /** The reaper ended while the program ran: the program died with it (PDEATHSIG). */
  | { type: 'reaper.died' };

/** How the reaping of the program's leftovers ended. */
export type Reaped = 'reaped' | 'stuck';

export interface SandboxContext {
  /** execve succeeded. */
  started: boolean;
  code?: number;
  signal?: number;
  /** The call that failed before the program ran (execve: 126/127; anything else: 125). */
  startFailure?: { syscall: string; errno: number };
  /** Processes of the sandbox did not end (uninterruptible sleep): a critical failure (101). */
  stuck: boolean;
}

const SIGKILL = 9;

/** However the program's process ends (also before execve), its leftovers are reaped. */
const ENDS = {
  'child.exited': { target: 'reaping', actions: 'exited' },
  'child.signaled': { target: 'reaping', actions: 'signaled' },
  'reaper.died': { target: 'reaping', actions: 'reaperDied' },
} as const;

export const sandboxMachine = setup({
  types: {
    context: {} as SandboxContext,
    events: {} as SandboxEvent,
    output: {} as SandboxContext,
  },
  actors: {
    /** Kills what the program left behind, releases the reaper, waits for it. */
    reapLeftovers: fromPromise<Reaped>(async () => {
      throw new Error("sandbox actor 'reapLeftovers' not provided");
    }),
  },
  guards: {
    stuck: ({ event }) => (event as { output?: Reaped }).output === 'stuck',
  },
  actions: {
    exited: assign({ code: ({ event }) => (event as { code: number }).code }),
    signaled: assign({ signal: ({ event }) => (event as { signal: number }).signal }),
    reaperDied: assign({ signal: SIGKILL }),
  },
}).createMachine({
  id: 'sandbox',
  initial: 'spawning',
  context: { started: false, stuck: false },
  output: ({ context }) => context,
  states: {
    spawning: {
      description: 'forked, confined, waiting for execve',
      on: {
        'child.exec_ok': { target: 'running', actions: assign({ started: true }) },
        'child.exec_failed': {
          target: 'execFailing',
          actions: assign({ startFailure: ({ event }) => ({ syscall: event.syscall, errno: event.errno }) }),
        },
        ...ENDS,
      },
    },
    execFailing: {
      description: 'execve (or a step before it) failed: the child reports it and exits',
      on: ENDS,
    },
    running: {
      on: ENDS,
    },
    reaping: {
      description: 'the program ended: kill what it left behind, release the reaper, wait for it',
      invoke: {
        src: 'reapLeftovers',
        onDone: [{ guard: 'stuck', target: 'stuck', actions: assign({ stuck: true }) }, { target: 'ended' }],
        onError: { target: 'stuck', actions: assign({ stuck: true }) },
      },
    },
    ended: { type: 'final', description: "the program's status: its code, 128+N for signal N, 126/127 if it never ran" },
    stuck: { type: 'final', tags: ['error'], description: 'processes of the sandbox did not end: the reaper goes on killing them (101)' },
  },
});
