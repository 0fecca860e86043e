// The sandboxed program's life as tsyd sees it: spawned (filter installed, listener handed
// over) → running once execve succeeded → exited or signaled; or it never started.
import { assign, setup } from 'xstate';

export type SandboxEvent =
  | { type: 'child.exec_ok' }
  | { type: 'child.exec_failed'; errno: number }
  | { type: 'child.exited'; code: number }
  | { type: 'child.signaled'; signal: number };

export const sandboxMachine = setup({
  types: {
    context: {} as { code?: number; signal?: number; errno?: number },
    events: {} as SandboxEvent,
  },
}).createMachine({
  id: 'sandbox',
  initial: 'spawning',
  context: {},
  states: {
    spawning: {
      description: 'forked, confined, waiting for execve',
      on: {
        'child.exec_ok': 'running',
        'child.exec_failed': { target: 'execFailing', actions: assign({ errno: ({ event }) => event.errno }) },
        'child.signaled': { target: 'signaled', actions: assign({ signal: ({ event }) => event.signal }) },
        'child.exited': { target: 'notStarted', actions: assign({ code: ({ event }) => event.code }) },
      },
    },
    execFailing: {
      description: 'execve failed: the child reports and exits 127',
      on: {
        'child.exited': { target: 'notStarted', actions: assign({ code: ({ event }) => event.code }) },
        'child.signaled': { target: 'notStarted', actions: assign({ signal: ({ event }) => event.signal }) },
      },
    },
    running: {
      on: {
        'child.exited': { target: 'exited', actions: assign({ code: ({ event }) => event.code }) },
        'child.signaled': { target: 'signaled', actions: assign({ signal: ({ event }) => event.signal }) },
      },
    },
    exited: { type: 'final' },
    signaled: { type: 'final', description: 'exit status 128+N' },
    notStarted: { type: 'final', description: '127 not found, 126 not executable' },
  },
});
