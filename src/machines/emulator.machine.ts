// An emulator's life. The hot path does not run an XState actor per request (that would cost
// more than the request): the machine is compiled into a transition table per kind of emulator
// (src/shared/emulator-states.ts, flat-transitions.ts), and every write of an emulator's state
// word in shared memory is a step of that table — by the emulator itself, by the pool for a
// death — so what the pictures and the inspector show is what the code does.
import { setup } from 'xstate';

export type EmulatorKind = 'core' | 'helper';

export type EmulatorEvent =
  | { type: 'emulator.ready' }
  | { type: 'request.received' }
  | { type: 'request.answered' }
  | { type: 'keepalive.expired' }
  | { type: 'pool.should_exit' }
  | { type: 'emulator.crashed' };

export const emulatorMachine = setup({
  types: {
    context: {} as { kind: EmulatorKind },
    input: {} as { kind: EmulatorKind },
    events: {} as EmulatorEvent,
  },
  guards: {
    isHelper: ({ context }) => context.kind === 'helper',
  },
}).createMachine({
  id: 'emulator',
  initial: 'starting',
  context: ({ input }) => ({ kind: input.kind }),
  states: {
    starting: {
      description: 'thread up: fs unshared, buffers bound; curr already counts it',
      // should_exit before it serves: the pool ends its thread without waiting for its boot.
      on: { 'emulator.ready': 'idle', 'pool.should_exit': 'stopped', 'emulator.crashed': 'dead' },
    },
    idle: {
      description: 'polling the notify fd and the wake fd',
      on: {
        'request.received': 'busy',
        'keepalive.expired': { guard: 'isHelper', target: 'retiring' },
        'pool.should_exit': 'stopped',
        'emulator.crashed': 'dead',
      },
    },
    busy: {
      description: 'deciding and emulating one request; busy counts it',
      on: { 'request.answered': 'idle', 'emulator.crashed': 'dead' },
    },
    retiring: { type: 'final', description: 'helper idle for keep_alive: leaves, curr goes down' },
    stopped: { type: 'final', description: 'should_exit: the pool is ending' },
    dead: {
      type: 'final',
      tags: ['error'],
      description: 'the thread failed: the monitor answers its in-flight request, repairs the counts, replaces it',
    },
  },
});
