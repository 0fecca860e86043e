// tsyd's life in the main thread, after the reference pool's boot(): export the supervisor
// threads' filters if asked (TSYD_EXPORT, `tsyd export`), then — when there is a program —
// log the CPU count, spawn the program, start the monitor, wait for the program's life (the
// sandbox machine) to end, stop the supervisor, and leave with the program's status.
//
// The steps before the monitor are callback actors that answer at once: `spawn()` returns (or
// throws) with the program started or refused, as child_process.spawn does.
import { assign, fromCallback, fromPromise, setup } from 'xstate';
import { EXIT_CRITICAL } from './monitor.machine.js';

export type ExportMode = 'bpf' | 'pfc';

export interface BootInput {
  exportMode?: ExportMode;
  /** False for `tsyd export`: the boot ends after the export. */
  program: boolean;
}

export interface BootOutput {
  exitCode: number;
  error?: string;
  /** False when a supervisor thread could not be stopped (see SandboxResult.cleanShutdown). */
  cleanShutdown: boolean;
}

export interface SupervisorStop {
  clean: boolean;
  /** The monitor machine ended in `failed` (a critical step): why. */
  failure?: string;
}

/** What the synchronous steps send back. */
export type BootEvent =
  | { type: 'export.done' }
  | { type: 'export.failed'; error: unknown }
  | { type: 'cpus.checked' }
  | { type: 'program.spawned' }
  | { type: 'program.failed'; error: unknown };

/** The exit status of a start that failed before the program ran (bad export, no sandbox). */
export const EXIT_START_FAILED = 125;

const notProvided = (name: string) =>
  fromCallback<BootEvent>(() => {
    throw new Error(`boot actor '${name}' not provided`);
  });
const notProvidedPromise = <T = void>(name: string) =>
  fromPromise<T>(async () => {
    throw new Error(`boot actor '${name}' not provided`);
  });

export const bootMachine = setup({
  types: {
    input: {} as BootInput,
    context: {} as BootInput & BootOutput & { startError?: unknown },
    output: {} as BootOutput,
    events: {} as BootEvent,
  },
  actors: {
    runExport: notProvided('runExport'),
    checkNumCpus: notProvided('checkNumCpus'),
    spawnProgram: notProvided('spawnProgram'),
    startMonitor: notProvidedPromise('startMonitor'),
    /** Resolves with the program's exit status once the sandbox machine has ended. */
    waitProgram: notProvidedPromise<number>('waitProgram'),
    /** Resolves with whether every supervisor thread ended, and why the monitor failed if it did. */
    stopSupervisor: notProvidedPromise<SupervisorStop>('stopSupervisor'),
  },
  guards: {
    exporting: ({ context }) => context.exportMode !== undefined,
    hasProgram: ({ context }) => context.program,
    monitorFailed: ({ event }) => (event as { output?: SupervisorStop }).output?.failure !== undefined,
  },
  actions: {
    critical: assign({ exitCode: EXIT_CRITICAL, error: ({ event }) => String((event as { error?: unknown }).error) }),
  },
}).createMachine({
  id: 'boot',
  initial: 'choosing',
  context: ({ input }) => ({ ...input, exitCode: 0, cleanShutdown: true }),
  output: ({ context }) => ({ exitCode: context.exitCode, error: context.error, cleanShutdown: context.cleanShutdown }),
  states: {
    choosing: { always: [{ guard: 'exporting', target: 'exporting' }, { target: 'checkingCpus' }] },
    exporting: {
      description: 'TSYD_EXPORT / tsyd export: tsyd_*.bpf files (exclusive, 0400) or pseudo filter code',
      invoke: { src: 'runExport' },
      on: {
        'export.done': [{ guard: 'hasProgram', target: 'checkingCpus' }, { target: 'done' }],
        'export.failed': {
          target: 'failed',
          actions: assign({ exitCode: EXIT_START_FAILED, error: ({ event }) => String(event.error), startError: ({ event }) => event.error }),
        },
      },
    },
    checkingCpus: {
      invoke: { src: 'checkNumCpus' },
      on: { 'cpus.checked': 'spawningProgram' },
    },
    spawningProgram: {
      description: 'fork, filter, hand the listener over: the sandbox machine starts',
      invoke: { src: 'spawnProgram' },
      on: {
        'program.spawned': 'startingMonitor',
        'program.failed': { target: 'failed', actions: assign({ error: ({ event }) => String(event.error), startError: ({ event }) => event.error }) },
      },
    },
    startingMonitor: {
      description: 'tsyd_mon: its own machine runs the pool from here',
      invoke: {
        src: 'startMonitor',
        onDone: 'waitingForProgram',
        onError: { target: 'stopping', actions: 'critical' },
      },
    },
    waitingForProgram: {
      description: "the sandbox machine: the program's life, its leftovers, its status",
      invoke: {
        src: 'waitProgram',
        onDone: { target: 'stopping', actions: assign({ exitCode: ({ event }) => event.output }) },
        onError: { target: 'stopping', actions: 'critical' },
      },
    },
    stopping: {
      description: 'should_exit: wake, interrupt and end every supervisor thread',
      invoke: {
        src: 'stopSupervisor',
        onDone: [
          {
            guard: 'monitorFailed',
            target: 'done',
            actions: assign({ cleanShutdown: ({ event }) => event.output.clean, exitCode: EXIT_CRITICAL, error: ({ event }) => event.output.failure }),
          },
          { target: 'done', actions: assign({ cleanShutdown: ({ event }) => event.output.clean }) },
        ],
        onError: { target: 'done', actions: assign({ cleanShutdown: false }) },
      },
    },
    done: { type: 'final' },
    failed: { type: 'final', tags: ['error'], description: 'the export or the spawn failed: nothing runs (125, 126, 127)' },
  },
});
