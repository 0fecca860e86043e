// Two small machines for the tests of the pictures (src/viz/), with every kind of state and
// transition the real machines may grow: nesting, parallel states (a parallel root too), history,
// after, always with guards, invoke onDone/onError, finals, root-level, targetless transitions and
// transitions to an ancestor or to the machine itself.
import { and, fromPromise, not, setup, type AnyStateMachine } from 'xstate';

const base = setup({
  actors: { work: fromPromise(async () => 1) },
  guards: { ok: () => true, big: () => false },
  actions: { log: () => {}, mark: () => {} },
  delays: { grace: 250 },
});

// Nested states, a parallel state with regions, after, always with guards, invoke
// onDone/onError, finals and a parallel state's onDone, root-level and targetless transitions.
export const sandbox = base.createMachine({
  id: 'sandbox',
  initial: 'idle',
  description: 'A sandbox: started, run; stopped',
  on: { KILL: '.dead', PING: { actions: 'log' } },
  states: {
    idle: { description: 'Nothing runs: waiting for START; see #12.', on: { START: 'starting' } },
    starting: {
      entry: 'mark',
      invoke: { src: 'work', onDone: 'running', onError: 'failed' },
      after: { 5000: 'failed' },
    },
    running: {
      type: 'parallel',
      on: { STOP: 'stopping' },
      onDone: 'stopped',
      states: {
        child: {
          initial: 'alive',
          states: {
            alive: { on: { EXIT: 'exited', SIGNAL: { target: 'alive', guard: 'ok', reenter: true } } },
            exited: { type: 'final' },
          },
        },
        notify: {
          initial: 'waiting',
          states: {
            waiting: { on: { NOTIF: 'handling' } },
            handling: { invoke: { src: 'work', onDone: 'waiting', onError: { target: 'waiting', actions: 'log' } } },
          },
        },
      },
    },
    stopping: {
      exit: 'log',
      always: [
        { target: 'stopped', guard: 'ok' },
        { target: 'failed', guard: and(['big', not('ok')]) },
      ],
      after: { grace: 'dead' },
    },
    stopped: { type: 'final' },
    failed: { on: { RETRY: { target: 'starting', guard: 'ok' }, RESET: { target: '#sandbox', reenter: true } } },
    dead: { type: 'final' },
  },
});

// A parallel root, three levels of nesting, a history state, transitions to an ancestor and to
// the machine itself.
export const pool = base.createMachine({
  id: 'emulator-pool',
  type: 'parallel',
  states: {
    workers: {
      initial: 'idle',
      states: {
        idle: { on: { JOB: 'busy' } },
        busy: {
          initial: 'running',
          invoke: { src: 'work', onDone: 'idle', onError: 'broken' },
          on: { RESET: '.running', 'job.*': { actions: 'log' } },
          states: {
            running: { on: { PAUSE: 'paused' }, after: { 100: { target: 'paused', guard: 'big' } } },
            paused: { on: { RESUME: 'hist', ABORT: '#emulator-pool.workers' } },
            hist: { type: 'history', history: 'deep' },
          },
        },
        broken: { type: 'final', description: 'Gave up; the pool stops here.' },
      },
    },
    health: {
      initial: 'ok',
      states: {
        ok: { on: { SLOW: 'degraded' } },
        degraded: { always: { target: 'ok', guard: 'ok' }, on: { RESTART: '#emulator-pool' } },
      },
    },
  },
});

export const MACHINES: Record<string, AnyStateMachine> = { sandbox, pool };
