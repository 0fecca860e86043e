// Mermaid `stateDiagram-v2` of a machine, from the model (model.ts).
import type { AnyStateMachine } from 'xstate';
import { detailLines, shortText, stateLabel, transitionLabel } from './labels.js';
import { childrenOf, machineGraph, type GraphState, type GraphTransition, type MachineGraph } from './model.js';


/**
 * Text safe anywhere in a Mermaid state diagram (state names, edge labels, notes). Mermaid's
 * state grammar ends a label at ':' or ';', and its entity codes (`#58;`) are not decoded in
 * state-diagram labels by every version, so ':' becomes U+2236 RATIO (drawn like a colon), ';'
 * a comma, '"' an apostrophe, and '<' '>' (which Mermaid's sanitiser takes for HTML) '‹' '›'.
 */
export function mermaidText(s: string): string {
  return s
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/:/g, '\u2236')
    .replace(/;/g, ',')
    .replace(/"/g, "'")
    .replace(/</g, '\u2039')
    .replace(/>/g, '\u203a');
}

/** Mermaid ids: `s_` + the path with '.' as '__' and anything else unsafe as '_'; unique. */
function mermaidIds(g: MachineGraph): Map<string, string> {
  const ids = new Map<string, string>();
  const used = new Set<string>(['ANY', 'ROOT']);
  for (const s of g.states) {
    if (s.path === '') continue;
    const base = `s_${s.path.split('.').map((k) => k.replace(/[^A-Za-z0-9_]/g, '_')).join('__')}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    ids.set(s.path, id);
  }
  return ids;
}

/**
 * A Mermaid `stateDiagram-v2`: composite states nested, `[*] -->` initial arrows, `--> [*]` for
 * final states, every transition labelled, descriptions as notes. Transitions of the machine
 * itself (root-level `on`, `after`, ...) start from a pseudo-state "any state"; a parallel root
 * becomes one composite state named after the machine.
 */
export function toMermaid(name: string, machine: AnyStateMachine): string {
  const g = machineGraph(machine);
  const ids = mermaidIds(g);
  const kids = childrenOf(g);
  const byPath = new Map(g.states.map((s) => [s.path, s]));
  const root = g.states[0]!;
  const rootOwn = g.transitions.some((t) => t.source === '' || t.target === '');
  const rootId = root.type === 'parallel' ? 'ROOT' : 'ANY';
  if (rootOwn || root.type === 'parallel') ids.set('', rootId);
  const idOf = (p: string) => ids.get(p)!;

  // Where each transition is written: inside the block of a compound parent when both ends are
  // its direct children (or it loops on one of them), else at the top level. Writing an edge in
  // a block would move a state declared elsewhere into that block.
  const home = (t: GraphTransition): string => {
    if (t.source === '' || t.target === '') return '';
    const sp = byPath.get(t.source)!.parent!;
    const tp = t.target === null ? sp : byPath.get(t.target)!.parent!;
    if (sp !== tp) return '';
    return byPath.get(sp)!.type === 'compound' ? sp : '';
  };
  const edgesIn = new Map<string, GraphTransition[]>();
  for (const t of g.transitions) {
    const h = home(t);
    let list = edgesIn.get(h);
    if (!list) edgesIn.set(h, (list = []));
    list.push(t);
  }
  const edgeLine = (t: GraphTransition) =>
    `${idOf(t.source)} --> ${idOf(t.target ?? t.source)} : ${mermaidText(transitionLabel(t))}`;

  const out: string[] = [];
  const title = /^[\w .-]+$/.test(name) ? name : JSON.stringify(name);
  out.push('---', `title: ${title}`, '---', 'stateDiagram-v2');
  if (root.description) out.push(`  %% ${root.description.replace(/\s+/g, ' ').trim()}`);

  // Declarations, initial/final arrows, notes and local edges of the children of `parent`.
  const block = (parent: GraphState, indent: string): void => {
    const list = kids.get(parent.path) ?? [];
    if (parent.type === 'compound' && parent.initial !== undefined) out.push(`${indent}[*] --> ${idOf(parent.initial)}`);
    list.forEach((c, i) => {
      if (parent.type === 'parallel' && i > 0) out.push(`${indent}--`);
      const label = mermaidText(stateLabel(c, name));
      if (c.type === 'compound' || c.type === 'parallel') {
        // No space before '{': Mermaid would keep it in the id.
        out.push(`${indent}state "${label}" as ${idOf(c.path)}{`);
        block(c, `${indent}  `);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}state "${label}" as ${idOf(c.path)}`);
      }
      const composite = c.type === 'compound' || c.type === 'parallel';
      if (!composite) for (const line of detailLines(c)) out.push(`${indent}${idOf(c.path)} : ${mermaidText(line)}`);
      const note = [c.description ? shortText(c.description, 60) : '', ...(composite ? detailLines(c) : [])].filter(Boolean);
      if (note.length) out.push(`${indent}note right of ${idOf(c.path)} : ${mermaidText(note.join(' — '))}`);
      if (c.type === 'final' && parent.type === 'compound') out.push(`${indent}${idOf(c.path)} --> [*]`);
    });
    if (parent.path !== '') for (const t of edgesIn.get(parent.path) ?? []) out.push(`${indent}${edgeLine(t)}`);
  };

  if (root.type === 'parallel') {
    out.push(`  state "${mermaidText(name)}" as ROOT{`);
    block(root, '    ');
    out.push('  }');
  } else {
    if (rootOwn) out.push('  state "any state" as ANY');
    block(root, '  ');
  }
  for (const t of edgesIn.get('') ?? []) out.push(`  ${edgeLine(t)}`);
  return `${out.join('\n')}\n`;
}
