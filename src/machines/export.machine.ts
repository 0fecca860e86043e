// Export of the supervisor threads' confinement filters (boot's first step when TSYD_EXPORT is
// set; `tsyd export bpf|pfc`). The writers are synchronous callback actors: the export is over
// when the machine's start returns, so boot goes on (or stops) in the same turn.
import { assign, fromCallback, setup } from 'xstate';
import type { ExportMode } from './boot.machine.js';

export type ExportEvent = { type: 'export.written' } | { type: 'export.failed'; error: unknown };

const notProvided = (name: string) =>
  fromCallback<ExportEvent>(() => {
    throw new Error(`export actor '${name}' not provided`);
  });

export const exportMachine = setup({
  types: {
    input: {} as { mode: ExportMode },
    context: {} as { mode: ExportMode; error?: unknown },
    output: {} as { ok: boolean; error?: unknown },
    events: {} as ExportEvent,
  },
  actors: {
    writeBpf: notProvided('writeBpf'),
    printPfc: notProvided('printPfc'),
  },
  guards: {
    isBpf: ({ context }) => context.mode === 'bpf',
  },
  actions: {
    keepError: assign({ error: ({ event }) => (event as { error?: unknown }).error }),
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
      invoke: { src: 'writeBpf' },
      on: { 'export.written': 'done', 'export.failed': { target: 'failed', actions: 'keepError' } },
    },
    printingPfc: {
      description: 'pseudo filter code on stdout',
      invoke: { src: 'printPfc' },
      on: { 'export.written': 'done', 'export.failed': { target: 'failed', actions: 'keepError' } },
    },
    done: { type: 'final' },
    failed: { type: 'final', tags: ['error'], description: 'an existing file (named) or a write error: nothing overwritten' },
  },
});
