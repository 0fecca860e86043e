// Pictures of the supervisor's XState machines, drawn from the machine definitions themselves
// (never by hand, so they cannot drift from the code): Mermaid, Graphviz DOT and a
// self-contained SVG laid out by our own code. Everything here is pure: machine in, text out.
//
// All three renderers work from one intermediate model, machineGraph(): the states (paths
// dot-joined from the root, the root itself being '') and the transitions, each with the
// label every format prints for it (transitionLabel()).
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

// ---------------------------------------------------------------------------------------------
// The model

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
      if (f.name === 'not') return `!${wrap(parts[0] ?? 'inline')}`;
      if (f.name === 'and') return parts.length ? parts.map(wrap).join(' && ') : undefined;
      if (f.name === 'or') return parts.map(wrap).join(' || ');
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
function detailLines(s: GraphState): string[] {
  const lines: string[] = [];
  if (s.entry.length) lines.push(`entry / ${s.entry.join(', ')}`);
  if (s.exit.length) lines.push(`exit / ${s.exit.join(', ')}`);
  if (s.invoke.length) lines.push(`invoke / ${s.invoke.join(', ')}`);
  return lines;
}

/** The first sentence of a description, cut to `max` characters. */
function shortText(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(flat)?.[1] ?? flat;
  return sentence.length <= max ? sentence : `${sentence.slice(0, max - 1).trimEnd()}…`;
}

function isAncestor(a: string, b: string): boolean {
  return a === '' ? b !== '' : b.startsWith(`${a}.`);
}

function childrenOf(g: MachineGraph): Map<string, GraphState[]> {
  const m = new Map<string, GraphState[]>();
  for (const s of g.states) {
    if (s.parent === undefined) continue;
    let list = m.get(s.parent);
    if (!list) m.set(s.parent, (list = []));
    list.push(s);
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// Mermaid

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

// ---------------------------------------------------------------------------------------------
// Graphviz DOT

function dotStr(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, ' ')}"`;
}

/** A DOT label of several centred lines. */
function dotLines(lines: string[]): string {
  return `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\s+/g, ' ')).join('\\n')}"`;
}

const KIND_COLOUR: Record<TransitionKind, string> = {
  event: '#333333',
  always: '#7b3fb5',
  after: '#1f6fb2',
  done: '#2e7d32',
  error: '#c62828',
};

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

// ---------------------------------------------------------------------------------------------
// SVG: our own layered layout
//
// Each compound state lays its children out in rows: row k holds the children k steps (BFS over
// the transitions between them, lifted to the level of those children) from the initial one;
// children it cannot reach go below. Rows are reordered a few times by the mean position of
// their neighbours to untangle edges. A parallel state puts its regions side by side. Edges are
// quadratic curves clipped at the boxes, bent to go around boxes in their way, with labels
// placed where they overlap the least.

const FONT = 'Helvetica, Arial, sans-serif';
const F_STATE = 13;
const F_SMALL = 10.5;
const F_EDGE = 11;
const F_TITLE = 16;
const PAD = 14;
const ROW_GAP = 64;
const COL_GAP = 40;
const INIT_ZONE = 30;
const LINE_H = 14;

function textWidth(s: string, size: number, bold = false): number {
  let w = 0;
  for (const ch of s) {
    if ('il.,:;!|\'`'.includes(ch)) w += 0.3;
    else if ('fjrt()[] /-'.includes(ch)) w += 0.4;
    else if ('mwMW@'.includes(ch)) w += 0.9;
    else if (ch >= 'A' && ch <= 'Z') w += 0.7;
    else w += 0.58;
  }
  return w * size * (bold ? 1.08 : 1);
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Pt {
  x: number;
  y: number;
}

interface LBox extends Rect {
  s: GraphState;
  label: string;
  labelW: number;
  lines: string[];
  desc?: string;
  headerH: number;
  children: LBox[];
  /** Width kept free on the right for self-loop labels. */
  reserve: number;
  depth: number;
  /** The initial-state dot, relative until placed. */
  init?: Pt;
  /** x positions of the dashed separators between parallel regions. */
  separators: number[];
}

function inside(p: Pt, r: Rect, inflate = 0): boolean {
  return p.x > r.x - inflate && p.x < r.x + r.w + inflate && p.y > r.y - inflate && p.y < r.y + r.h + inflate;
}

function overlap(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

function quad(p0: Pt, c: Pt, p2: Pt, t: number): Pt {
  const u = 1 - t;
  return { x: u * u * p0.x + 2 * u * t * c.x + t * t * p2.x, y: u * u * p0.y + 2 * u * t * c.y + t * t * p2.y };
}

interface Curve {
  p0: Pt;
  c: Pt;
  p2: Pt;
}

/** The part of a quadratic curve outside `from` (at its start) and `to` (at its end). */
function clipCurve(cv: Curve, from: Rect | undefined, to: Rect | undefined): Curve {
  const at = (t: number) => quad(cv.p0, cv.c, cv.p2, t);
  const N = 64;
  let t0 = 0;
  let t1 = 1;
  if (from) {
    let i = 0;
    while (i < N && inside(at(i / N), from)) i++;
    let lo = Math.max(0, (i - 1) / N);
    let hi = i / N;
    for (let k = 0; k < 12; k++) {
      const m = (lo + hi) / 2;
      if (inside(at(m), from)) lo = m;
      else hi = m;
    }
    t0 = hi;
  }
  if (to) {
    let i = N;
    while (i > 0 && inside(at(i / N), to)) i--;
    let lo = i / N;
    let hi = Math.min(1, (i + 1) / N);
    for (let k = 0; k < 12; k++) {
      const m = (lo + hi) / 2;
      if (inside(at(m), to)) hi = m;
      else lo = m;
    }
    t1 = lo;
  }
  if (t1 - t0 < 0.02) return cv;
  const u0 = 1 - t0;
  const u1 = 1 - t1;
  const c = {
    x: u0 * u1 * cv.p0.x + (u0 * t1 + t0 * u1) * cv.c.x + t0 * t1 * cv.p2.x,
    y: u0 * u1 * cv.p0.y + (u0 * t1 + t0 * u1) * cv.c.y + t0 * t1 * cv.p2.y,
  };
  return { p0: at(t0), c, p2: at(t1) };
}

interface SvgPart {
  body: string;
  width: number;
  height: number;
}

function layoutMachine(name: string, g: MachineGraph): SvgPart {
  const kids = childrenOf(g);
  const byPath = new Map(g.states.map((s) => [s.path, s]));
  const loopsOf = new Map<string, GraphTransition[]>();
  for (const t of g.transitions) {
    if (t.target !== null && t.target !== t.source) continue;
    let list = loopsOf.get(t.source);
    if (!list) loopsOf.set(t.source, (list = []));
    list.push(t);
  }

  // The child of `container` that holds `path` (itself if it is a child), if any.
  const liftTo = (container: string, path: string): string | undefined => {
    if (!isAncestor(container, path)) return undefined;
    let p = path;
    while (byPath.get(p)!.parent !== container) p = byPath.get(p)!.parent!;
    return p;
  };

  const measure = (s: GraphState, depth: number): LBox => {
    const isRoot = s.path === '';
    const label = isRoot ? name : stateLabel(s, name);
    const container = isRoot || s.type === 'compound' || s.type === 'parallel';
    const lines = detailLines(s);
    if (isRoot && g.id !== name) lines.unshift(`#${g.id}`);
    const desc = s.description ? shortText(s.description, 48) : undefined;
    const loops = loopsOf.get(s.path) ?? [];
    const reserve = loops.length ? Math.max(...loops.map((t) => textWidth(transitionLabel(t), F_EDGE))) + 44 : 0;
    const labelW = textWidth(label, isRoot ? F_TITLE : F_STATE, true) + (s.type === 'parallel' ? textWidth('parallel', F_SMALL) + 8 : 0);
    const detailW = Math.max(0, ...lines.map((l) => textWidth(l, F_SMALL)), desc ? textWidth(desc, F_SMALL) : 0);
    const box: LBox = {
      s, label, labelW, lines, x: 0, y: 0, w: 0, h: 0, headerH: 0, children: [], reserve, depth, separators: [],
    };
    if (desc !== undefined) box.desc = desc;
    const nLines = lines.length + (desc ? 1 : 0);
    if (s.type === 'history') {
      box.w = box.h = 28;
      return box;
    }
    if (!container) {
      box.w = Math.max(64, labelW, detailW) + 2 * PAD;
      box.h = 28 + nLines * LINE_H + (nLines ? 4 : 0);
      return box;
    }
    box.headerH = (isRoot ? 34 : 26) + nLines * LINE_H;
    const children = (kids.get(s.path) ?? []).map((c) => measure(c, depth + 1));
    box.children = children;
    let contentW = 0;
    let contentH = 0;
    if (s.type === 'parallel') {
      let x = 0;
      children.forEach((c, i) => {
        if (i > 0) {
          box.separators.push(x - COL_GAP / 2);
        }
        c.x = x;
        c.y = 0;
        x += c.w + c.reserve + COL_GAP;
        contentH = Math.max(contentH, c.h);
      });
      contentW = Math.max(0, x - COL_GAP);
    } else {
      // Rows by BFS from the initial child over the lifted edges between children.
      const index = new Map(children.map((c, i) => [c.s.path, i]));
      const succ = children.map(() => new Set<number>());
      const pred = children.map(() => new Set<number>());
      for (const t of g.transitions) {
        if (t.target === null) continue;
        const a = liftTo(s.path, t.source);
        const b = liftTo(s.path, t.target);
        if (a === undefined || b === undefined || a === b) continue;
        succ[index.get(a)!]!.add(index.get(b)!);
        pred[index.get(b)!]!.add(index.get(a)!);
      }
      const layer = children.map(() => -1);
      const bfs = (start: number, l: number) => {
        layer[start] = l;
        const queue = [start];
        while (queue.length) {
          const i = queue.shift()!;
          for (const j of succ[i]!) {
            if (layer[j] === -1) {
              layer[j] = layer[i]! + 1;
              queue.push(j);
            }
          }
        }
      };
      const initIdx = s.initial !== undefined ? index.get(s.initial) : undefined;
      if (initIdx !== undefined) bfs(initIdx, 0);
      for (;;) {
        const rest = layer.map((l, i) => (l === -1 ? i : -1)).filter((i) => i >= 0);
        if (!rest.length) break;
        const maxLayer = Math.max(-1, ...layer);
        const withPred = rest.find((i) => [...pred[i]!].some((p) => layer[p]! >= 0));
        if (withPred !== undefined) {
          bfs(withPred, Math.max(...[...pred[withPred]!].map((p) => layer[p]!)) + 1);
        } else {
          bfs(rest[0]!, initIdx === undefined && maxLayer === -1 ? 0 : maxLayer + 1);
        }
      }
      const nRows = children.length ? Math.max(...layer) + 1 : 0;
      const rows: number[][] = Array.from({ length: nRows }, () => []);
      children.forEach((_, i) => rows[layer[i]!]!.push(i));
      // Untangle: order each row by the mean position of its neighbours in the row above/below.
      const pos = new Map<number, number>();
      const setPos = () => rows.forEach((r) => r.forEach((i, k) => pos.set(i, k - (r.length - 1) / 2)));
      setPos();
      const sweep = (from: number, to: number, step: number) => {
        for (let r = from; r !== to; r += step) {
          const row = rows[r]!;
          const key = new Map<number, number>();
          row.forEach((i, k) => {
            const ns = [...succ[i]!, ...pred[i]!].filter((j) => layer[j] === r - step);
            key.set(i, ns.length ? ns.reduce((a, j) => a + pos.get(j)!, 0) / ns.length : k - (row.length - 1) / 2);
          });
          row.sort((a, b) => key.get(a)! - key.get(b)! || a - b);
          setPos();
        }
      };
      for (let pass = 0; pass < 2 && nRows > 1; pass++) {
        sweep(1, nRows, 1);
        sweep(nRows - 2, -1, -1);
      }
      // Neighbours in a row stand far enough apart for the labels of the edges between them.
      const pairLabel = new Map<string, number>();
      for (const t of g.transitions) {
        if (t.target === null) continue;
        const a = liftTo(s.path, t.source);
        const b = liftTo(s.path, t.target);
        if (a === undefined || b === undefined || a === b) continue;
        const k = [index.get(a)!, index.get(b)!].sort((x, y) => x - y).join(' ');
        pairLabel.set(k, Math.max(pairLabel.get(k) ?? 0, textWidth(transitionLabel(t), F_EDGE) + 28));
      }
      const gapAfter = (r: number[], k: number): number => {
        if (k + 1 >= r.length) return 0;
        const key = [r[k]!, r[k + 1]!].sort((x, y) => x - y).join(' ');
        return Math.max(COL_GAP, pairLabel.get(key) ?? 0);
      };
      const rowW = rows.map((r) => r.reduce((a, i, k) => a + children[i]!.w + children[i]!.reserve + gapAfter(r, k), 0));
      contentW = Math.max(0, ...rowW);
      let y = initIdx !== undefined ? INIT_ZONE : 0;
      rows.forEach((r, k) => {
        const rowH = Math.max(...r.map((i) => children[i]!.h));
        let x = (contentW - rowW[k]!) / 2;
        r.forEach((i, n) => {
          const c = children[i]!;
          c.x = x;
          c.y = y + (rowH - c.h) / 2;
          x += c.w + c.reserve + gapAfter(r, n);
        });
        y += rowH + ROW_GAP;
      });
      contentH = Math.max(0, y - ROW_GAP);
      if (initIdx !== undefined) {
        const c = children[initIdx]!;
        box.init = { x: c.x + c.w / 2, y: 6 };
      }
    }
    const headerW = Math.max(labelW, detailW) + 2 * PAD;
    box.w = Math.max(headerW, contentW + 2 * PAD, 80);
    box.h = box.headerH + contentH + PAD + (children.length ? 4 : 0);
    const dx = (box.w - contentW) / 2;
    const dy = box.headerH + 4;
    for (const c of children) {
      c.x += dx;
      c.y += dy;
    }
    if (box.init) box.init = { x: box.init.x + dx, y: box.init.y + dy };
    box.separators = box.separators.map((x) => x + dx);
    return box;
  };

  const root = measure(g.states[0]!, 0);
  const boxes = new Map<string, LBox>();
  const place = (b: LBox, ox: number, oy: number): void => {
    b.x += ox;
    b.y += oy;
    if (b.init) b.init = { x: b.init.x + b.x, y: b.init.y + b.y };
    b.separators = b.separators.map((x) => x + b.x);
    boxes.set(b.s.path, b);
    for (const c of b.children) place(c, b.x, b.y);
  };
  const M = 12;
  place(root, M, M);

  const parts: string[] = [];
  const labels: string[] = [];
  const taken: Rect[] = [];
  // Everything drawn, for the size of the picture (curves may bend out of the frame).
  let minX = root.x;
  let minY = root.y;
  let maxX = root.x + root.w;
  let maxY = root.y + root.h;
  const grow = (x: number, y: number): void => {
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
  };

  // Boxes, outermost first.
  const fills = ['#f6f8fc', '#ecf1f9', '#e2eaf6'];
  const drawBox = (b: LBox): void => {
    const s = b.s;
    const tip = [s.path === '' ? `${name} (#${g.id})` : s.path, s.description ?? ''].filter(Boolean).join('\n');
    // data-state: the state's dot path from the root (none on the root), the hook by which the
    // live inspector lights the current states (src/inspect/page/); other layouts keep it.
    const dataState = s.path === '' ? '' : ` data-state="${xml(s.path)}"`;
    parts.push(`<g class="state ${s.type}"${dataState}><title>${xml(tip)}</title>`);
    if (s.type === 'history') {
      parts.push(
        `<circle cx="${num(b.x + b.w / 2)}" cy="${num(b.y + b.h / 2)}" r="${num(b.w / 2)}" fill="#fff" stroke="#555"/>`,
        `<text x="${num(b.x + b.w / 2)}" y="${num(b.y + b.h / 2 + 4)}" text-anchor="middle" font-size="${F_SMALL}" font-weight="bold">${xml(b.label)}</text>`,
      );
    } else if (b.children.length || s.path === '' || s.type === 'compound' || s.type === 'parallel') {
      const isRoot = s.path === '';
      const fill = isRoot ? '#ffffff' : fills[(b.depth - 1) % fills.length]!;
      const dash = s.type === 'parallel' ? ' stroke-dasharray="6 4"' : '';
      parts.push(
        `<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}" rx="${isRoot ? 6 : 12}" fill="${fill}" stroke="${isRoot ? '#333' : '#6b7a90'}" stroke-width="${isRoot ? 1.5 : 1.2}"${dash}/>`,
      );
      const size = isRoot ? F_TITLE : F_STATE;
      const ty = b.y + (isRoot ? 22 : 18);
      const badge = s.type === 'parallel' ? `<tspan dx="8" font-size="${F_SMALL}" font-weight="normal" fill="#6b7a90">parallel</tspan>` : '';
      parts.push(`<text x="${num(b.x + PAD)}" y="${num(ty)}" font-size="${size}" font-weight="bold" fill="#1d2733">${xml(b.label)}${badge}</text>`);
      let ly = ty + LINE_H + 1;
      for (const l of b.lines) {
        parts.push(`<text x="${num(b.x + PAD)}" y="${num(ly)}" font-size="${F_SMALL}" fill="#4a5568">${xml(l)}</text>`);
        ly += LINE_H;
      }
      if (b.desc) parts.push(`<text x="${num(b.x + PAD)}" y="${num(ly)}" font-size="${F_SMALL}" font-style="italic" fill="#6b7a90">${xml(b.desc)}</text>`);
      if (!isRoot) {
        parts.push(`<line x1="${num(b.x + 6)}" y1="${num(b.y + b.headerH)}" x2="${num(b.x + b.w - 6)}" y2="${num(b.y + b.headerH)}" stroke="#c5cfdc"/>`);
      }
      for (const x of b.separators) {
        parts.push(`<line x1="${num(x)}" y1="${num(b.y + b.headerH + 6)}" x2="${num(x)}" y2="${num(b.y + b.h - 6)}" stroke="#8a97aa" stroke-dasharray="5 4"/>`);
      }
      taken.push({ x: b.x, y: b.y, w: Math.min(b.w, b.labelW + 2 * PAD), h: b.headerH });
    } else {
      const final = s.type === 'final';
      parts.push(
        `<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}" rx="9" fill="#ffffff" stroke="#3d4a5c" stroke-width="${final ? 1.2 : 1.3}"/>`,
      );
      if (final) {
        parts.push(`<rect x="${num(b.x + 3)}" y="${num(b.y + 3)}" width="${num(b.w - 6)}" height="${num(b.h - 6)}" rx="7" fill="none" stroke="#3d4a5c"/>`);
      }
      const cx = b.x + b.w / 2;
      parts.push(`<text x="${num(cx)}" y="${num(b.y + 18.5)}" text-anchor="middle" font-size="${F_STATE}" font-weight="bold" fill="#1d2733">${xml(b.label)}</text>`);
      let ly = b.y + 18.5 + LINE_H + 1;
      for (const l of b.lines) {
        parts.push(`<text x="${num(cx)}" y="${num(ly)}" text-anchor="middle" font-size="${F_SMALL}" fill="#4a5568">${xml(l)}</text>`);
        ly += LINE_H;
      }
      if (b.desc) parts.push(`<text x="${num(cx)}" y="${num(ly)}" text-anchor="middle" font-size="${F_SMALL}" font-style="italic" fill="#6b7a90">${xml(b.desc)}</text>`);
      taken.push(b);
    }
    parts.push('</g>');
    if (b.init) {
      const first = boxes.get(b.s.initial!)!;
      parts.push(
        `<circle cx="${num(b.init.x)}" cy="${num(b.init.y)}" r="5" fill="#1d2733"/>`,
        `<line x1="${num(b.init.x)}" y1="${num(b.init.y + 5)}" x2="${num(b.init.x)}" y2="${num(first.y - 1)}" stroke="#1d2733" stroke-width="1.3" marker-end="url(#arrow-event)"/>`,
      );
    }
    for (const c of b.children) drawBox(c);
  };
  drawBox(root);

  const centre = (b: Rect): Pt => ({ x: b.x + b.w / 2, y: b.y + b.h / 2 });
  // Where an edge leaves or enters a container from inside it: just right of its title.
  const headerAnchor = (b: LBox): Pt => ({ x: Math.min(b.x + PAD + b.labelW + 16, b.x + b.w - 10), y: b.y + Math.min(b.headerH, 28) / 2 + 2 });

  const drawLabel = (r: Rect, text: string, colour: string): void => {
    taken.push(r);
    grow(r.x, r.y);
    grow(r.x + r.w, r.y + r.h);
    labels.push(
      `<rect x="${num(r.x)}" y="${num(r.y)}" width="${num(r.w)}" height="${num(r.h)}" rx="3" fill="#ffffff" fill-opacity="0.9"/>`,
      `<text x="${num(r.x + r.w / 2)}" y="${num(r.y + 11)}" text-anchor="middle" font-size="${F_EDGE}" fill="${colour}">${xml(text)}</text>`,
    );
  };
  // A label at the first candidate point where it overlaps nothing, else where it overlaps least.
  const placeLabel = (text: string, candidates: Pt[], colour: string, anchor: 'middle' | 'start'): void => {
    const w = textWidth(text, F_EDGE) + 8;
    const h = 15;
    let best: Rect | undefined;
    let bestCost = Infinity;
    for (const [i, p] of candidates.entries()) {
      const r = { x: anchor === 'middle' ? p.x - w / 2 : p.x, y: p.y - h / 2, w, h };
      const cost = taken.reduce((a, o) => a + overlap(r, o), 0) + i * 0.5;
      if (cost < bestCost) {
        best = r;
        bestCost = cost;
      }
      if (cost < 1) break;
    }
    drawLabel(best!, text, colour);
  };

  // Self-loops on the right side of their state, stacked.
  const loopCount = new Map<string, number>();
  const pairCount = new Map<string, number>();
  const pairIndex = new Map<string, number>();
  const pairKey = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
  for (const t of g.transitions) {
    if (t.target === null || t.target === t.source) continue;
    const k = pairKey(t.source, t.target);
    pairCount.set(k, (pairCount.get(k) ?? 0) + 1);
  }
  const allBoxes = [...boxes.values()];

  for (const t of g.transitions) {
    const colour = KIND_COLOUR[t.kind];
    const dash = t.target === null || t.kind === 'always' ? ' stroke-dasharray="5 3"' : '';
    const label = transitionLabel(t);
    const s = boxes.get(t.source)!;
    if (t.target === null || t.target === t.source) {
      const k = loopCount.get(t.source) ?? 0;
      loopCount.set(t.source, k + 1);
      const container = s.s.path === '' || s.s.type === 'compound' || s.s.type === 'parallel';
      const R = s.x + s.w;
      const y = (container ? s.y + Math.min(s.headerH, 28) / 2 : s.y + s.h / 2) + k * 22 - (container ? 0 : ((loopsOf.get(t.source)!.length - 1) * 22) / 2);
      parts.push(
        `<path d="M${num(R)},${num(y - 5)} C${num(R + 30)},${num(y - 20)} ${num(R + 30)},${num(y + 20)} ${num(R + 1)},${num(y + 5)}" fill="none" stroke="${colour}" stroke-width="1.2"${dash} marker-end="url(#arrow-${t.kind})"/>`,
      );
      grow(R + 32, y - 20);
      grow(R + 32, y + 20);
      placeLabel(label, [{ x: R + 28, y }, { x: R + 28, y: y + 16 }, { x: R + 28, y: y - 16 }], colour, 'start');
      continue;
    }
    const target = t.target;
    const d = boxes.get(target)!;
    if (isAncestor(t.source, target)) {
      // From an enclosing state (the machine itself: "from any state"): a short arrow into the
      // target, starting at its label, on the side where it is least in the way.
      const obstacles = allBoxes.filter((b) => b !== d && !isAncestor(b.s.path, target));
      const w = textWidth(label, F_EDGE) + 8;
      const h = 15;
      const c = centre(d);
      let bestStub: { a: Pt; e: Pt; r: Rect } | undefined;
      let bestCost = Infinity;
      const dirs: Pt[] = [
        { x: -0.6, y: -0.8 }, { x: 0.6, y: -0.8 }, { x: -1, y: 0 }, { x: 1, y: 0 }, { x: -0.6, y: 0.8 }, { x: 0.6, y: 0.8 },
      ];
      for (const [i, dir] of dirs.entries()) {
        const far = { x: c.x + dir.x * 4000, y: c.y + dir.y * 4000 };
        const e = clipCurve({ p0: c, c: { x: (c.x + far.x) / 2, y: (c.y + far.y) / 2 }, p2: far }, d, undefined).p0;
        const a = { x: e.x + dir.x * 46, y: e.y + dir.y * 46 };
        const r = { x: a.x + dir.x * (w / 2 + 4) - w / 2, y: a.y + dir.y * (h / 2 + 4) - h / 2, w, h };
        let hits = 0;
        for (let k = 0; k <= 8; k++) {
          const p = { x: e.x + ((a.x - e.x) * k) / 8, y: e.y + ((a.y - e.y) * k) / 8 };
          for (const o of obstacles) if (inside(p, o, 2)) hits++;
        }
        const cost = hits * 500 + taken.reduce((acc, o) => acc + overlap(r, o), 0) + obstacles.reduce((acc, o) => acc + overlap(r, o), 0) + i;
        if (cost < bestCost) {
          bestCost = cost;
          bestStub = { a, e, r };
        }
      }
      const { a, e, r } = bestStub!;
      grow(a.x, a.y);
      const from = t.source === '' ? 'any state' : `any state of ${t.source}`;
      parts.push(
        `<g><title>${xml(`${label}: from ${from}`)}</title>`,
        `<circle cx="${num(a.x)}" cy="${num(a.y)}" r="2.5" fill="#ffffff" stroke="${colour}"/>`,
        `<line x1="${num(a.x)}" y1="${num(a.y)}" x2="${num(e.x)}" y2="${num(e.y)}" stroke="${colour}" stroke-width="1.2"${dash} marker-end="url(#arrow-${t.kind})"/>`,
        '</g>',
      );
      drawLabel(r, label, colour);
      continue;
    }
    const dIsAnc = isAncestor(target, t.source);
    const fromRect = s;
    const toRect = dIsAnc ? undefined : d;
    // Several edges between the same two states fan out; each then bends around boxes in its way.
    const key = pairKey(t.source, target);
    const n = pairCount.get(key)!;
    const idx = pairIndex.get(key) ?? 0;
    pairIndex.set(key, idx + 1);
    const c0 = centre(s);
    const c2 = dIsAnc ? headerAnchor(d) : centre(d);
    const dx = c2.x - c0.x;
    const dy = c2.y - c0.y;
    const len = Math.hypot(dx, dy) || 1;
    // The normal of the pair's direction taken one fixed way round, so both directions share it.
    const sign = t.source < target ? 1 : -1;
    const nx = (-dy / len) * sign;
    const ny = (dx / len) * sign;
    const slot = idx - (n - 1) / 2;
    const base = slot * 30;
    const p0 = { x: c0.x + nx * slot * 9, y: c0.y + ny * slot * 9 };
    const p2 = dIsAnc ? c2 : { x: c2.x + nx * slot * 9, y: c2.y + ny * slot * 9 };
    const obstacles = allBoxes.filter(
      (b) => b !== s && b !== d && !isAncestor(b.s.path, t.source) && !isAncestor(b.s.path, target) && !isAncestor(t.source, b.s.path),
    );
    let best: Curve | undefined;
    let bestCost = Infinity;
    for (const off of [0, 30, -30, 60, -60, 95, -95, 130, -130, 180, -180, 240, -240]) {
      const bend = base + off;
      const c = { x: (p0.x + p2.x) / 2 + nx * bend * 2, y: (p0.y + p2.y) / 2 + ny * bend * 2 };
      const cv = clipCurve({ p0, c, p2 }, fromRect, toRect);
      let hits = 0;
      for (let i = 1; i < 24; i++) {
        const p = quad(cv.p0, cv.c, cv.p2, i / 24);
        for (const o of obstacles) if (inside(p, o, 3)) hits++;
      }
      const cost = hits * 1000 + Math.abs(off);
      if (cost < bestCost) {
        best = cv;
        bestCost = cost;
      }
      if (hits === 0) break;
    }
    const cv = best!;
    for (let i = 0; i <= 16; i++) {
      const p = quad(cv.p0, cv.c, cv.p2, i / 16);
      grow(p.x, p.y);
    }
    parts.push(
      `<path d="M${num(cv.p0.x)},${num(cv.p0.y)} Q${num(cv.c.x)},${num(cv.c.y)} ${num(cv.p2.x)},${num(cv.p2.y)}" fill="none" stroke="${colour}" stroke-width="1.2"${dash} marker-end="url(#arrow-${t.kind})"/>`,
    );
    placeLabel(label, [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8].map((x) => quad(cv.p0, cv.c, cv.p2, x)), colour, 'middle');
  }

  const dx = M - minX;
  const dy = M - minY;
  const body = [...parts, ...labels].join('\n');
  return {
    body: dx || dy ? `<g transform="translate(${num(dx)},${num(dy)})">\n${body}\n</g>` : body,
    width: Math.ceil(maxX - minX + 2 * M),
    height: Math.ceil(maxY - minY + 2 * M),
  };
}

function svgDocument(parts: SvgPart[], gap: number): string {
  const width = Math.max(100, ...parts.map((p) => p.width));
  const height = parts.reduce((a, p) => a + p.height, 0) + gap * Math.max(0, parts.length - 1);
  const markers = (Object.keys(KIND_COLOUR) as TransitionKind[])
    .map(
      (k) =>
        `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="${KIND_COLOUR[k]}"/></marker>`,
    )
    .join('\n');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
    `<defs>\n${markers}\n</defs>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  let y = 0;
  for (const p of parts) {
    out.push(`<g transform="translate(0,${y})">`, p.body, '</g>');
    y += p.height + gap;
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** A self-contained SVG of one machine, laid out by our own code (no Graphviz, no dependency). */
export function toSvg(name: string, machine: AnyStateMachine): string {
  return svgDocument([layoutMachine(name, machineGraph(machine))], 0);
}

/** Several machines stacked top to bottom in one SVG, each framed with its name as title. */
export function toSvgAll(machines: Record<string, AnyStateMachine>): string {
  return svgDocument(
    Object.entries(machines).map(([name, m]) => layoutMachine(name, machineGraph(m))),
    24,
  );
}
