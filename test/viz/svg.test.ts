// The SVG pictures (src/viz/svg.ts, laid out by ELK in layout.ts), of the test machines and of
// the supervisor's own: well-formed and self-contained, every state drawn once as a group with
// its data-state (the inspector's contract), every transition labelled with one arrow, state boxes
// that do not overlap (siblings apart, children inside their parent), labels off the states' boxes
// and each other, ids prefixed by the machine's name, and the same bytes every time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyStateMachine } from 'xstate';
import { MACHINES as SUPERVISOR } from '../../src/machines/index.js';
import { machineGraph, stateLabel, toSvg, toSvgAll, transitionLabel } from '../../src/viz/index.js';
import { MACHINES, pool, sandbox } from './machines.js';
import { all, boxOf, overlap, parseSvg, texts, within, type Box, type El } from './svg-read.js';

const EVERY: [string, AnyStateMachine][] = [...Object.entries(MACHINES), ...Object.entries(SUPERVISOR)];

/** The state groups of a picture by data-state, with the box of each (its first rect or circle). */
function stateBoxes(root: El): Map<string, { el: El; box: Box }> {
  const out = new Map<string, { el: El; box: Box }>();
  for (const g of all(root).filter((e) => e.tag === 'g' && 'data-state' in e.attrs)) {
    const path = g.attrs['data-state']!;
    assert.not.ok(out.has(path), `data-state="${path}" drawn twice`);
    const shape = g.children.find((c) => c.tag === 'rect' || c.tag === 'circle');
    assert.ok(shape, `state ${path} has a box`);
    out.set(path, { el: g, box: boxOf(shape!) });
  }
  return out;
}

/** The label boxes of the transitions. */
function labelBoxes(root: El): { text: string; box: Box }[] {
  return all(root)
    .filter((e) => e.tag === 'g' && /^transition /.test(e.attrs['class'] ?? ''))
    .flatMap((g) => {
      const r = g.children.find((c) => c.tag === 'rect');
      const t = g.children.find((c) => c.tag === 'text');
      return r && t ? [{ text: t.text, box: boxOf(r) }] : [];
    });
}

for (const [name, machine] of EVERY) {
  test(`svg (${name}): every state once with its data-state, every transition labelled with one arrow`, async () => {
    const g = machineGraph(machine);
    const svg = await toSvg(name, machine);
    const root = parseSvg(svg);
    const w = Number(root.attrs['width']);
    const h = Number(root.attrs['height']);
    assert.ok(w > 100 && h > 100 && w < 5000 && h < 5000, `${w}x${h}`);
    const boxes = stateBoxes(root);
    assert.equal([...boxes.keys()].sort(), g.states.map((s) => s.path).sort());
    for (const s of g.states) {
      const drawn = all(boxes.get(s.path)!.el).filter((e) => e.tag === 'text').map((e) => e.text);
      assert.ok(drawn.includes(stateLabel(s, name)), `state '${s.path}' is labelled ${stateLabel(s, name)} in its group: ${drawn}`);
    }
    const labels = labelBoxes(root).map((l) => l.text).sort();
    assert.equal(labels, g.transitions.map(transitionLabel).sort(), 'one label per transition');
    const count = new Map<string, number>();
    for (const t of g.transitions) count.set(transitionLabel(t), (count.get(transitionLabel(t)) ?? 0) + 1);
    const allTexts = texts(root);
    for (const [label, n] of count) assert.is(allTexts.filter((x) => x === label).length, n, `'${label}' drawn ${n} times`);
    // One arrow per transition, plus one per initial state.
    const arrows = all(root).filter((e) => 'marker-end' in e.attrs).length;
    assert.is(arrows, g.transitions.length + g.states.filter((s) => s.initial).length);
  });

  test(`svg (${name}): sibling boxes apart, children inside their parent, labels off the states and each other`, async () => {
    const g = machineGraph(machine);
    const root = parseSvg(await toSvg(name, machine));
    const boxes = stateBoxes(root);
    const box = (p: string) => boxes.get(p)!.box;
    for (const s of g.states) {
      if (s.parent === undefined) continue;
      assert.ok(within(box(s.path), box(s.parent)), `${s.path} ${JSON.stringify(box(s.path))} inside ${s.parent || 'the machine'} ${JSON.stringify(box(s.parent))}`);
      for (const o of g.states) {
        if (o.parent === s.parent && o.path < s.path) {
          assert.is(overlap(box(s.path), box(o.path)), 0, `${s.path} and ${o.path} overlap: ${JSON.stringify([box(s.path), box(o.path)])}`);
        }
      }
    }
    const labels = labelBoxes(root);
    const leaves = g.states.filter((s) => !['compound', 'parallel'].includes(s.type) && s.path !== '');
    labels.forEach((l, i) => {
      for (const s of leaves) assert.is(overlap(l.box, box(s.path)), 0, `label '${l.text}' over state ${s.path}`);
      for (const o of labels.slice(0, i)) assert.is(overlap(l.box, o.box), 0, `labels '${l.text}' and '${o.text}' overlap`);
    });
  });

  test(`svg (${name}): self-contained, ids prefixed by the machine's name, same bytes every time`, async () => {
    const svg = await toSvg(name, machine);
    assert.is(await toSvg(name, machine), svg);
    const root = parseSvg(svg);
    const tags = new Set(all(root).map((e) => e.tag));
    for (const t of ['style', 'script', 'image', 'use', 'foreignObject', 'a']) assert.not.ok(tags.has(t), `no <${t}>`);
    assert.not.match(svg, /href=|@import|@font-face/);
    const ids = all(root).flatMap((e) => (e.attrs['id'] ? [e.attrs['id']] : []));
    assert.ok(ids.length > 0);
    for (const id of ids) assert.ok(id.startsWith(`${name}-`), `id '${id}' starts with '${name}-'`);
    for (const ref of svg.matchAll(/url\(([^)]*)\)/g)) assert.ok(ids.includes(ref[1]!.replace(/^#/, '')) && ref[1]!.startsWith('#'), `${ref[0]} refers to an id in the picture`);
  });
}

test('svg: the compound and parallel states and the initial dots of the test machines', async () => {
  const root = parseSvg(await toSvg('pool', pool));
  const boxes = stateBoxes(root);
  assert.is(boxes.get('workers.busy.hist')!.el.children.find((c) => c.tag === 'circle') !== undefined, true, 'a history state is a circle');
  assert.match(boxes.get('')!.el.attrs['class']!, /\bparallel\b/);
  assert.match(boxes.get('workers.busy')!.el.attrs['class']!, /\bcompound\b/);
  // The machine's own transitions (KILL, PING) leave from its "any state".
  const s = parseSvg(await toSvg('sandbox', sandbox));
  const any = all(s).filter((e) => e.tag === 'g' && e.attrs['class'] === 'any');
  assert.is(any.length, 1);
  assert.ok(within(boxOf(any[0]!.children.find((c) => c.tag === 'rect')!), stateBoxes(s).get('')!.box));
});

test('svg: toSvgAll stacks the machines, each under its name, with ids that do not clash', async () => {
  const svg = await toSvgAll(MACHINES);
  const root = parseSvg(svg);
  const t = texts(root);
  for (const x of ['sandbox', 'pool', '#emulator-pool']) assert.ok(t.includes(x), x);
  const one = Number(parseSvg(await toSvg('sandbox', sandbox)).attrs['height']);
  assert.ok(Number(root.attrs['height']) > one);
  assert.is((svg.match(/<svg /g) ?? []).length, 1);
  const ids = all(root).flatMap((e) => (e.attrs['id'] ? [e.attrs['id']] : []));
  assert.is(new Set(ids).size, ids.length, 'ids unique');
  assert.is(await toSvgAll(MACHINES), svg, 'same bytes every time');
});

test.run();
