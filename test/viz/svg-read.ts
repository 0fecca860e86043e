// Reads back the SVG pictures of src/viz/svg.ts for the tests: a strict little XML parser (it
// fails the test on anything not well-formed) and the boxes drawn, in absolute coordinates.
import * as assert from 'uvu/assert';

export interface El {
  tag: string;
  attrs: Record<string, string>;
  children: El[];
  /** The text directly inside, unescaped. */
  text: string;
  /** The translation of the element's coordinates by its enclosing <g transform="translate()">s. */
  dx: number;
  dy: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const unescapeXml = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** Parses `svg`, asserting it is one well-formed <svg> element; returns it. */
export function parseSvg(svg: string): El {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.slice(0, 80));
  assert.ok(svg.endsWith('</svg>\n'), 'ends with </svg>');
  const top: El = { tag: '#document', attrs: {}, children: [], text: '', dx: 0, dy: 0 };
  const stack: El[] = [top];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  let pos = 0;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    assert.is(m.index, pos, `unparseable markup at ${pos}: ${svg.slice(pos, pos + 60)}`);
    pos = re.lastIndex;
    const parent = stack[stack.length - 1]!;
    if (m[5] !== undefined) {
      assert.not.match(m[5], /&(?!(amp|lt|gt|quot|#\d+);)/, 'raw & in text');
      parent.text += unescapeXml(m[5]);
      continue;
    }
    const [, close, tag, attrText, selfClose] = m;
    if (close) {
      assert.is(stack.pop()!.tag, tag, `</${tag}> closes the right tag`);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
      assert.not.ok(a[1]! in attrs, `attribute ${a[1]} twice on <${tag}>`);
      attrs[a[1]!] = unescapeXml(a[2]!);
    }
    const t = /^translate\(([-\d.]+),([-\d.]+)\)$/.exec(attrs['transform'] ?? '');
    const el: El = { tag: tag!, attrs, children: [], text: '', dx: parent.dx + Number(t?.[1] ?? 0), dy: parent.dy + Number(t?.[2] ?? 0) };
    parent.children.push(el);
    if (!selfClose) stack.push(el);
  }
  assert.is(pos, svg.length, 'whole document parsed');
  assert.is(stack.length, 1, 'every tag closed');
  assert.is(top.children.length, 1, 'one root element');
  return top.children[0]!;
}

/** Every element below `el` (itself included), in document order. */
export function all(el: El): El[] {
  return [el, ...el.children.flatMap(all)];
}

/** The texts of every <text> and <tspan>. */
export function texts(root: El): string[] {
  return all(root)
    .filter((e) => e.tag === 'text' || e.tag === 'tspan')
    .map((e) => e.text);
}

/** The box of a <rect> or <circle>, absolute. */
export function boxOf(e: El): Box {
  const n = (k: string) => Number(e.attrs[k]);
  if (e.tag === 'circle') return { x: n('cx') - n('r') + e.dx, y: n('cy') - n('r') + e.dy, w: 2 * n('r'), h: 2 * n('r') };
  assert.is(e.tag, 'rect');
  return { x: n('x') + e.dx, y: n('y') + e.dy, w: n('width'), h: n('height') };
}

/** The area two boxes share. */
export function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Whether `inner` lies within `outer` (to a tenth of a pixel: coordinates are rounded so). */
export function within(inner: Box, outer: Box): boolean {
  const e = 0.11;
  return inner.x >= outer.x - e && inner.y >= outer.y - e && inner.x + inner.w <= outer.x + outer.w + e && inner.y + inner.h <= outer.y + outer.h + e;
}
