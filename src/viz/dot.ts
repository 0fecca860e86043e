// Graphviz DOT of a machine, from the model (model.ts).
import type { AnyStateMachine } from 'xstate';
import { detailLines, KIND_COLOUR, shortText, stateLabel, transitionLabel } from './labels.js';
import { childrenOf, isAncestor, machineGraph, type GraphState } from './model.js';

function dotStr(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')}"`;
}

/** A DOT label of several centred lines. */
function dotLines(lines: string[]): string {
  return `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\s+/g, ' ')).join('\\n')}"`;
}

/**
 * A Graphviz digraph. Every state is a node named by its path; a compound or parallel state is a
 * cluster `cluster_<path>` holding an invisible anchor node named by its path, and edges to or
 * from it are clipped at the cluster (`lhead`/`ltail`). Root-level transitions start from a node
 * "any state" (named `#any`).
 */
export function toDot(name: string, machine: AnyStateMachine): string {
  const g = machineGraph(machine);
  const kids = childrenOf(g);
  const byPath = new Map(g.states.map((s) => [s.path, s]));
  const root = g.states[0]!;
  const isCluster = (p: string) => p !== '' && ['compound', 'parallel'].includes(byPath.get(p)!.type);
  const nodeId = (p: string) => (p === '' ? '#any' : p);
  const initId = (p: string) => (p === '' ? '[*]' : `${p}/[*]`);

  const out: string[] = [];
  const title = root.type === 'parallel' ? `${name} (parallel)` : name;
  out.push(`digraph ${dotStr(name)} {`);
  out.push(`  graph [compound=true, rankdir=TB, fontname="Helvetica", fontsize=16, labelloc=t, label=${dotStr(title)}];`);
  out.push('  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=12];');
  out.push('  edge [fontname="Helvetica", fontsize=10];');
  if (g.transitions.some((t) => t.source === '' || t.target === '')) {
    out.push(`  ${dotStr('#any')} [label="any state", style="rounded,dashed"];`);
  }
  let depth = 0;
  const block = (parent: GraphState, indent: string): void => {
    if (parent.type === 'compound' && parent.initial !== undefined) {
      out.push(`${indent}${dotStr(initId(parent.path))} [shape=point, width=0.12, label=""];`);
      out.push(`${indent}${dotStr(initId(parent.path))} -> ${dotStr(parent.initial)};`);
    }
    for (const c of kids.get(parent.path) ?? []) {
      const lines = [stateLabel(c, name), ...detailLines(c)];
      const tooltip = c.description ? `, tooltip=${dotStr(c.description)}` : '';
      if (c.type === 'compound' || c.type === 'parallel') {
        depth++;
        const fill = ['#f4f7fb', '#e9eff8', '#dfe8f5'][(depth - 1) % 3]!;
        out.push(`${indent}subgraph ${dotStr(`cluster_${c.path}`)} {`);
        const style = c.type === 'parallel' ? 'rounded,dashed,filled' : 'rounded,filled';
        const label = c.type === 'parallel' ? [`${lines[0]} (parallel)`, ...lines.slice(1)] : lines;
        if (c.description) label.push(shortText(c.description, 60));
        out.push(`${indent}  graph [label=${dotLines(label)}, style=${dotStr(style)}, fillcolor=${dotStr(fill)}${tooltip}];`);
        out.push(`${indent}  ${dotStr(c.path)} [shape=point, style=invis, width=0.01, height=0.01, label=""];`);
        block(c, `${indent}  `);
        out.push(`${indent}}`);
        depth--;
      } else if (c.type === 'history') {
        out.push(`${indent}${dotStr(c.path)} [shape=circle, label=${dotStr(stateLabel(c, name))}, width=0.3, fixedsize=true];`);
      } else {
        if (c.description) lines.push(shortText(c.description, 60));
        const extra = c.type === 'final' ? ', peripheries=2' : '';
        out.push(`${indent}${dotStr(c.path)} [label=${dotLines(lines)}${extra}${tooltip}];`);
      }
    }
  };
  block(root, '  ');
  for (const t of g.transitions) {
    const target = t.target ?? t.source;
    const attrs = [`label=${dotStr(transitionLabel(t))}`];
    if (t.kind !== 'event') attrs.push(`color=${dotStr(KIND_COLOUR[t.kind])}`, `fontcolor=${dotStr(KIND_COLOUR[t.kind])}`);
    if (t.target === null || t.kind === 'always') attrs.push('style=dashed');
    if (target !== t.source) {
      if (isCluster(t.source) && !isAncestor(t.source, target)) attrs.push(`ltail=${dotStr(`cluster_${t.source}`)}`);
      if (isCluster(target) && !isAncestor(target, t.source)) attrs.push(`lhead=${dotStr(`cluster_${target}`)}`);
    }
    out.push(`  ${dotStr(nodeId(t.source))} -> ${dotStr(nodeId(target))} [${attrs.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
