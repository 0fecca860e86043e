// A self-contained SVG of a machine, laid out by our own code (no Graphviz, no dependency).
import type { AnyStateMachine } from 'xstate';
import { detailLines, KIND_COLOUR, shortText, stateLabel, transitionLabel } from './labels.js';
import { childrenOf, isAncestor, machineGraph, type GraphState, type GraphTransition, type MachineGraph, type TransitionKind } from './model.js';

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
    parts.push(`<g class="state ${s.type}"><title>${xml(tip)}</title>`);
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
