// The geometry of a machine's SVG picture, laid out by ELK (elkjs, the Eclipse Layout Kernel's
// layered algorithm): each state is a box sized for its text; a compound or parallel state is a
// nested graph whose box holds its children below its header; every transition is an edge routed
// by ELK with its label placed by ELK beside it, so no label is drawn over a box or another label.
// Three kinds of helper node are added: the initial dot of a compound state (with an arrow to
// its initial child), and "any state" inside a compound state for the transitions it listens to
// for all its children that go to one of them or nowhere (the machine's own `on`, say).
// All coordinates come back absolute (from the picture's top left corner).
import type { ElkExtendedEdge, ElkLabel, ElkNode, LayoutOptions } from 'elkjs/lib/elk-api.js';
import { detailLines, stateLabel, transitionLabel } from './labels.js';
import { childrenOf, isAncestor, type GraphState, type GraphTransition, type MachineGraph } from './model.js';
import { F_EDGE, F_SMALL, F_STATE, F_TITLE, LINE_H, textWidth, wrapSentence } from './svg-text.js';

export interface Pt {
  x: number;
  y: number;
}

export interface Rect extends Pt {
  w: number;
  h: number;
}

/** A state's box and the text drawn in it. */
export interface StateBox extends Rect {
  state: GraphState;
  /** 'container': the root, compound and parallel states (text in a header, children below). */
  shape: 'container' | 'leaf' | 'history';
  label: string;
  /** entry / exit / invoke lines. */
  lines: string[];
  /** The description's first sentence, wrapped. */
  desc: string[];
  /** Nesting depth: 0 for the machine itself. */
  depth: number;
  /** Height of a container's header (its text). */
  headerH: number;
}

/** A helper node: the initial dot of a compound state, or its "any state". */
export interface PseudoBox extends Rect {
  shape: 'initial' | 'any';
  /** Path of the state it belongs to. */
  of: string;
}

export interface EdgeRoute {
  /** The transition drawn; absent for the arrow from an initial dot. */
  transition?: GraphTransition;
  /** Start, bend points, end (orthogonal segments). */
  points: Pt[];
  label?: Rect & { text: string };
}

export interface MachineLayout {
  width: number;
  height: number;
  /** Every state, in the model's (document) order: containers before their children. */
  states: StateBox[];
  pseudo: PseudoBox[];
  edges: EdgeRoute[];
}

export const PAD = 14;
const DESC_CHARS = 44;
const DESC_LINES = 2;
const LABEL_H = 15;

/** The layout options given to every graph (the machine and each container in it). */
const GRAPH_OPTIONS: LayoutOptions = {
  'elk.spacing.nodeNode': '26',
  'elk.layered.spacing.nodeNodeBetweenLayers': '30',
  'elk.spacing.edgeNode': '14',
  'elk.spacing.edgeEdge': '10',
  'elk.layered.spacing.edgeNodeBetweenLayers': '12',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '8',
  'elk.spacing.edgeLabel': '3',
  'elk.spacing.labelNode': '6',
  // Layers by a depth-first walk from the initial dot: the states come in the order the machine
  // goes through them (the greedy default put a container's last state above its initial one).
  'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
  // Long edges kept straight and the picture narrow (network simplex made it 25% wider, Brandes-
  // Köpf twice as wide, on the monitor).
  'elk.layered.nodePlacement.strategy': 'LINEAR_SEGMENTS',
};

/** The options of the whole layout, set on the machine's graph. */
const ROOT_OPTIONS: LayoutOptions = {
  ...GRAPH_OPTIONS,
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  // One layout for the whole hierarchy: edges between states of different containers are routed
  // with everything else instead of being cut at each container's border.
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.edgeLabels.placement': 'CENTER',
  // States in the order they are written, where the crossings allow it: the picture reads like
  // the machine's source.
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
};

type Elk = { layout(graph: ElkNode): Promise<ElkNode> };
let elk: Promise<Elk> | undefined;

/** ELK, loaded on first use (1.6 MB of JavaScript that only the SVG needs), without a worker. */
function loadElk(): Promise<Elk> {
  elk ??= import('elkjs/lib/elk.bundled.js').then((m) => {
    const ELK = m.default as unknown as new () => Elk;
    return new ELK();
  });
  return elk;
}

function isContainer(s: GraphState): boolean {
  return s.path === '' || s.type === 'compound' || s.type === 'parallel';
}

/** The text of a state's box and the box's size (a container's is the minimum: ELK grows it). */
function measure(s: GraphState, name: string, machineId: string, depth: number): StateBox {
  const isRoot = s.path === '';
  const label = isRoot ? name : stateLabel(s, name);
  const lines = detailLines(s);
  if (isRoot && machineId !== name) lines.unshift(`#${machineId}`);
  const desc = s.description ? wrapSentence(s.description, DESC_CHARS, DESC_LINES) : [];
  const shape = isContainer(s) ? 'container' : s.type === 'history' ? 'history' : 'leaf';
  const badge = s.type === 'parallel' ? textWidth('parallel', F_SMALL) + 8 : 0;
  const labelW = textWidth(label, isRoot ? F_TITLE : F_STATE, true) + badge;
  const textW = Math.max(labelW, ...[...lines, ...desc].map((l) => textWidth(l, F_SMALL)));
  const nLines = lines.length + desc.length;
  const box: StateBox = { state: s, shape, label, lines, desc, depth, x: 0, y: 0, w: 0, h: 0, headerH: 0 };
  if (shape === 'history') {
    box.w = box.h = 28;
  } else if (shape === 'leaf') {
    box.w = Math.max(64, textW) + 2 * PAD;
    box.h = 28 + nLines * LINE_H + (nLines ? 4 : 0);
  } else {
    box.headerH = (isRoot ? 34 : 26) + nLines * LINE_H;
    box.w = textW + 2 * PAD;
    box.h = box.headerH + PAD;
  }
  return box;
}

/** Where a transition's arrow starts and ends, as ELK node ids. */
function endpoints(t: GraphTransition, ids: Map<string, string>, byPath: Map<string, GraphState>): [string, string] {
  const from = byPath.get(t.source)!;
  const target = t.target ?? t.source;
  // A container listening for its children: from its "any state" to a child or back to itself.
  const source = isContainer(from) && (target === t.source || isAncestor(t.source, target)) ? `a:${ids.get(t.source)!}` : ids.get(t.source)!;
  // Into the machine itself (ELK draws no edge to the picture's frame): to its initial dot, where
  // a machine starts.
  if (target === '') return [source, `i:${ids.get('')!}`];
  return [source, target === t.source && source.startsWith('a:') ? source : ids.get(target)!];
}

function edgeLabel(text: string): ElkLabel {
  return { text, width: textWidth(text, F_EDGE) + 8, height: LABEL_H };
}

/** The deepest state enclosing both `a` and `b` (or equal to one of them). */
function commonContainer(a: string, b: string, byPath: Map<string, GraphState>): string {
  let c = a;
  while (c !== b && !isAncestor(c, b)) c = byPath.get(c)!.parent!;
  return c;
}

/** Lays out one machine's picture. */
export async function layoutMachine(name: string, g: MachineGraph): Promise<MachineLayout> {
  const kids = childrenOf(g);
  const byPath = new Map(g.states.map((s) => [s.path, s]));
  const ids = new Map(g.states.map((s, i) => [s.path, `s${i}`]));
  const boxes = new Map<string, StateBox>();
  const nodes = new Map<string, ElkNode>();
  // The container each ELK node sits in, by node id.
  const home = new Map<string, string>();
  const ends = g.transitions.flatMap((t) => endpoints(t, ids, byPath));
  const needed = (id: string) => ends.includes(id);

  const build = (s: GraphState, depth: number): ElkNode => {
    const box = measure(s, name, g.id, depth);
    boxes.set(s.path, box);
    const id = ids.get(s.path)!;
    const node: ElkNode = { id, width: box.w, height: box.h };
    nodes.set(id, node);
    if (box.shape !== 'container') return node;
    node.layoutOptions = {
      ...(s.path === '' ? ROOT_OPTIONS : GRAPH_OPTIONS),
      'elk.padding': `[top=${box.headerH + 6},left=${PAD},bottom=${PAD},right=${PAD}]`,
      'elk.nodeSize.constraints': '[MINIMUM_SIZE]',
      'elk.nodeSize.minimum': `(${box.w}, ${box.h})`,
    };
    const children: ElkNode[] = [];
    if ((s.type === 'compound' && s.initial !== undefined) || needed(`i:${id}`)) children.push({ id: `i:${id}`, width: 12, height: 12 });
    if (needed(`a:${id}`)) children.push({ id: `a:${id}`, width: textWidth('any state', F_SMALL) + 16, height: 18 });
    for (const c of kids.get(s.path) ?? []) children.push(build(c, depth + 1));
    for (const c of children) home.set(c.id, s.path);
    node.children = children;
    node.edges = [];
    return node;
  };
  const root = build(g.states[0]!, 0);

  const edges: { elk: ElkExtendedEdge; transition?: GraphTransition }[] = [];
  const addEdge = (from: string, to: string, text: string | undefined, transition?: GraphTransition): void => {
    const elkEdge: ElkExtendedEdge = { id: `e${edges.length}`, sources: [from], targets: [to] };
    if (text !== undefined) elkEdge.labels = [edgeLabel(text)];
    const container = from === to ? home.get(from)! : commonContainer(home.get(from)!, home.get(to)!, byPath);
    nodes.get(ids.get(container)!)!.edges!.push(elkEdge);
    edges.push(transition ? { elk: elkEdge, transition } : { elk: elkEdge });
  };
  for (const s of g.states) if (s.type === 'compound' && s.initial !== undefined) addEdge(`i:${ids.get(s.path)!}`, ids.get(s.initial)!, undefined);
  for (const t of g.transitions) {
    const [from, to] = endpoints(t, ids, byPath);
    addEdge(from, to, transitionLabel(t), t);
  }

  const laid = await (await loadElk()).layout(root);

  // ELK writes the positions into the graph it returns (a copy of ours): read them back by id.
  const placed = new Map<string, ElkNode>();
  const walk = (n: ElkNode): void => {
    placed.set(n.id, n);
    for (const c of n.children ?? []) walk(c);
  };
  walk(laid);
  const rect = (id: string): Rect => {
    const n = placed.get(id)!;
    return { x: n.x ?? 0, y: n.y ?? 0, w: n.width ?? 0, h: n.height ?? 0 };
  };
  const states = g.states.map((s) => Object.assign(boxes.get(s.path)!, rect(ids.get(s.path)!)));
  const pseudo: PseudoBox[] = [];
  for (const s of g.states) {
    const id = ids.get(s.path)!;
    if (placed.has(`i:${id}`)) pseudo.push({ shape: 'initial', of: s.path, ...rect(`i:${id}`) });
    if (placed.has(`a:${id}`)) pseudo.push({ shape: 'any', of: s.path, ...rect(`a:${id}`) });
  }
  const laidEdges = new Map<string, ElkExtendedEdge>();
  const walkEdges = (n: ElkNode): void => {
    for (const e of n.edges ?? []) laidEdges.set(e.id, e);
    for (const c of n.children ?? []) walkEdges(c);
  };
  walkEdges(laid);
  const routes = edges.map(({ elk: e, transition }): EdgeRoute => {
    const done = laidEdges.get(e.id)!;
    const section = done.sections?.[0];
    if (!section) throw new Error(`viz: ELK gave no route for ${transition ? transitionLabel(transition) : 'an initial arrow'}`);
    const route: EdgeRoute = { points: [section.startPoint, ...(section.bendPoints ?? []), section.endPoint] };
    if (transition) route.transition = transition;
    const l = done.labels?.[0];
    if (l?.text !== undefined) route.label = { text: l.text, x: l.x ?? 0, y: l.y ?? 0, w: l.width ?? 0, h: l.height ?? 0 };
    return route;
  });
  return { width: laid.width ?? 0, height: laid.height ?? 0, states, pseudo, edges: routes };
}
