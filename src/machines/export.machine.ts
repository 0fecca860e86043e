// Export of the supervisor threads' confinement filters (tsyd export bpf|pfc, TSYD_EXPORT).
import { assign, fromPromise, setup } from 'xstate';

export const exportMachine = setup({
  types: {
    input: {} as { mode: 'bpf' | 'pfc' },
    context: {} as { mode: 'bpf' | 'pfc'; error?: string },
    output: {} as { ok: boolean; error?: string },
  },
  actors: {
    writeBpf: fromPromise<void>(async () => {
      throw new Error('export actor writeBpf not provided');
    }),
    printPfc: fromPromise<void>(async () => {
      throw new Error('export actor printPfc not provided');
    }),
  },
  guards: {
    isBpf: ({ context }) => context.mode === 'bpf',
  },
}).createMachine({
  id: 'export',
  initial: 'choosing',
  context: ({ input }) => ({ mode: input.mode }),
  output: ({ context }) => ({ ok: context.error === undefined, error: context.error }),
  states: {
    choosing: { always: [{ guard: 'isBpf', target: 'writingBpf' }, { target: 'printingPfc' }] },
    writingBpf: {
      description: 'tsyd_{emu,int,ipc,aes}.bpf in the current directory: exclusive, mode 0400',
      invoke: {
        src: 'writeBpf',
        onDone: 'done',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    printingPfc: {
      description: 'pseudo filter code on stdout',
      invoke: {
        src: 'printPfc',
        onDone: 'done',
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    done: { type: 'final' },
    failed: { type: 'final', description: 'an existing file (named) or a write error: nothing overwritten' },
  },
});
