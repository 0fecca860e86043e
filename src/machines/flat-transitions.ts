// A transition table compiled from a flat machine definition, for code paths too hot for an
// actor: step(state, event) is a Map lookup plus the guards of that event's candidates (in
// definition order, as XState picks them), and an event the machine does not accept in that
// state throws (a bug, never silently ignored).
import type { AnyStateMachine } from 'xstate';

interface Candidate {
  guard?: string;
  target: string;
}

export interface FlatTable {
  initial: string;
  states: string[];
  /** `guards` implements the machine's named guards (evaluated without context or event). */
  step(state: string, event: string, guards?: Record<string, () => boolean>): string;
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  const type = (guard as { type?: unknown }).type;
  if (typeof type === 'string') return type;
  throw new Error('compileFlat: only named guards are supported');
}

export function compileFlat(machine: AnyStateMachine): FlatTable {
  const root = machine.root;
  const table = new Map<string, Map<string, Candidate[]>>();
  for (const [key, node] of Object.entries(root.states)) {
    if (Object.keys(node.states).length > 0) throw new Error(`compileFlat: ${machine.id}.${key} is not flat`);
    const row = new Map<string, Candidate[]>();
    for (const [event, transitions] of node.transitions) {
      const candidates: Candidate[] = [];
      for (const t of transitions) {
        const target = t.target?.[0];
        if (target) candidates.push({ guard: guardName(t.guard), target: target.key });
      }
      row.set(event, candidates);
    }
    table.set(key, row);
  }
  const initial = (root.config.initial as string | undefined) ?? Object.keys(root.states)[0]!;
  return {
    initial,
    states: [...table.keys()],
    step(state, event, guards = {}) {
      for (const c of table.get(state)?.get(event) ?? []) {
        if (c.guard === undefined) return c.target;
        const g = guards[c.guard];
        if (!g) throw new Error(`${machine.id}: guard '${c.guard}' not provided`);
        if (g()) return c.target;
      }
      throw new Error(`${machine.id}: no transition for '${event}' in state '${state}'`);
    },
  };
}
