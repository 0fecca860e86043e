// A transition table compiled from a flat machine definition, for code paths too hot for an
// actor: step(state, event) is one Map lookup, and an event the machine does not accept in
// that state throws (a bug, never silently ignored).
import type { AnyStateMachine } from 'xstate';

export interface FlatTable {
  initial: string;
  states: string[];
  step(state: string, event: string): string;
}

export function compileFlat(machine: AnyStateMachine): FlatTable {
  const root = machine.root;
  const table = new Map<string, Map<string, string>>();
  for (const [key, node] of Object.entries(root.states)) {
    const row = new Map<string, string>();
    for (const [event, transitions] of node.transitions) {
      const target = transitions[0]?.target?.[0];
      if (target) row.set(event, target.key);
    }
    table.set(key, row);
  }
  const initial = (root.config.initial as string | undefined) ?? Object.keys(root.states)[0]!;
  return {
    initial,
    states: [...table.keys()],
    step(state, event) {
      const next = table.get(state)?.get(event);
      if (next === undefined) throw new Error(`${machine.id}: no transition for '${event}' in state '${state}'`);
      return next;
    },
  };
}
