// A self-contained SVG of a machine (no external font, stylesheet or script), drawn from the
// layout (layout.ts). Contract for pages that embed it (the inspector lights the current
// states): every state, the machine itself included (''), is a <g data-state="PATH"> with PATH
// its dot path from the root (e.g. "running.graceWait"), holding that state's own box and text
// (not its children's: they follow it); every id in the document starts with the machine's name,
// so several machines' pictures can share a page.
import type { AnyStateMachine } from 'xstate';
import { KIND_COLOUR } from './labels.js';
import { layoutMachine, PAD, type EdgeRoute, type MachineLayout, type Pt, type StateBox } from './layout.js';
import { machineGraph, type TransitionKind } from './model.js';
import { F_EDGE, F_SMALL, F_STATE, F_TITLE, FONT, LINE_H, num, xml } from './svg-text.js';

const MARGIN = 12;
const FILLS = ['#f6f8fc', '#ecf1f9', '#e2eaf6'];

/** The prefix of the ids in a machine's picture: its name, made safe for an XML id. */
function idPrefix(name: string): string {
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-`;
}

function markers(prefix: string): string {
  return (Object.keys(KIND_COLOUR) as TransitionKind[])
    .map(
      (k) =>
        `<marker id="${prefix}arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1 L10,5 L0,9 z" fill="${KIND_COLOUR[k]}"/></marker>`,
    )
    .join('\n');
}

function drawState(b: StateBox, name: string, machineId: string): string {
  const s = b.state;
  const tip = [s.path === '' ? `${name} (#${machineId})` : s.path, s.description ?? ''].filter(Boolean).join('\n');
  const out = [`<g class="state ${s.type}" data-state="${xml(s.path)}"><title>${xml(tip)}</title>`];
  const text = (x: number, y: number, size: number, body: string, extra = '') =>
    out.push(`<text x="${num(x)}" y="${num(y)}" font-size="${size}"${extra}>${body}</text>`);
  const details = (x: number, y: number, anchor: string) => {
    for (const l of b.lines) {
      text(x, y, F_SMALL, xml(l), `${anchor} fill="#4a5568"`);
      y += LINE_H;
    }
    for (const l of b.desc) {
      text(x, y, F_SMALL, xml(l), `${anchor} font-style="italic" fill="#6b7a90"`);
      y += LINE_H;
    }
  };
  if (b.shape === 'history') {
    out.push(`<circle cx="${num(b.x + b.w / 2)}" cy="${num(b.y + b.h / 2)}" r="${num(b.w / 2)}" fill="#fff" stroke="#555"/>`);
    text(b.x + b.w / 2, b.y + b.h / 2 + 4, F_SMALL, xml(b.label), ' text-anchor="middle" font-weight="bold"');
  } else if (b.shape === 'container') {
    const isRoot = s.path === '';
    const fill = isRoot ? '#ffffff' : FILLS[(b.depth - 1) % FILLS.length]!;
    const dash = s.type === 'parallel' ? ' stroke-dasharray="6 4"' : '';
    out.push(
      `<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}" rx="${isRoot ? 6 : 12}" fill="${fill}" stroke="${isRoot ? '#333' : '#6b7a90'}" stroke-width="${isRoot ? 1.5 : 1.2}"${dash}/>`,
    );
    const ty = b.y + (isRoot ? 22 : 18);
    const badge = s.type === 'parallel' ? `<tspan dx="8" font-size="${F_SMALL}" font-weight="normal" fill="#6b7a90">parallel</tspan>` : '';
    text(b.x + PAD, ty, isRoot ? F_TITLE : F_STATE, `${xml(b.label)}${badge}`, ' font-weight="bold" fill="#1d2733"');
    details(b.x + PAD, ty + LINE_H + 1, '');
    if (!isRoot) out.push(`<line x1="${num(b.x + 6)}" y1="${num(b.y + b.headerH)}" x2="${num(b.x + b.w - 6)}" y2="${num(b.y + b.headerH)}" stroke="#c5cfdc"/>`);
  } else {
    out.push(`<rect x="${num(b.x)}" y="${num(b.y)}" width="${num(b.w)}" height="${num(b.h)}" rx="9" fill="#ffffff" stroke="#3d4a5c" stroke-width="1.3"/>`);
    if (s.type === 'final') {
      out.push(`<rect x="${num(b.x + 3)}" y="${num(b.y + 3)}" width="${num(b.w - 6)}" height="${num(b.h - 6)}" rx="7" fill="none" stroke="#3d4a5c"/>`);
    }
    const cx = b.x + b.w / 2;
    text(cx, b.y + 18.5, F_STATE, xml(b.label), ' text-anchor="middle" font-weight="bold" fill="#1d2733"');
    details(cx, b.y + 18.5 + LINE_H + 1, ' text-anchor="middle"');
  }
  out.push('</g>');
  return out.join('\n');
}

/** An orthogonal route with its corners rounded (radius up to 6, less on short segments). */
function routePath(points: Pt[]): string {
  let d = `M${num(points[0]!.x)},${num(points[0]!.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [a, p, c] = [points[i - 1]!, points[i]!, points[i + 1]!];
    const r = Math.min(6, Math.hypot(p.x - a.x, p.y - a.y) / 2, Math.hypot(c.x - p.x, c.y - p.y) / 2);
    const towards = (q: Pt, len: number) => {
      const l = Math.hypot(q.x - p.x, q.y - p.y) || 1;
      return { x: p.x + ((q.x - p.x) / l) * len, y: p.y + ((q.y - p.y) / l) * len };
    };
    const p1 = towards(a, r);
    const p2 = towards(c, r);
    d += ` L${num(p1.x)},${num(p1.y)} Q${num(p.x)},${num(p.y)} ${num(p2.x)},${num(p2.y)}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L${num(last.x)},${num(last.y)}`;
}

function drawEdge(e: EdgeRoute, prefix: string): string {
  const t = e.transition;
  const kind: TransitionKind = t?.kind ?? 'event';
  const colour = KIND_COLOUR[kind];
  const dash = t && (t.target === null || t.kind === 'always') ? ' stroke-dasharray="5 3"' : '';
  const from = t ? (t.source === '' ? 'the machine' : t.source) : '';
  const title = t ? `<title>${xml(`${e.label?.text ?? ''}: ${from} → ${t.target === null ? 'no change' : t.target || 'the machine'}`)}</title>` : '';
  const out = [
    `<g class="transition ${kind}">${title}`,
    `<path d="${routePath(e.points)}" fill="none" stroke="${colour}" stroke-width="1.2"${dash} marker-end="url(#${prefix}arrow-${kind})"/>`,
  ];
  if (e.label) {
    const l = e.label;
    out.push(
      `<rect x="${num(l.x)}" y="${num(l.y)}" width="${num(l.w)}" height="${num(l.h)}" rx="3" fill="#ffffff" fill-opacity="0.9"/>`,
      `<text x="${num(l.x + l.w / 2)}" y="${num(l.y + 11)}" text-anchor="middle" font-size="${F_EDGE}" fill="${colour}">${xml(l.text)}</text>`,
    );
  }
  out.push('</g>');
  return out.join('\n');
}

interface SvgPart {
  body: string;
  width: number;
  height: number;
}

function drawMachine(name: string, machineId: string, l: MachineLayout): SvgPart {
  const prefix = idPrefix(name);
  const parts = [`<defs>\n${markers(prefix)}\n</defs>`];
  for (const b of l.states) parts.push(drawState(b, name, machineId));
  for (const p of l.pseudo) {
    if (p.shape === 'initial') {
      parts.push(
        `<g class="initial"><title>${xml(`start of ${p.of || name}`)}</title>`,
        `<circle cx="${num(p.x + p.w / 2)}" cy="${num(p.y + p.h / 2)}" r="${num(p.w / 2 - 1)}" fill="#1d2733"/>`,
        '</g>',
      );
    } else {
      parts.push(
        `<g class="any"><title>${xml(`any state${p.of ? ` of ${p.of}` : ''}: the transitions the ${p.of ? 'state' : 'machine'} takes from whichever of its states is active`)}</title>`,
        `<rect x="${num(p.x)}" y="${num(p.y)}" width="${num(p.w)}" height="${num(p.h)}" rx="9" fill="#ffffff" stroke="#6b7a90" stroke-dasharray="3 2"/>`,
        `<text x="${num(p.x + p.w / 2)}" y="${num(p.y + 12.5)}" text-anchor="middle" font-size="${F_SMALL}" font-style="italic" fill="#4a5568">any state</text>`,
        '</g>',
      );
    }
  }
  for (const e of l.edges) parts.push(drawEdge(e, prefix));
  return {
    body: `<g transform="translate(${MARGIN},${MARGIN})">\n${parts.join('\n')}\n</g>`,
    width: Math.ceil(l.width + 2 * MARGIN),
    height: Math.ceil(l.height + 2 * MARGIN),
  };
}

function svgDocument(parts: SvgPart[], gap: number): string {
  const width = Math.max(100, ...parts.map((p) => p.width));
  const height = parts.reduce((a, p) => a + p.height, 0) + gap * Math.max(0, parts.length - 1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`,
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

async function machinePart(name: string, machine: AnyStateMachine): Promise<SvgPart> {
  const g = machineGraph(machine);
  return drawMachine(name, g.id, await layoutMachine(name, g));
}

/** A self-contained SVG of one machine, laid out by ELK (asynchronous: ELK's layout is). */
export async function toSvg(name: string, machine: AnyStateMachine): Promise<string> {
  return svgDocument([await machinePart(name, machine)], 0);
}

/** Several machines stacked top to bottom in one SVG, each framed with its name as title. */
export async function toSvgAll(machines: Record<string, AnyStateMachine>): Promise<string> {
  const parts: SvgPart[] = [];
  for (const [name, m] of Object.entries(machines)) parts.push(await machinePart(name, m));
  return svgDocument(parts, 24);
}
