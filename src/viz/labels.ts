// What every picture prints for a state or a transition (Mermaid, DOT and SVG alike), and the
// colour of each kind of transition, so the formats agree.
import type { GraphState, GraphTransition, TransitionKind } from './model.js';

/** The label every format prints on a transition: the event, then `[guard]` when guarded. */
export function transitionLabel(t: GraphTransition): string {
  return t.guard ? `${t.event} [${t.guard}]` : t.event;
}

/** The label of a state: its key; `H` / `H*` for history states; the machine's name for the root. */
export function stateLabel(s: GraphState, machineName: string): string {
  if (s.path === '') return machineName;
  if (s.type === 'history') return s.history === 'deep' ? 'H*' : 'H';
  return s.key;
}

/** Small lines shown under a state's name: entry/exit actions and invoked actors. */
export function detailLines(s: GraphState): string[] {
  const lines: string[] = [];
  if (s.entry.length) lines.push(`entry / ${s.entry.join(', ')}`);
  if (s.exit.length) lines.push(`exit / ${s.exit.join(', ')}`);
  if (s.invoke.length) lines.push(`invoke / ${s.invoke.join(', ')}`);
  return lines;
}

/** The first sentence of a description, cut to `max` characters. */
export function shortText(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(flat)?.[1] ?? flat;
  return sentence.length <= max ? sentence : `${sentence.slice(0, max - 1).trimEnd()}…`;
}

/** The colour of a transition's arrow and label, by kind (plain events are near black). */
export const KIND_COLOUR: Record<TransitionKind, string> = {
  event: '#333333',
  always: '#7b3fb5',
  after: '#1f6fb2',
  done: '#2e7d32',
  error: '#c62828',
};
