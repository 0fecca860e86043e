// The monitor thread's life (tsyd_mon), after the reference pool's monitor(): make its fs
// private (not its fd table: see unshareMonitor), start the interrupter, prepare its own
// confinement, start the first core emulator, wait for the interrupter's handshake (the two
// threads boot side by side: the program waits for one emulator, not for both), then loop:
// confine when locked, leave on should_exit, otherwise try_spawn and wait. Once a sandbox is
// served the thread waits, warm, for the next one (its fs stays private; the interrupter and
// emulator threads stay), until its owner closes it (src/supervisor/supervisor.ts). With Crypt
// sandboxing on it starts the AES worker after the interrupter (startingAes) and, at exit, waits
// until every crypt buffer the program left is written back (waitingAes): no encryption is lost.
// With an IPC socket (ipc:) it starts tsyd_ipc before the first emulator (startingIpc) and
// stops it after the pool (stoppingIpc).
import { and, assign, fromPromise, setup } from 'xstate';

/** try_spawn's answer. `exiting`: should_exit is set, no emulator is started (not part of the reference rule). */
export type SpawnDecision = 'core' | 'idle_exists' | 'helper' | 'capacity_exceeded' | 'exiting';

export interface MonitorInput {
  skipConfinement: boolean;
  /** Crypt sandboxing is on: the AES worker runs for this sandbox. */
  crypt?: boolean;
  /** The policy names an IPC socket: tsyd_ipc serves it for this sandbox. */
  ipc?: boolean;
}

/** From the owner: serve the next sandbox (warm), or end the threads. */
export type MonitorEvent = ({ type: 'sandbox.serve' } & MonitorInput) | { type: 'monitor.close' };

export interface MonitorContext extends MonitorInput {
  /** A confinement filter is precomputed and waits for the lock. */
  pendingFilter: boolean;
  exitCode: number;
  error?: string;
}

/** Placeholders: the real actors are given with machine.provide() (tests give fakes). */
const notProvided = <T = void>(name: string) =>
  fromPromise<T>(async () => {
    throw new Error(`monitor actor '${name}' not provided`);
  });

export const MON_GRACE_MS = 250;
/**
 * The look after a spawn. The emulator just started counts as idle from its claim (try_spawn
 * answers idle_exists until it takes a request), so the cycle only paces the core spawns; it is
 * not woken by should_exit, and at 10 ms a short program's stop waited in it (bench/warm.ts:
 * 7.8 ms median from the stop to the monitor leaving, 19 runs of `true`).
 */
export const MON_CYCLE_MS = 2;
/** The reference exits with 101 when a critical step of the monitor fails. */
export const EXIT_CRITICAL = 101;

export const monitorMachine = setup({
  types: {
    input: {} as MonitorInput,
    context: {} as MonitorContext,
    output: {} as { exitCode: number; error?: string },
    events: {} as MonitorEvent,
  },
  actors: {
    unshareMonitor: notProvided('unshareMonitor'),
    closeFds: notProvided('closeFds'),
    spawnInterrupter: notProvided('spawnInterrupter'),
    interrupterHandshake: notProvided('interrupterHandshake'),
    prepareConfinement: notProvided('prepareConfinement'),
    loadConfinement: notProvided('loadConfinement'),
    trySpawn: notProvided<SpawnDecision>('trySpawn'),
    waitForWork: notProvided('waitForWork'),
    stopPool: notProvided('stopPool'),
    startAes: notProvided('startAes'),
    startIpc: notProvided('startIpc'),
    stopIpc: notProvided('stopIpc'),
    waitAes: notProvided('waitAes'),
    closeThreads: notProvided('closeThreads'),
  },
  guards: {
    hasPendingFilter: ({ context }) => context.pendingFilter,
    skipConfinement: ({ context }) => context.skipConfinement,
    cryptOn: ({ context }) => context.crypt === true,
    ipcOn: ({ context }) => context.ipc === true,
    /** Provided: whether the sandbox is locked now (shared flag). */
    locked: () => false,
    /** Provided: whether should_exit is set (shared flag). */
    shouldExit: () => false,
    spawned: ({ event }) => {
      const out = (event as { output?: SpawnDecision }).output;
      return out === 'core' || out === 'helper';
    },
  },
  actions: {
    keepFilter: assign({ pendingFilter: true }),
    dropFilter: assign({ pendingFilter: false }),
    /** Provided: tells the owner the sandbox has been served (its exit code). */
    sandboxServed: () => {},
    nextSandbox: assign(({ event }) => ({
      skipConfinement: (event as { skipConfinement?: boolean }).skipConfinement === true,
      crypt: (event as { crypt?: boolean }).crypt === true,
      ipc: (event as { ipc?: boolean }).ipc === true,
      pendingFilter: false,
      exitCode: 0,
      error: undefined,
    })),
    fail: assign({
      exitCode: EXIT_CRITICAL,
      error: ({ event }) => String((event as { error?: unknown }).error),
    }),
  },
  delays: {
    CYCLE: MON_CYCLE_MS,
  },
}).createMachine({
  id: 'monitor',
  initial: 'unsharing',
  context: ({ input }) => ({ ...input, pendingFilter: false, exitCode: 0 }),
  output: ({ context }) => ({ exitCode: context.exitCode, error: context.error }),
  states: {
    unsharing: {
      description: 'unshare(CLONE_FS) (not CLONE_FILES: a Node worker needs its wake-up fd in the main table): failure is critical (101)',
      invoke: { src: 'unshareMonitor', onDone: 'closingFds', onError: { target: 'failed', actions: 'fail' } },
    },
    closingFds: {
      description: 'the supervisor’s fds (listener, pidfd, wake fd) are close-on-exec: no child inherits them',
      invoke: { src: 'closeFds', onDone: 'startingInterrupter', onError: { target: 'failed', actions: 'fail' } },
    },
    startingInterrupter: {
      description: 'create tsyd_int (before any confinement of this thread: it has a filter of its own); its handshake is awaited once the first emulator is starting',
      invoke: {
        src: 'spawnInterrupter',
        onDone: [{ guard: 'cryptOn', target: 'startingAes' }, { guard: 'ipcOn', target: 'startingIpc' }, { target: 'confinement' }],
        onError: { target: 'failed', actions: 'fail' },
      },
    },
    startingAes: {
      description: 'Crypt sandboxing: start tsyd_aes (confined by its own filter before its handshake), which encrypts the buffers of crypt files after their last close; failure is critical (101)',
      invoke: { src: 'startAes', onDone: [{ guard: 'ipcOn', target: 'startingIpc' }, { target: 'confinement' }], onError: { target: 'failed', actions: 'fail' } },
    },
    startingIpc: {
      description: 'ipc: start tsyd_ipc and wait until it listens, confined by its own filter (before the first emulator: the socket is there before the program runs); failure is critical (101)',
      invoke: { src: 'startIpc', onDone: 'confinement', onError: { target: 'failed', actions: 'fail' } },
    },
    confinement: {
      initial: 'choosing',
      states: {
        choosing: {
          always: [{ guard: 'skipConfinement', target: 'skipped' }, { target: 'preparing' }],
        },
        skipped: {
          description: 'TSYD_SKIP_SCMP: running unconfined (logged at error)',
          always: '#monitor.startingCore',
        },
        preparing: {
          invoke: {
            src: 'prepareConfinement',
            onDone: [{ guard: 'locked', target: 'loading' }, { target: 'precomputed', actions: 'keepFilter' }],
            onError: { target: '#monitor.failed', actions: 'fail' },
          },
        },
        loading: {
          description: 'locked already: confine the monitor now (failure: 101)',
          invoke: { src: 'loadConfinement', onDone: '#monitor.startingCore', onError: { target: '#monitor.failed', actions: 'fail' } },
        },
        precomputed: {
          description: 'not locked yet: keep the filter for confine-when-locked',
          always: '#monitor.startingCore',
        },
      },
    },
    startingCore: {
      description: 'try_spawn: the first core emulator',
      invoke: { src: 'trySpawn', onDone: 'awaitingInterrupter', onError: { target: 'failed', actions: 'fail' } },
    },
    awaitingInterrupter: {
      description: 'wait for the handshake byte 42 of tsyd_int (EOF, another byte or a timeout: 101), while the first emulator boots',
      invoke: { src: 'interrupterHandshake', onDone: 'grace', onError: { target: 'failed', actions: 'fail' } },
    },
    grace: {
      description: 'give the first emulator time to come up: the whole grace period (only a stop ends it early)',
      invoke: { src: 'waitForWork', input: { whole: true }, onDone: 'running', onError: 'running' },
    },
    running: {
      initial: 'deciding',
      states: {
        deciding: {
          always: [
            { guard: and(['hasPendingFilter', 'locked']), target: 'confining' },
            { guard: 'shouldExit', target: '#monitor.exiting' },
            { target: 'spawning' },
          ],
        },
        confining: {
          description: 'confine-when-locked: load the precomputed filter, drop it',
          invoke: {
            src: 'loadConfinement',
            onDone: { target: 'deciding', actions: 'dropFilter' },
            onError: { target: '#monitor.failed', actions: 'fail' },
          },
        },
        spawning: {
          invoke: {
            src: 'trySpawn',
            onDone: [{ guard: 'spawned', target: 'cycleWait' }, { target: 'graceWait' }],
            // try_spawn fails only when emulators keep dying (a crash loop): critical, 101.
            onError: { target: '#monitor.failed', actions: 'fail' },
          },
        },
        cycleWait: {
          description: 'spawned: look again after one cycle',
          after: { CYCLE: 'deciding' },
        },
        graceWait: {
          description: 'nothing to do: wait a grace period, or until an emulator signals that all are busy',
          invoke: { src: 'waitForWork', onDone: 'deciding', onError: 'deciding' },
        },
      },
    },
    exiting: {
      description: 'should_exit: wake every emulator and the interrupter; wait until their work for this sandbox has ended',
      invoke: {
        src: 'stopPool',
        onDone: [{ guard: 'ipcOn', target: 'stoppingIpc' }, { guard: 'cryptOn', target: 'waitingAes' }, { target: 'idle' }],
        onError: [{ guard: 'ipcOn', target: 'stoppingIpc' }, { guard: 'cryptOn', target: 'waitingAes' }, { target: 'idle' }],
      },
    },
    stoppingIpc: {
      description: 'ipc: stop tsyd_ipc: its clients are closed and its socket path removed',
      invoke: {
        src: 'stopIpc',
        onDone: [{ guard: 'cryptOn', target: 'waitingAes' }, { target: 'idle' }],
        onError: [{ guard: 'cryptOn', target: 'waitingAes' }, { target: 'idle' }],
      },
    },
    waitingAes: {
      description: 'Crypt sandboxing: every buffer the program left (closed, or still held by a process outside) goes to tsyd_aes; wait until each is written back, then join it',
      // Written content that could not be written back is a critical failure (exit 101), never silent.
      invoke: { src: 'waitAes', onDone: 'idle', onError: { target: 'idle', actions: 'fail' } },
    },
    idle: {
      description: 'the sandbox is served: warm, between sandboxes (fs private, interrupter and core emulator threads waiting)',
      entry: 'sandboxServed',
      on: {
        'sandbox.serve': { target: 'closingFds', actions: 'nextSandbox' },
        'monitor.close': 'closing',
      },
    },
    closing: {
      description: 'the owner closes it: end the emulator threads and the interrupter',
      invoke: { src: 'closeThreads', onDone: 'done', onError: 'done' },
    },
    done: { type: 'final' },
    failed: { type: 'final', tags: ['error'], description: 'a critical step failed: alert, exit 101' },
  },
});
