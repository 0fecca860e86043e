// The intermediate model every picture of a machine is drawn from (src/viz/: mermaid.ts, dot.ts,
// svg.ts): the states (paths dot-joined from the root, the root itself being '') and the
// transitions, read from the XState machine definition itself, so no picture can drift from the
// code. Pure: machine in, model out.
import type { AnyStateMachine, AnyTransitionDefinition } from 'xstate';

type AnyNode = AnyStateMachine['root'];

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
export type TransitionKind = 'event' | 'always' | 'after' | 'done' | 'error';

export interface GraphState {
  /** Keys from the root joined with '.'; the root (the machine itself) is ''. */
  path: string;
  /** The state's own key (the machine id for the root). */
  key: string;
  /** The xstate id (`machine.a.b` or an explicit `id`). */
  id: string;
  /** Path of the parent state; absent only for the root. */
  parent?: string;
  type: StateType;
  /** Path of the initial child of a compound state. */
  initial?: string;
  description?: string;
  /** For history states. */
  history?: 'shallow' | 'deep';
  /** Entry and exit action names, in order. */
  entry: string[];
  exit: string[];
  /** Sources of the actors this state invokes. */
  invoke: string[];
  tags: string[];
}

export interface GraphTransition {
  source: string;
  /** Target state path; null for a targetless transition (actions only, no state change). */
  target: string | null;
  /**
   * The label: the event type for 'event', 'always', `after N ms` (or `after NAME` for a
   * named delay), `done: src` / `error: src` for an invoked actor, `done` for a state's onDone.
   */
  event: string;
  /** The xstate event descriptor the transition listens to ('' for always). */
  eventType: string;
  guard?: string;
  kind: TransitionKind;
  /** For 'after': the delay in ms or the name of a configured delay. */
  delay?: number | string;
  /** For done/error of an invoked actor: the actor's source. */
  actor?: string;
  actions: string[];
  reenter: boolean;
}

export interface MachineGraph {
  /** The machine id. */
  id: string;
  /** Every state in document order, the root first. */
  states: GraphState[];
  /** Every transition in document order; a transition with several targets gives one entry per target. */
  transitions: GraphTransition[];
}

const AFTER_PREFIX = 'xstate.after.';
const DONE_ACTOR = 'xstate.done.actor.';
const ERROR_ACTOR = 'xstate.error.actor.';
const DONE_STATE = 'xstate.done.state.';
const SNAPSHOT = 'xstate.snapshot.';

type Fn = ((...args: never[]) => unknown) & Record<string, unknown>;

/** A readable name for a guard: named guards by name, and/or/not spelled out, inline ones as 'inline'. */
function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const f = guard as Fn;
    if (typeof f['check'] === 'function' && Array.isArray(f['guards'])) {
      const parts = (f['guards'] as unknown[])
        .filter((g) => !(typeof g === 'function' && g.name === 'routeMatches'))
        .map((g) => guardName(g) ?? 'inline');
      const wrap = (p: string) => (/[ &|]/.test(p) ? `(${p})` : p);
      // A bundler may rename xstate's and/or/not (esbuild: and2): the name without its suffix.
      const kind = f.name.replace(/\d+$/, '');
      if (kind === 'not') return `!${wrap(parts[0] ?? 'inline')}`;
      if (kind === 'and') return parts.length ? parts.map(wrap).join(' && ') : undefined;
      if (kind === 'or') return parts.map(wrap).join(' || ');
    }
    if (typeof f['check'] === 'function' && 'stateValue' in f) {
      const v = f['stateValue'];
      return `in(${typeof v === 'string' ? v : JSON.stringify(v)})`;
    }
    if (f.name === 'routeMatches') return undefined;
    return f.name && f.name !== 'guard' ? f.name : 'inline';
  }
  if (typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  return 'inline';
}

/** A readable name for an action; undefined for the raise/cancel pairs xstate adds for `after`. */
function actionName(action: unknown): string | undefined {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const f = action as Fn;
    const type = f['type'];
    if (typeof type === 'string' && type.startsWith('xstate.')) {
      if (type === 'xstate.raise' && String(f['id'] ?? '').startsWith(AFTER_PREFIX)) return undefined;
      if (type === 'xstate.cancel' && String(f['sendId'] ?? '').startsWith(AFTER_PREFIX)) return undefined;
      return type.slice('xstate.'.length);
    }
    return f.name && !['entry', 'exit', 'actions'].includes(f.name) ? f.name : 'inline';
  }
  if (action && typeof action === 'object' && 'type' in action) return String((action as { type: unknown }).type);
  return undefined;
}

function actionNames(actions: readonly unknown[] | undefined): string[] {
  return (actions ?? []).map(actionName).filter((n): n is string => n !== undefined);
}

/** The source of an invoked actor as written in the machine ('inline' or its id for inline logic). */
function invokeSource(inv: { id: string; src: unknown }, explicitId: boolean): string {
  const src = typeof inv.src === 'string' ? inv.src : 'inline';
  if (!src.startsWith('xstate.invoke.')) return src;
  return explicitId ? inv.id : 'inline';
}

function nodePath(n: AnyNode): string {
  return n.path.join('.');
}

/** The intermediate model every renderer draws: states and transitions, paths from the root. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const states: GraphState[] = [];
  const transitions: GraphTransition[] = [];

  const visit = (n: AnyNode): void => {
    const path = nodePath(n);
    const configInvokes = n.config.invoke === undefined ? [] : Array.isArray(n.config.invoke) ? n.config.invoke : [n.config.invoke];
    const invokes = n.invoke.map((inv, i) => ({
      id: inv.id,
      src: invokeSource(inv, Boolean((configInvokes[i] as { id?: string } | undefined)?.id)),
    }));
    const st: GraphState = {
      path,
      key: n.key,
      id: n.id,
      type: n.type,
      entry: actionNames(n.entry),
      exit: actionNames(n.exit),
      invoke: invokes.map((i) => i.src),
      tags: [...n.tags],
    };
    if (n.parent) st.parent = nodePath(n.parent);
    if (n.type === 'compound') {
      const init = n.initial.target[0];
      if (init) st.initial = nodePath(init);
    }
    if (n.description) st.description = n.description;
    if (n.type === 'history') st.history = n.history === 'deep' ? 'deep' : 'shallow';
    states.push(st);

    const push = (t: AnyTransitionDefinition, descriptor: string, always: boolean): void => {
      let kind: TransitionKind = 'event';
      let event = descriptor;
      let delay: number | string | undefined;
      let actor: string | undefined;
      if (always) {
        kind = 'always';
        event = 'always';
      } else if (descriptor.startsWith(AFTER_PREFIX)) {
        kind = 'after';
        delay = (t as { delay?: number | string }).delay ?? descriptor.slice(AFTER_PREFIX.length).split('.')[0]!;
        event = typeof delay === 'number' || /^\d+(\.\d+)?$/.test(String(delay)) ? `after ${delay} ms` : `after ${delay}`;
        if (typeof delay === 'string' && /^\d+(\.\d+)?$/.test(delay)) delay = Number(delay);
      } else if (descriptor.startsWith(DONE_ACTOR) || descriptor.startsWith(ERROR_ACTOR)) {
        const done = descriptor.startsWith(DONE_ACTOR);
        const id = descriptor.slice((done ? DONE_ACTOR : ERROR_ACTOR).length);
        actor = invokes.find((i) => i.id === id)?.src ?? id;
        kind = done ? 'done' : 'error';
        event = `${kind}: ${actor}`;
      } else if (descriptor === `${DONE_STATE}${n.id}`) {
        kind = 'done';
        event = 'done';
      } else if (descriptor.startsWith(SNAPSHOT)) {
        const id = descriptor.slice(SNAPSHOT.length);
        event = `snapshot: ${invokes.find((i) => i.id === id)?.src ?? id}`;
      } else if (descriptor === 'xstate.route') {
        event = 'route';
      }
      const base = {
        source: path,
        event,
        eventType: always ? '' : descriptor,
        kind,
        actions: actionNames(t.actions),
        reenter: Boolean(t.reenter),
      };
      const guard = guardName(t.guard);
      const targets = t.target && t.target.length ? t.target.map((x) => nodePath(x as AnyNode)) : [null];
      for (const target of targets) {
        const tr: GraphTransition = { ...base, target };
        if (guard !== undefined) tr.guard = guard;
        if (delay !== undefined) tr.delay = delay;
        if (actor !== undefined) tr.actor = actor;
        transitions.push(tr);
      }
    };
    for (const [descriptor, list] of n.transitions) for (const t of list) push(t, descriptor, false);
    for (const t of n.always ?? []) push(t, '', true);
    for (const child of Object.values(n.states) as AnyNode[]) visit(child);
  };
  visit(machine.root);
  return { id: machine.id, states, transitions };
}

/** Whether state `a` encloses state `b` (the root encloses every other state). */
export function isAncestor(a: string, b: string): boolean {
  return a === '' ? b !== '' : b.startsWith(`${a}.`);
}

/** The children of every state, in document order, by the parent's path. */
export function childrenOf(g: MachineGraph): Map<string, GraphState[]> {
  const m = new Map<string, GraphState[]>();
  for (const s of g.states) {
    if (s.parent === undefined) continue;
    let list = m.get(s.parent);
    if (!list) m.set(s.parent, (list = []));
    list.push(s);
  }
  return m;
}
