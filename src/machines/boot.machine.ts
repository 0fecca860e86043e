// tsyd's life in the main thread, after the reference pool's boot(): an export mode ends in
// the export; otherwise log the CPU count, start the monitor, wait for the program to end,
// stop the supervisor, and leave with the program's status.
import { assign, fromPromise, setup } from 'xstate';

export interface BootInput {
  exportMode?: 'bpf' | 'pfc';
}

const notProvided = <T = void>(name: string) =>
  fromPromise<T>(async () => {
    throw new Error(`boot actor '${name}' not provided`);
  });

export const bootMachine = setup({
  types: {
    input: {} as BootInput,
    context: {} as BootInput & { exitCode: number; error?: string },
    output: {} as { exitCode: number; error?: string },
  },
  actors: {
    runExport: notProvided('runExport'),
    checkNumCpus: notProvided('checkNumCpus'),
    startMonitor: notProvided('startMonitor'),
    waitProgram: notProvided<number>('waitProgram'),
    stopSupervisor: notProvided<number>('stopSupervisor'),
  },
  guards: {
    exporting: ({ context }) => context.exportMode !== undefined,
  },
}).createMachine({
  id: 'boot',
  initial: 'choosing',
  context: ({ input }) => ({ ...input, exitCode: 0 }),
  output: ({ context }) => ({ exitCode: context.exitCode, error: context.error }),
  states: {
    choosing: { always: [{ guard: 'exporting', target: 'exporting' }, { target: 'checkingCpus' }] },
    exporting: {
      description: 'TSYD_EXPORT / tsyd export: write or print the filters, run nothing',
      invoke: {
        src: 'runExport',
        onDone: 'done',
        onError: { target: 'done', actions: assign({ exitCode: 125, error: ({ event }) => String(event.error) }) },
      },
    },
    checkingCpus: {
      invoke: { src: 'checkNumCpus', onDone: 'startingMonitor', onError: 'startingMonitor' },
    },
    startingMonitor: {
      description: 'tsyd_mon: unshare, interrupter, confinement, first core emulator',
      invoke: {
        src: 'startMonitor',
        onDone: 'waitingForProgram',
        onError: { target: 'stopping', actions: assign({ exitCode: 101, error: ({ event }) => String(event.error) }) },
      },
    },
    waitingForProgram: {
      invoke: {
        src: 'waitProgram',
        onDone: { target: 'stopping', actions: assign({ exitCode: ({ event }) => event.output }) },
        onError: { target: 'stopping', actions: assign({ exitCode: 101, error: ({ event }) => String(event.error) }) },
      },
    },
    stopping: {
      description: 'should_exit: wake, interrupt and end every supervisor thread',
      invoke: {
        src: 'stopSupervisor',
        onDone: { target: 'done', actions: assign({ exitCode: ({ context, event }) => event.output || context.exitCode }) },
        onError: 'done',
      },
    },
    done: { type: 'final' },
  },
});
