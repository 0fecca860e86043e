// Every state and every transition of every machine in MACHINES is reachable, shown by walking
// the machines with xstate/graph; and each machine, run for real with fake actors, ends where
// it should.
//
// How the coverage is measured: xstate/graph's getShortestPaths() gives one path from the
// initial snapshot to every reachable snapshot (state value + context). Each path is replayed
// with machine.transition() under an actor scope whose system is inspected, so every
// `@xstate.microstep` reports the transition definitions it took (always transitions and
// transient states included, which a resting snapshot never shows). From the end of each path
// every event of the event set is then tried once more: together this takes every edge of the
// graph that xstate/graph explored. The states and transitions seen must equal machineGraph()'s.
//
// The event set comes from the state nodes themselves: `on` keys, `xstate.done.actor.<id>` and
// `xstate.error.actor.<id>` for each invoke (with several outputs where a guard reads them), and
// `xstate.after.<delay>.<state id>` for each delayed transition. Guards that read the world
// outside the machine (monitor's `locked` and `shouldExit`) are provided so that they read flags
// carried by the triggering event, and every event is sent with every combination of flags;
// guards that read the input are explored by walking once per input variant.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createActor,
  createEmptyActor,
  fromCallback,
  createMachine,
  fromPromise,
  toPromise,
  waitFor,
  type AnyActorScope,
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  type InspectionEvent,
  type StateValue,
} from 'xstate';
import { getShortestPaths, serializeSnapshot } from 'xstate/graph';
import { bootMachine, type BootEvent, type SupervisorStop } from '../../src/machines/boot.machine.js';
import { emulatorMachine } from '../../src/machines/emulator.machine.js';
import { exportMachine } from '../../src/machines/export.machine.js';
import { compileFlat } from '../../src/machines/flat-transitions.js';
import { MACHINES } from '../../src/machines/index.js';
import { EXIT_CRITICAL, monitorMachine, type SpawnDecision } from '../../src/machines/monitor.machine.js';
import { machineGraph, transitionLabel, type GraphTransition, type MachineGraph } from '../../src/viz/index.js';
import { sandboxMachine } from '../../src/machines/sandbox.machine.js';

type AnyNode = AnyStateMachine['root'];
type Fields = Record<string, unknown>;
type GuardArgs = { context: unknown; event: AnyEventObject };

/** How to walk one machine: its input variants, and what its events carry. */
interface Plan {
  /** One traversal per input (guards reading the context set from the input see every value). */
  inputs: unknown[];
  /** Guards replaced for the walk (those that read shared flags read them from the event). */
  guards?: Record<string, (args: GuardArgs) => boolean>;
  /** Outputs of `xstate.done.actor.*`, by the invoked actor's source (default: undefined). */
  outputs?: Record<string, unknown[]>;
  /** Payload variants of plain events, by event type (default: no fields). */
  payloads?: Record<string, Fields[]>;
  /** Flags every event is sent with, one variant each (default: none). */
  flags?: Fields[];
}

const flag =
  (name: string) =>
  ({ event }: GuardArgs): boolean =>
    (event as Fields)[name] === true;

const PLANS: Record<string, Plan> = {
  boot: {
    inputs: [{ program: true }, { exportMode: 'bpf', program: true }, { exportMode: 'pfc', program: false }],
    outputs: { waitProgram: [0, 3], stopSupervisor: [{ clean: true }, { clean: false }, { clean: true, failure: 'unshare: EPERM' }] },
    payloads: { 'export.failed': [{ error: 'EEXIST' }], 'program.failed': [{ error: 'ENOENT' }] },
  },
  export: { inputs: [{ mode: 'bpf' }, { mode: 'pfc' }], payloads: { 'export.failed': [{ error: 'EEXIST' }] } },
  monitor: {
    inputs: [{ skipConfinement: false }, { skipConfinement: true }, { skipConfinement: false, crypt: true }, { skipConfinement: false, ipc: true }, { skipConfinement: false, crypt: true, ipc: true }],
    guards: { locked: flag('locked'), shouldExit: flag('shouldExit') },
    outputs: { trySpawn: ['core', 'helper', 'idle_exists', 'capacity_exceeded'] },
    payloads: { 'sandbox.serve': [{ skipConfinement: false }, { skipConfinement: true }] },
    flags: [
      { locked: false, shouldExit: false },
      { locked: true, shouldExit: false },
      { locked: false, shouldExit: true },
      { locked: true, shouldExit: true },
    ],
  },
  emulator: { inputs: [{ kind: 'core' }, { kind: 'helper' }] },
  sandbox: {
    inputs: [undefined],
    outputs: { reapLeftovers: ['reaped', 'stuck'] },
    payloads: {
      'child.exec_failed': [{ syscall: 'execve', errno: 2 }, { syscall: 'execve', errno: 13 }],
      'child.exited': [{ code: 0 }, { code: 127 }],
      'child.signaled': [{ signal: 9 }],
    },
  },
};

const pathOf = (n: AnyNode): string => n.path.join('.');

function allNodes(root: AnyNode): AnyNode[] {
  return [root, ...(Object.values(root.states) as AnyNode[]).flatMap(allNodes)];
}

/** The paths of the states a state value has active, the root ('') included. */
function activePaths(value: StateValue): string[] {
  return ['', ...valuePaths(value, [])];
}

function valuePaths(value: StateValue, prefix: string[]): string[] {
  if (typeof value === 'string') return [[...prefix, value].join('.')];
  return Object.entries(value).flatMap(([k, v]) => [
    [...prefix, k].join('.'),
    ...(v === undefined ? [] : valuePaths(v, [...prefix, k])),
  ]);
}

/** Every event the machine can react to, with the variants the plan asks for. */
function eventSet(machine: AnyStateMachine, plan: Plan): AnyEventObject[] {
  const variants = new Map<string, Fields[]>();
  const add = (type: string, list: Fields[]): void => {
    if (!variants.has(type)) variants.set(type, list);
  };
  for (const node of allNodes(machine.root)) {
    for (const inv of node.invoke) {
      const src = typeof inv.src === 'string' ? inv.src : inv.id;
      add(`xstate.done.actor.${inv.id}`, (plan.outputs?.[src] ?? [undefined]).map((output) => ({ output })));
      add(`xstate.error.actor.${inv.id}`, [{ error: `${src} failed` }]);
    }
    for (const delay of Object.keys(node.config.after ?? {})) add(`xstate.after.${delay}.${node.id}`, [{}]);
    for (const type of Object.keys(node.config.on ?? {})) add(type, plan.payloads?.[type] ?? [{}]);
    // Anything else the node listens to (e.g. a state's own onDone), sent bare.
    for (const type of node.transitions.keys()) add(type, [{}]);
  }
  const flags = plan.flags ?? [{}];
  return [...variants].flatMap(([type, list]) => list.flatMap((fields) => flags.map((f) => ({ ...fields, ...f, type }))));
}

interface Seen {
  states: Set<string>;
  transitions: Set<AnyTransitionDefinition>;
}

/**
 * An actor scope for machine.transition() whose system reports each microstep: the
 * transitions it took (and so their sources) and the states it left active.
 */
function recordingScope(seen: Seen): AnyActorScope {
  const self = createEmptyActor();
  self.system.inspect((ev: InspectionEvent) => {
    if (ev.type !== '@xstate.microstep') return;
    for (const t of ev._transitions) {
      seen.transitions.add(t);
      seen.states.add(pathOf(t.source));
    }
    for (const p of activePaths((ev.snapshot as AnyMachineSnapshot).value)) seen.states.add(p);
  });
  return {
    self,
    id: 'coverage',
    sessionId: self.sessionId,
    logger: () => {},
    defer: () => {},
    emit: () => {},
    system: self.system,
    stopChild: () => {},
    actionExecutor: () => {},
  };
}

/**
 * Which entries of machineGraph() a transition definition stands for (one per target), from a
 * walk of the state nodes in the graph's document order; fails when the two disagree.
 */
function graphIndex(machine: AnyStateMachine, graph: MachineGraph): Map<AnyTransitionDefinition, number[]> {
  const index = new Map<AnyTransitionDefinition, number[]>();
  let i = 0;
  for (const node of allNodes(machine.root)) {
    const add = (t: AnyTransitionDefinition, eventType: string): void => {
      const targets = t.target?.length ? t.target.map((x) => pathOf(x as AnyNode)) : [null];
      const at: number[] = [];
      for (const target of targets) {
        const g = graph.transitions[i];
        assert.ok(
          g && g.source === pathOf(node) && g.eventType === eventType && g.target === target,
          `${machine.id}: transition #${i} (${pathOf(node)} ${eventType || 'always'} → ${target}) is not machineGraph's`,
        );
        at.push(i++);
      }
      index.set(t, at);
    };
    for (const [descriptor, list] of node.transitions) for (const t of list) add(t, descriptor);
    for (const t of node.always ?? []) add(t, '');
  }
  assert.is(i, graph.transitions.length, `${machine.id}: machineGraph lists transitions the machine does not have`);
  return index;
}

/** Readable and unique names for machineGraph's transitions. */
function transitionNames(graph: MachineGraph): string[] {
  const name = (t: GraphTransition) => `${t.source || '(machine)'} --${transitionLabel(t)}--> ${t.target ?? '(self)'}`;
  const count = new Map<string, number>();
  return graph.transitions.map((t) => {
    const n = name(t);
    const k = (count.get(n) ?? 0) + 1;
    count.set(n, k);
    return k === 1 ? n : `${n} (#${k})`;
  });
}

interface Coverage {
  expectedStates: string[];
  states: string[];
  expectedTransitions: string[];
  transitions: string[];
  /** Paths enumerated by xstate/graph, over all inputs. */
  paths: number;
}

/** Walks `machine` (with the plan's guards) per input and reports what it reached. */
function cover(machine: AnyStateMachine, plan: Plan): Coverage {
  const graph = machineGraph(machine);
  const walked = plan.guards ? machine.provide({ guards: plan.guards }) : machine;
  assert.equal(machineGraph(walked), graph, `${machine.id}: provide() changed the machine's graph`);
  const index = graphIndex(walked, graph);
  const names = transitionNames(graph);
  const events = eventSet(walked, plan);
  const seen: Seen = { states: new Set(), transitions: new Set() };
  const scope = recordingScope(seen);
  let count = 0;

  for (const input of plan.inputs) {
    const paths = getShortestPaths(walked, { input, events });
    assert.ok(paths.length > 0, `${machine.id}: no path`);
    count += paths.length;
    for (const path of paths) {
      // Replay the path (steps[0] is the initial snapshot, reached by xstate.init).
      let snap = walked.getInitialSnapshot(scope, input) as AnyMachineSnapshot;
      for (const p of activePaths(snap.value)) seen.states.add(p);
      for (const step of path.steps.slice(1)) snap = walked.transition(snap, step.event, scope) as AnyMachineSnapshot;
      assert.is(serializeSnapshot(snap), serializeSnapshot(path.state), `${machine.id}: the path does not replay`);
      // Then every event some transition there listens to (and whose guard holds): the edges
      // leaving this snapshot, targetless ones included.
      for (const event of events) if (walked.getTransitionData(snap, event).length) walked.transition(snap, event, scope);
    }
  }

  const taken = new Set<number>();
  for (const t of seen.transitions) {
    const at = index.get(t);
    assert.ok(at, `${machine.id}: a transition not in machineGraph was taken: ${pathOf(t.source)} ${t.eventType}`);
    for (const i of at) taken.add(i);
  }
  const expectedStates = graph.states.map((s) => s.path);
  return {
    expectedStates,
    states: expectedStates.filter((p) => seen.states.has(p)),
    expectedTransitions: names,
    transitions: names.filter((_, i) => taken.has(i)),
    paths: count,
  };
}

function assertCovered(name: string, c: Coverage): void {
  assert.equal(c.states, c.expectedStates, `${name}: unreachable states: ${c.expectedStates.filter((s) => !c.states.includes(s)).join(', ')}`);
  assert.equal(
    c.transitions,
    c.expectedTransitions,
    `${name}: transitions never taken: ${c.expectedTransitions.filter((t) => !c.transitions.includes(t)).join('; ')}`,
  );
}

/** The message assertCovered() fails with, or undefined (uvu's throws() rethrows assertions). */
function coverageFailure(name: string, c: Coverage): string | undefined {
  try {
    assertCovered(name, c);
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

const planOf = (name: string): Plan => PLANS[name] ?? { inputs: [undefined] };

// ---------------------------------------------------------------------------------------------
// Coverage

test('every machine of MACHINES has a walk plan', () => {
  assert.equal(Object.keys(PLANS).sort(), Object.keys(MACHINES).sort());
});

for (const [name, machine] of Object.entries(MACHINES)) {
  test(`${name}: every state and every transition is reached`, () => {
    const c = cover(machine, planOf(name));
    assert.ok(c.expectedStates.length > 1 && c.expectedTransitions.length > 0);
    assert.ok(c.paths >= c.expectedStates.length - 1, `${name}: fewer paths than states`);
    assertCovered(name, c);
  });
}

test('the event set names done/error/after events the way xstate does', () => {
  const events = new Set(eventSet(monitorMachine, planOf('monitor')).map((e) => e.type));
  const descriptors = new Set(allNodes(monitorMachine.root).flatMap((n) => [...n.transitions.keys()]));
  assert.ok(events.has('xstate.after.CYCLE.monitor.running.cycleWait'));
  assert.ok(events.has('xstate.done.actor.0.monitor.unsharing'));
  assert.ok(events.has('xstate.error.actor.0.monitor.running.spawning'));
  assert.equal([...events].sort(), [...descriptors].sort());
});

// The check can fail: a copy of a machine with a transition removed, a state nothing enters, or
// an outside guard left unprovided shows as uncovered.

test('coverage: a removed transition leaves states and transitions unreached', () => {
  const config = sandboxMachine.config;
  const spawningOn = { ...(config.states!['spawning']!.on as Record<string, unknown>) };
  delete spawningOn['child.exec_ok'];
  const broken = createMachine(
    { ...config, states: { ...config.states, spawning: { ...config.states!['spawning'], on: spawningOn } } } as typeof config,
    sandboxMachine.implementations,
  ) as AnyStateMachine;
  const c = cover(broken, planOf('sandbox'));
  const missing = c.expectedStates.filter((s) => !c.states.includes(s));
  assert.equal(missing, ['running']);
  assert.equal(
    c.expectedTransitions.filter((t) => !c.transitions.includes(t)),
    ['running --child.exited--> reaping', 'running --child.signaled--> reaping', 'running --reaper.died--> reaping'],
  );
  assert.match(coverageFailure('sandbox copy', c) ?? '', /unreachable states: running$/m);
});

test('coverage: a transition whose guard never holds is reported, though every state is reached', () => {
  const config = sandboxMachine.config;
  const running = config.states!['running']!;
  const on = { ...(running.on as Record<string, unknown>) };
  on['child.exited'] = [{ guard: () => false, target: 'ended' }, on['child.exited']];
  const broken = createMachine(
    { ...config, states: { ...config.states, running: { ...running, on } } } as typeof config,
    sandboxMachine.implementations,
  ) as AnyStateMachine;
  const c = cover(broken, planOf('sandbox'));
  assert.equal(c.states, c.expectedStates);
  assert.equal(
    c.expectedTransitions.filter((t) => !c.transitions.includes(t)),
    ['running --child.exited [inline]--> ended'],
  );
  assert.match(coverageFailure('sandbox copy', c) ?? '', /transitions never taken: running --child.exited \[inline\]--> ended$/);
});

test('coverage: a state nothing enters is reported', () => {
  const config = emulatorMachine.config;
  const broken = createMachine(
    { ...config, states: { ...config.states, limbo: { on: { 'emulator.ready': 'idle' } } } } as typeof config,
    emulatorMachine.implementations,
  ) as AnyStateMachine;
  const c = cover(broken, planOf('emulator'));
  assert.match(coverageFailure('emulator copy', c) ?? '', /unreachable states: limbo$/);
  assert.ok(!c.transitions.includes('limbo --emulator.ready--> idle'));
});

test('coverage: an outside guard left as the placeholder hides both of its branches', () => {
  const c = cover(monitorMachine, { ...planOf('monitor'), guards: undefined });
  const missing = c.expectedStates.filter((s) => !c.states.includes(s));
  assert.equal(missing, ['confinement.loading', 'running.confining', 'exiting', 'stoppingIpc', 'waitingAes', 'idle', 'closing', 'done']);
  assert.match(coverageFailure('monitor', c) ?? '', /unreachable states: confinement.loading/);
});

// ---------------------------------------------------------------------------------------------
// Real runs with fake actors

const ok = fromPromise<void>(async () => {});
const never = fromPromise<void>(() => new Promise<void>(() => {}));

test('monitor: serves a sandbox until should_exit, waits idle (exit 0 told), serves the next warm, ends done when closed', async () => {
  let shouldExit = false;
  const spawns: string[] = [];
  const unshares: number[] = [];
  const served: number[] = [];
  const actor = createActor(
    monitorMachine.provide({
      actors: {
        unshareMonitor: fromPromise<void>(async () => void unshares.push(1)),
        closeFds: ok,
        spawnInterrupter: ok,
        interrupterHandshake: ok,
        prepareConfinement: ok,
        loadConfinement: ok,
        trySpawn: fromPromise<SpawnDecision>(async () => {
          const decision = spawns.length % 2 === 0 ? 'core' : 'idle_exists';
          spawns.push(decision);
          return decision;
        }),
        waitForWork: fromPromise(async () => {
          // The second wait is the loop's: the program ended, the pool is told to stop.
          if (spawns.length % 2 === 0) shouldExit = true;
        }),
        stopPool: ok,
        closeThreads: ok,
      },
      actions: { sandboxServed: ({ context }) => void served.push(context.exitCode) },
      guards: { locked: () => false, shouldExit: () => shouldExit },
      delays: { CYCLE: 1 },
    }),
    { input: { skipConfinement: false } },
  );
  actor.start();
  await waitFor(actor, (s) => s.value === 'idle', { timeout: 2000 });
  assert.equal(served, [0]);
  assert.ok(spawns.length >= 2, 'the loop spawned');
  shouldExit = false;
  actor.send({ type: 'sandbox.serve', skipConfinement: false });
  await waitFor(actor, (s) => s.value === 'idle' && served.length === 2, { timeout: 2000 });
  assert.equal(served, [0, 0]);
  assert.is(unshares.length, 1, 'the fs is made private once per thread');
  assert.ok(spawns.length >= 4, 'the second sandbox got its core emulator');
  actor.send({ type: 'monitor.close' });
  const output = await toPromise(actor);
  assert.equal(actor.getSnapshot().value, 'done');
  assert.equal(output, { exitCode: 0, error: undefined });
});

test("monitor: the first core emulator starts before the interrupter's handshake is awaited; a bad handshake is 101", async () => {
  const order: string[] = [];
  const step = (name: string) => fromPromise<void>(async () => void order.push(name));
  const actor = createActor(
    monitorMachine.provide({
      actors: {
        unshareMonitor: step('unshare'),
        closeFds: step('closeFds'),
        spawnInterrupter: step('spawnInterrupter'),
        prepareConfinement: step('prepareConfinement'),
        loadConfinement: step('loadConfinement'),
        trySpawn: fromPromise<SpawnDecision>(async () => {
          order.push('trySpawn');
          return 'core';
        }),
        interrupterHandshake: fromPromise<void>(async () => {
          order.push('interrupterHandshake');
          throw new Error('interrupter died before its handshake');
        }),
        waitForWork: never,
      },
      guards: { locked: () => true, shouldExit: () => false },
    }),
    { input: { skipConfinement: false } },
  );
  actor.start();
  const snap = await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
  // The interrupter thread is created before the monitor confines itself (it has its own filter).
  assert.equal(order, ['unshare', 'closeFds', 'spawnInterrupter', 'prepareConfinement', 'loadConfinement', 'trySpawn', 'interrupterHandshake']);
  assert.equal(snap.value, 'failed');
  assert.equal(snap.output, { exitCode: 101, error: 'Error: interrupter died before its handshake' });
});

test('monitor: with Crypt on, starts the AES worker after the interrupter and waits for it after the pool at exit; a failed start is 101', async () => {
  const order: string[] = [];
  let shouldExit = false;
  const step = (name: string) => fromPromise<void>(async () => void order.push(name));
  const machine = (startAes: ReturnType<typeof step>) =>
    monitorMachine.provide({
      actors: {
        unshareMonitor: step('unshare'),
        closeFds: step('closeFds'),
        spawnInterrupter: step('spawnInterrupter'),
        interrupterHandshake: ok,
        prepareConfinement: ok,
        loadConfinement: ok,
        trySpawn: fromPromise<SpawnDecision>(async () => 'idle_exists'),
        waitForWork: fromPromise<void>(async () => void (shouldExit = true)),
        stopPool: step('stopPool'),
        startAes,
        waitAes: step('waitAes'),
        closeThreads: ok,
      },
      guards: { locked: () => false, shouldExit: () => shouldExit },
    });
  const actor = createActor(machine(step('startAes')), { input: { skipConfinement: false, crypt: true } });
  actor.start();
  await waitFor(actor, (s) => s.value === 'idle', { timeout: 2000 });
  assert.equal(order, ['unshare', 'closeFds', 'spawnInterrupter', 'startAes', 'stopPool', 'waitAes']);
  order.length = 0;
  shouldExit = false;
  actor.send({ type: 'sandbox.serve', skipConfinement: false });
  await waitFor(actor, (s) => s.value === 'idle' && order.includes('stopPool'), { timeout: 2000 });
  assert.equal(order, ['closeFds', 'spawnInterrupter', 'stopPool'], 'Crypt off: no AES states');
  actor.stop();
  const failing = createActor(machine(fromPromise<void>(async () => { throw new Error('fail-aes-confine'); })), { input: { skipConfinement: false, crypt: true } });
  failing.start();
  const snap = await waitFor(failing, (s) => s.status === 'done', { timeout: 2000 });
  assert.equal(snap.output, { exitCode: 101, error: 'Error: fail-aes-confine' });
});

test('monitor: ends failed with exit 101 when unshare fails', async () => {
  const actor = createActor(
    monitorMachine.provide({
      actors: {
        unshareMonitor: fromPromise<void>(async () => {
          throw new Error('unshare: EPERM');
        }),
        closeFds: never,
      },
    }),
    { input: { skipConfinement: false } },
  );
  actor.start();
  const snap = await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
  assert.equal(snap.value, 'failed');
  assert.is(EXIT_CRITICAL, 101);
  assert.equal(snap.output, { exitCode: 101, error: 'Error: unshare: EPERM' });
});

test("boot: leaves with the program's exit status; the steps before the monitor answer within start()", async () => {
  const order: string[] = [];
  const answer = (name: string, event: BootEvent) =>
    fromCallback<BootEvent>(({ sendBack }) => {
      order.push(name);
      sendBack(event);
    });
  const step = <T>(name: string, value: T) =>
    fromPromise<T>(async () => {
      order.push(name);
      return value;
    });
  const actor = createActor(
    bootMachine.provide({
      actors: {
        runExport: answer('runExport', { type: 'export.done' }),
        checkNumCpus: answer('checkNumCpus', { type: 'cpus.checked' }),
        spawnProgram: answer('spawnProgram', { type: 'program.spawned' }),
        startMonitor: step<void>('startMonitor', undefined),
        waitProgram: step('waitProgram', 3),
        stopSupervisor: step<SupervisorStop>('stopSupervisor', { clean: true }),
      },
    }),
    { input: { exportMode: 'pfc', program: true } },
  );
  actor.start();
  // The program is spawned before start() returns (and the monitor's start has begun).
  assert.equal(actor.getSnapshot().value, 'startingMonitor');
  assert.equal(order, ['runExport', 'checkNumCpus', 'spawnProgram', 'startMonitor']);
  const output = await toPromise(actor);
  assert.equal(actor.getSnapshot().value, 'done');
  assert.equal(output, { exitCode: 3, error: undefined, cleanShutdown: true });
  assert.equal(order, ['runExport', 'checkNumCpus', 'spawnProgram', 'startMonitor', 'waitProgram', 'stopSupervisor']);
});

test('boot: a failed export runs nothing (125); a failed monitor makes the exit 101', async () => {
  const failedExport = createActor(
    bootMachine.provide({
      actors: {
        runExport: fromCallback<BootEvent>(({ sendBack }) => sendBack({ type: 'export.failed', error: new Error('tsyd_emu.bpf: EEXIST') })),
        spawnProgram: fromCallback<BootEvent>(() => {
          throw new Error('must not spawn');
        }),
      },
    }),
    { input: { exportMode: 'bpf', program: true } },
  ).start();
  assert.equal(failedExport.getSnapshot().value, 'failed');
  assert.equal(failedExport.getSnapshot().output, { exitCode: 125, error: 'Error: tsyd_emu.bpf: EEXIST', cleanShutdown: true });
  const failedMonitor = createActor(
    bootMachine.provide({
      actors: {
        checkNumCpus: fromCallback<BootEvent>(({ sendBack }) => sendBack({ type: 'cpus.checked' })),
        spawnProgram: fromCallback<BootEvent>(({ sendBack }) => sendBack({ type: 'program.spawned' })),
        startMonitor: fromPromise(async () => {}),
        waitProgram: fromPromise(async () => 137),
        stopSupervisor: fromPromise<SupervisorStop>(async () => ({ clean: true, failure: 'unshare: EPERM' })),
      },
    }),
    { input: { program: true } },
  ).start();
  assert.equal(await toPromise(failedMonitor), { exitCode: 101, error: 'unshare: EPERM', cleanShutdown: true });
});

test('export: ends failed, within start(), when writing the BPF files fails', () => {
  const error = new Error('tsyd_emu.bpf: EEXIST');
  const actor = createActor(
    exportMachine.provide({
      actors: {
        writeBpf: fromCallback(({ sendBack }) => sendBack({ type: 'export.failed', error })),
        printPfc: fromCallback(() => {
          throw new Error('must not print');
        }),
      },
    }),
    { input: { mode: 'bpf' } },
  ).start();
  const snap = actor.getSnapshot();
  assert.equal(snap.value, 'failed');
  assert.equal(snap.output, { ok: false, error });
});

test('sandbox: the program signaled ends after its leftovers are reaped; a stuck reaping ends stuck', async () => {
  for (const reaped of ['reaped', 'stuck'] as const) {
    const actor = createActor(sandboxMachine.provide({ actors: { reapLeftovers: fromPromise(async () => reaped) } }));
    actor.start();
    actor.send({ type: 'child.exec_ok' });
    assert.equal(actor.getSnapshot().value, 'running');
    actor.send({ type: 'child.signaled', signal: 9 });
    assert.equal(actor.getSnapshot().value, 'reaping');
    const snap = await waitFor(actor, (s) => s.status === 'done', { timeout: 2000 });
    assert.equal(snap.value, reaped === 'reaped' ? 'ended' : 'stuck');
    assert.equal(snap.output, { started: true, stuck: reaped === 'stuck', signal: 9 });
  }
});

test('emulator: the compiled table steps like the machine and throws on an event its state does not accept', () => {
  const core = compileFlat(emulatorMachine, { kind: 'core' }, 'free');
  const helper = compileFlat(emulatorMachine, { kind: 'helper' }, 'free');
  assert.equal(core.names, ['free', 'starting', 'idle', 'busy', 'retiring', 'stopped', 'dead']);
  assert.is(core.names[core.initial], 'starting');
  const ev = (name: string) => core.event(name);
  let s = core.initial;
  for (const e of ['emulator.ready', 'request.received', 'request.answered', 'pool.should_exit']) s = core.step(s, ev(e));
  assert.is(core.names[s], 'stopped');
  assert.throws(() => core.step(core.code('starting'), ev('request.received')), /emulator: no transition for 'request.received' in state 'starting'/);
  assert.throws(() => core.step(core.code('busy'), ev('pool.should_exit')), /no transition for 'pool.should_exit' in state 'busy'/);
  assert.throws(() => core.step(core.code('stopped'), ev('emulator.ready')), /in state 'stopped'/);
  // A free slot runs no machine: nothing steps it.
  assert.is(core.next(0, ev('emulator.ready')), -1);
  assert.throws(() => core.code('free'), /no state 'free'/);
  assert.throws(() => core.event('no.such'), /no event 'no.such'/);
  // Guards are compiled for the context: keep_alive retires a helper, never a core emulator.
  assert.is(helper.names[helper.step(helper.code('idle'), helper.event('keepalive.expired'))], 'retiring');
  assert.throws(() => core.step(core.code('idle'), ev('keepalive.expired')), /no transition/);
  // Every transition of the machine is in the table, and nothing else (walked on the definition).
  for (const [key, node] of Object.entries(emulatorMachine.root.states)) {
    for (const name of core.events) {
      const defined = node.transitions.get(name) ?? [];
      for (const [table, kind] of [[core, 'core'], [helper, 'helper']] as const) {
        const t = defined.find((d) => d.guard === undefined || (kind === 'helper' && d.guard !== undefined));
        const want = t?.target?.[0]?.key;
        const got = table.next(table.code(key), table.event(name));
        assert.is(got < 0 ? undefined : table.names[got], want, `${kind} ${key} --${name}-->`);
      }
    }
  }

  // The same walk on the machine itself.
  const actor = createActor(emulatorMachine, { input: { kind: 'core' } });
  actor.start();
  for (const type of ['emulator.ready', 'request.received', 'request.answered', 'pool.should_exit'] as const) actor.send({ type });
  assert.is(actor.getSnapshot().value, 'stopped');
  assert.is(actor.getSnapshot().status, 'done');
});

test.run();
