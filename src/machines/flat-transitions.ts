// A transition table compiled from a flat machine definition, for code paths too hot for an
// actor (the emulator's loop steps it on every request). States and events are numbered; for
// one context the guards are evaluated once, at compile time, so a step is one typed-array
// read: no allocation, no call. The machine stays the only source of the transitions: a state
// or an event the definition does not have cannot be stepped.
import type { AnyStateMachine } from 'xstate';

export interface FlatTable {
  readonly machine: string;
  /** State names by code. Code 0 is `vacant` (no machine runs there: e.g. an unused slot); the machine's states follow in definition order. */
  readonly names: readonly string[];
  /** The events the machine accepts anywhere, by code. */
  readonly events: readonly string[];
  /** The code of the initial state. */
  readonly initial: number;
  /** The code of a state, or of an event; throws for a name the machine does not have. */
  code(state: string): number;
  event(name: string): number;
  /** The next state's code, or -1 when the state does not accept the event. */
  next(state: number, event: number): number;
  /** As next(), but an event the state does not accept throws (a bug, never silently ignored). */
  step(state: number, event: number): number;
}

type Guard = (args: { context: unknown; event: { type: string } }, params: unknown) => boolean;

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  const type = (guard as { type?: unknown }).type;
  if (typeof type === 'string') return type;
  throw new Error('compileFlat: only named guards are supported');
}

/**
 * Compiles `machine` for `context`. Its guards must read the context only (they are evaluated
 * here, once per transition); the first candidate whose guard holds wins, as XState picks.
 */
export function compileFlat(machine: AnyStateMachine, context: unknown, vacant = 'vacant'): FlatTable {
  const root = machine.root;
  const guards = (machine.implementations.guards ?? {}) as Record<string, Guard>;
  const names = [vacant, ...Object.keys(root.states)];
  const events = [...new Set(Object.values(root.states).flatMap((node) => [...node.transitions.keys()]))];
  const table = new Int16Array(names.length * events.length).fill(-1);
  for (const [key, node] of Object.entries(root.states)) {
    if (Object.keys(node.states).length > 0) throw new Error(`compileFlat: ${machine.id}.${key} is not flat`);
    const from = names.indexOf(key);
    for (const [event, transitions] of node.transitions) {
      for (const t of transitions) {
        const name = guardName(t.guard);
        if (name !== undefined) {
          const guard = guards[name];
          if (!guard) throw new Error(`${machine.id}: guard '${name}' not provided`);
          if (!guard({ context, event: { type: event } }, undefined)) continue;
        }
        const target = t.target?.[0];
        if (target) table[from * events.length + events.indexOf(event)] = names.indexOf(target.key);
        break;
      }
    }
  }
  const initialKey = (root.config.initial as string | undefined) ?? names[1]!;
  const code = (state: string): number => {
    const i = names.indexOf(state);
    if (i < 1) throw new Error(`${machine.id}: no state '${state}'`);
    return i;
  };
  const width = events.length;
  return {
    machine: machine.id,
    names,
    events,
    initial: code(initialKey),
    code,
    event(name) {
      const i = events.indexOf(name);
      if (i < 0) throw new Error(`${machine.id}: no event '${name}'`);
      return i;
    },
    next: (state, event) => (state > 0 && state < names.length ? table[state * width + event]! : -1),
    step(state, event) {
      const to = this.next(state, event);
      if (to < 0) throw new Error(`${machine.id}: no transition for '${events[event]}' in state '${names[state] ?? state}'`);
      return to;
    },
  };
}
