// The machine pictures: every state and transition of the model shows in every format, the
// Mermaid stays within Mermaid's grammar, the SVG is well-formed, and `tsyd viz` reports misuse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { and, fromPromise, not, setup, type AnyStateMachine } from 'xstate';
import { runViz, type VizIO } from '../../src/cli/viz.js';
import { MACHINES as SUPERVISOR_MACHINES } from '../../src/machines/index.js';
import {
  machineGraph,
  stateLabel,
  toDot,
  toMermaid,
  toSvg,
  toSvgAll,
  transitionLabel,
  type MachineGraph,
} from '../../src/viz/render.js';
import { tempTree } from '../helpers/tmp.js';

const base = setup({
  actors: { work: fromPromise(async () => 1) },
  guards: { ok: () => true, big: () => false },
  actions: { log: () => {}, mark: () => {} },
  delays: { grace: 250 },
});

// Nested states, a parallel state with regions, after, always with guards, invoke
// onDone/onError, finals and a parallel state's onDone, root-level and targetless transitions.
const sandbox = base.createMachine({
  id: 'sandbox',
  initial: 'idle',
  description: 'A sandbox: started, run; stopped',
  on: { KILL: '.dead', PING: { actions: 'log' } },
  states: {
    idle: { description: 'Nothing runs: waiting for START; see #12.', on: { START: 'starting' } },
    starting: {
      entry: 'mark',
      invoke: { src: 'work', onDone: 'running', onError: 'failed' },
      after: { 5000: 'failed' },
    },
    running: {
      type: 'parallel',
      on: { STOP: 'stopping' },
      onDone: 'stopped',
      states: {
        child: {
          initial: 'alive',
          states: {
            alive: { on: { EXIT: 'exited', SIGNAL: { target: 'alive', guard: 'ok', reenter: true } } },
            exited: { type: 'final' },
          },
        },
        notify: {
          initial: 'waiting',
          states: {
            waiting: { on: { NOTIF: 'handling' } },
            handling: { invoke: { src: 'work', onDone: 'waiting', onError: { target: 'waiting', actions: 'log' } } },
          },
        },
      },
    },
    stopping: {
      exit: 'log',
      always: [
        { target: 'stopped', guard: 'ok' },
        { target: 'failed', guard: and(['big', not('ok')]) },
      ],
      after: { grace: 'dead' },
    },
    stopped: { type: 'final' },
    failed: { on: { RETRY: { target: 'starting', guard: 'ok' } } },
    dead: { type: 'final' },
  },
});

// A parallel root, three levels of nesting, a history state and a transition to an ancestor.
const pool = base.createMachine({
  id: 'emulator-pool',
  type: 'parallel',
  states: {
    workers: {
      initial: 'idle',
      states: {
        idle: { on: { JOB: 'busy' } },
        busy: {
          initial: 'running',
          invoke: { src: 'work', onDone: 'idle', onError: 'broken' },
          on: { RESET: '.running', 'job.*': { actions: 'log' } },
          states: {
            running: { on: { PAUSE: 'paused' }, after: { 100: { target: 'paused', guard: 'big' } } },
            paused: { on: { RESUME: 'hist', ABORT: '#emulator-pool.workers' } },
            hist: { type: 'history', history: 'deep' },
          },
        },
        broken: { type: 'final', description: 'Gave up; the pool stops here.' },
      },
    },
    health: {
      initial: 'ok',
      states: {
        ok: { on: { SLOW: 'degraded' } },
        degraded: { always: { target: 'ok', guard: 'ok' } },
      },
    },
  },
});

const MACHINES: Record<string, AnyStateMachine> = { sandbox, pool };

// --- the model ---------------------------------------------------------------------------

test('machineGraph: states with paths, types, parents and initial children', () => {
  const g = machineGraph(sandbox);
  const paths = g.states.map((s) => s.path);
  assert.equal(paths, [
    '',
    'idle',
    'starting',
    'running',
    'running.child',
    'running.child.alive',
    'running.child.exited',
    'running.notify',
    'running.notify.waiting',
    'running.notify.handling',
    'stopping',
    'stopped',
    'failed',
    'dead',
  ]);
  const st = (p: string) => g.states.find((s) => s.path === p)!;
  assert.is(st('').type, 'compound');
  assert.is(st('').initial, 'idle');
  assert.is(st('').parent, undefined);
  assert.is(st('idle').parent, '');
  assert.is(st('running').type, 'parallel');
  assert.is(st('running.child').initial, 'running.child.alive');
  assert.is(st('running.child.exited').type, 'final');
  assert.is(st('running.notify.waiting').parent, 'running.notify');
  assert.is(st('idle').description, 'Nothing runs: waiting for START; see #12.');
  assert.equal(st('starting').entry, ['mark']);
  assert.equal(st('starting').invoke, ['work']);
  // The raise/cancel pair xstate adds for `after` is not an action of ours.
  assert.equal(st('stopping').entry, []);
  assert.equal(st('stopping').exit, ['log']);
  const h = machineGraph(pool).states.find((s) => s.path === 'workers.busy.hist')!;
  assert.is(h.type, 'history');
  assert.is(h.history, 'deep');
});

test('machineGraph: every kind of transition, labelled', () => {
  const g = machineGraph(sandbox);
  const find = (source: string, event: string) => g.transitions.filter((t) => t.source === source && t.event === event);
  const one = (source: string, event: string) => {
    const list = find(source, event);
    assert.is(list.length, 1, `${source} ${event}: ${JSON.stringify(g.transitions.map((t) => [t.source, t.event]))}`);
    return list[0]!;
  };
  assert.equal(
    { ...one('idle', 'START') },
    { source: 'idle', target: 'starting', event: 'START', eventType: 'START', kind: 'event', actions: [], reenter: false },
  );
  const after = one('starting', 'after 5000 ms');
  assert.is(after.kind, 'after');
  assert.is(after.delay, 5000);
  assert.is(after.target, 'failed');
  const named = one('stopping', 'after grace');
  assert.is(named.delay, 'grace');
  const done = one('starting', 'done: work');
  assert.is(done.kind, 'done');
  assert.is(done.actor, 'work');
  assert.is(done.target, 'running');
  assert.is(one('starting', 'error: work').kind, 'error');
  assert.equal(one('running.notify.handling', 'error: work').actions, ['log']);
  const always = find('stopping', 'always');
  assert.equal(always.map((t) => [t.kind, t.target, t.guard]), [
    ['always', 'stopped', 'ok'],
    ['always', 'failed', 'big && !ok'],
  ]);
  assert.is(transitionLabel(always[0]!), 'always [ok]');
  assert.is(one('running', 'done').kind, 'done');
  assert.is(one('running', 'done').target, 'stopped');
  assert.is(one('', 'KILL').target, 'dead');
  const ping = one('', 'PING');
  assert.is(ping.target, null);
  assert.equal(ping.actions, ['log']);
  assert.is(one('running.child.alive', 'SIGNAL').reenter, true);
  assert.is(transitionLabel(one('failed', 'RETRY')), 'RETRY [ok]');
  const kinds = new Set(g.transitions.map((t) => t.kind));
  assert.equal([...kinds].sort(), ['after', 'always', 'done', 'error', 'event']);

  const p = machineGraph(pool);
  assert.is(p.id, 'emulator-pool');
  assert.ok(p.transitions.some((t) => t.source === 'workers.busy.paused' && t.target === 'workers' && t.event === 'ABORT'));
  assert.ok(p.transitions.some((t) => t.source === 'workers.busy' && t.target === 'workers.busy.running' && t.event === 'RESET'));
  assert.ok(p.transitions.some((t) => t.source === 'workers.busy' && t.target === null && t.event === 'job.*'));
  assert.ok(p.transitions.some((t) => t.event === 'after 100 ms' && t.guard === 'big'));
});

// --- Mermaid ---------------------------------------------------------------------------

/** Our labels as written in Mermaid: ':' is drawn with U+2236 (see mermaidText). */
const decode = (s: string) => s.replace(/\u2236/g, ':');

interface ParsedMermaid {
  /** State path (rebuilt from the nesting of the declarations) → Mermaid id. */
  ids: Map<string, string>;
  /** Lines in the block of each state path ('' for the top level). */
  blocks: Map<string, string[]>;
  edges: Set<string>;
}

/**
 * Reads back the declarations `state "label" as id` and `state "label" as id{ ... }`, their
 * nesting, and the edges `a --> b : label` (decoded) from a diagram.
 */
function parseMermaid(text: string, g: MachineGraph, name: string): ParsedMermaid {
  const ids = new Map<string, string>();
  const blocks = new Map<string, string[]>([['', []]]);
  const edges = new Set<string>();
  const stack: string[] = [''];
  const byLabel = (parent: string, label: string) =>
    g.states.find((s) => s.parent === parent && stateLabel(s, name) === label)?.path;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const top = stack[stack.length - 1]!;
    const decl = /^state "([^"]*)" as ([A-Za-z0-9_]+)(\{)?$/.exec(line);
    if (decl) {
      const label = decode(decl[1]!);
      let path: string | undefined;
      if (decl[2] === 'ANY' || decl[2] === 'ROOT') path = '';
      else path = byLabel(top, label);
      assert.ok(path !== undefined, `declaration of '${label}' inside '${top}' matches no state`);
      assert.not.ok(ids.has(path!) && path !== '', `state ${path} declared twice`);
      ids.set(path!, decl[2]!);
      if (decl[3]) {
        stack.push(path!);
        if (!blocks.has(path!)) blocks.set(path!, []);
      }
      continue;
    }
    if (line === '}') {
      stack.pop();
      continue;
    }
    blocks.get(top)!.push(line);
    const edge = /^(\S+) --> (\S+)(?: : (.*))?$/.exec(line);
    if (edge && edge[3] !== undefined) edges.add(`${edge[1]} --> ${edge[2]} : ${decode(edge[3])}`);
  }
  assert.equal(stack, [''], 'blocks are balanced');
  return { ids, blocks, edges };
}

for (const [name, machine] of Object.entries(MACHINES)) {
  test(`mermaid (${name}): every state, nested where it belongs, and every transition`, () => {
    const g = machineGraph(machine);
    const text = toMermaid(name, machine);
    const lines = text.split('\n');
    assert.equal(lines.slice(0, 4), ['---', `title: ${name}`, '---', 'stateDiagram-v2']);
    const { ids, blocks, edges } = parseMermaid(text, g, name);
    for (const s of g.states) if (s.path !== '') assert.ok(ids.has(s.path), `state '${s.path}' is declared in its parent's block`);
    for (const id of ids.values()) assert.match(id, /^[A-Za-z][A-Za-z0-9_]*$/);
    for (const t of g.transitions) {
      const line = `${ids.get(t.source)} --> ${ids.get(t.target ?? t.source)} : ${transitionLabel(t)}`;
      assert.ok(edges.has(line), `missing edge: ${line}\n${text}`);
    }
    for (const s of g.states) {
      if (s.type === 'compound' && s.initial) {
        const block = s.path === '' && g.states[0]!.type !== 'parallel' ? blocks.get('')! : blocks.get(s.path)!;
        assert.ok(block.includes(`[*] --> ${ids.get(s.initial)}`), `initial arrow of '${s.path}'`);
      }
      const parent = g.states.find((p) => p.path === s.parent);
      if (s.type === 'final' && parent?.type === 'compound') {
        assert.ok(blocks.get(s.parent!)!.includes(`${ids.get(s.path)} --> [*]`), `final arrow of '${s.path}'`);
      }
      if (s.description && s.path !== '') {
        assert.ok(blocks.get(s.parent!)!.some((l) => l.startsWith(`note right of ${ids.get(s.path)} : `)), `note of '${s.path}'`);
      }
    }
    // Mermaid's grammar: a description runs to the first ':' or ';' (and Mermaid would take
    // `#name;` for an entity code and '<...>' for HTML); a state id is followed by '{' directly
    // (a space would stay in the id).
    for (const line of lines.slice(4)) {
      const l = line.trim();
      if (l.includes(' : ')) assert.not.match(l.slice(l.indexOf(' : ') + 3), /[:;<>]/, line);
      if (l.startsWith('state ')) assert.match(l, /^state "[^"]*" as [A-Za-z0-9_]+\{?$/, line);
    }
  });
}

test('mermaid: a parallel root is one composite state holding its regions', () => {
  const text = toMermaid('pool', pool);
  assert.match(text, /\n  state "pool" as ROOT\{\n/);
  assert.match(text, /\n    --\n/);
  assert.match(text, /ROOT --> ROOT|s_workers__busy__paused --> s_workers : ABORT/);
  assert.match(text, /state "H\*" as s_workers__busy__hist/);
});

// --- DOT -------------------------------------------------------------------------------

for (const [name, machine] of Object.entries(MACHINES)) {
  test(`dot (${name}): every state and every transition`, () => {
    const g = machineGraph(machine);
    const text = toDot(name, machine);
    assert.ok(text.startsWith(`digraph "${name}" {`));
    assert.is(text.split('{').length, text.split('}').length, 'braces balance');
    const q = (s: string) => JSON.stringify(s);
    for (const s of g.states) {
      if (s.path === '') continue;
      if (s.type === 'compound' || s.type === 'parallel') {
        assert.ok(text.includes(`subgraph ${q(`cluster_${s.path}`)} {`), `cluster of '${s.path}'`);
      }
      assert.ok(new RegExp(`^\\s*${q(s.path).replace(/[.*[\]]/g, '\\$&')} \\[`, 'm').test(text), `node of '${s.path}'`);
    }
    const node = (p: string) => (p === '' ? '#any' : p);
    for (const t of g.transitions) {
      const head = `${q(node(t.source))} -> ${q(node(t.target ?? t.source))} [label=${q(transitionLabel(t))}`;
      assert.ok(text.includes(head), `missing edge: ${head}`);
    }
  });
}

// --- SVG -------------------------------------------------------------------------------

const unescapeXml = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** Checks that tags nest properly; returns the text content of every <text>/<tspan>. */
function checkSvg(svg: string): string[] {
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), svg.slice(0, 80));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  const stack: string[] = [];
  const texts: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/g;
  let pos = 0;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    assert.is(m.index, pos, `unparseable markup at ${pos}: ${svg.slice(pos, pos + 60)}`);
    pos = re.lastIndex;
    if (m[5] !== undefined) {
      assert.not.match(m[5], /&(?!(amp|lt|gt|quot|#\d+);)/, 'raw & in text');
      if (stack[stack.length - 1] === 'text' || stack[stack.length - 1] === 'tspan') texts.push(unescapeXml(m[5]));
      continue;
    }
    const [, close, tag, , selfClose] = m;
    if (close) assert.is(stack.pop(), tag, `</${tag}> closes the right tag`);
    else if (!selfClose) stack.push(tag!);
  }
  assert.is(pos, svg.length, 'whole document parsed');
  assert.equal(stack, [], 'every tag closed');
  return texts;
}

for (const [name, machine] of Object.entries(MACHINES)) {
  test(`svg (${name}): well-formed, every state and every transition label drawn`, () => {
    const g = machineGraph(machine);
    const svg = toSvg(name, machine);
    const texts = checkSvg(svg);
    const w = Number(/width="(\d+)"/.exec(svg)![1]);
    const h = Number(/height="(\d+)"/.exec(svg)![1]);
    assert.ok(w > 200 && h > 200 && w < 5000 && h < 5000, `${w}x${h}`);
    for (const s of g.states) assert.ok(texts.includes(stateLabel(s, name)), `state '${s.path}' drawn`);
    const count = new Map<string, number>();
    for (const t of g.transitions) count.set(transitionLabel(t), (count.get(transitionLabel(t)) ?? 0) + 1);
    for (const [label, n] of count) {
      assert.is(texts.filter((x) => x === label).length, n, `transition label '${label}' drawn ${n} times`);
    }
    // One arrow per transition, plus one per initial state.
    const arrows = (svg.match(/marker-end=/g) ?? []).length;
    const initials = g.states.filter((s) => s.initial).length;
    assert.is(arrows, g.transitions.length + initials);
  });
}

test('svg: each state but the root carries data-state="<dot path>" once (the inspector lights states by it)', () => {
  for (const [name, machine] of Object.entries({ ...MACHINES, ...SUPERVISOR_MACHINES })) {
    const svg = toSvg(name, machine);
    const drawn = [...svg.matchAll(/data-state="([^"]*)"/g)].map((m) => unescapeXml(m[1]!));
    const paths = machineGraph(machine).states.map((s) => s.path).filter((p) => p !== '');
    assert.equal([...drawn].sort(), [...paths].sort(), `${name}: one data-state per state`);
  }
  assert.ok(toSvg('monitor', SUPERVISOR_MACHINES.monitor!).includes('data-state="running.graceWait"'), 'nested states by their dot path');
});

test('svg: toSvgAll stacks the machines, each under its name', () => {
  const svg = toSvgAll(MACHINES);
  const texts = checkSvg(svg);
  assert.ok(texts.includes('sandbox'));
  assert.ok(texts.includes('pool'));
  assert.ok(texts.includes('#emulator-pool'));
  const one = Number(/height="(\d+)"/.exec(toSvg('sandbox', sandbox))![1]);
  const all = Number(/height="(\d+)"/.exec(svg)![1]);
  assert.ok(all > one);
  assert.is((svg.match(/<svg /g) ?? []).length, 1);
});

// --- tsyd viz ----------------------------------------------------------------------------

function viz(argv: string[], machines: Record<string, AnyStateMachine> = MACHINES) {
  let stdout = '';
  let stderr = '';
  const io: VizIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const code = runViz(argv, machines, io);
  return { code, stdout, stderr };
}

test('viz: mermaid of every machine by default, one machine raw', () => {
  const all = viz([]);
  assert.is(all.code, 0, all.stderr);
  assert.is(all.stderr, '');
  assert.is(all.stdout.match(/```mermaid\n/g)?.length, 2);
  assert.ok(all.stdout.includes('## sandbox\n') && all.stdout.includes('## pool\n'));
  const one = viz(['--machine', 'pool']);
  assert.is(one.code, 0);
  assert.is(one.stdout, toMermaid('pool', pool));
});

test('viz: --format dot|svg, --opt=value, several --machine', () => {
  const dot = viz(['--format', 'dot', '--machine', 'sandbox']);
  assert.is(dot.code, 0);
  assert.is(dot.stdout, toDot('sandbox', sandbox));
  const svg = viz(['--format=svg', '--machine=pool', '--machine', 'sandbox']);
  assert.is(svg.code, 0);
  checkSvg(svg.stdout);
  assert.ok(svg.stdout.indexOf('>pool<') < svg.stdout.indexOf('>sandbox<'), 'in the order asked');
});

test('viz: --out writes the file and nothing to stdout', () => {
  const dir = tempTree('viz');
  const out = join(dir, 'machines.svg');
  const r = viz(['--format', 'svg', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is(readFileSync(out, 'utf8'), toSvgAll(MACHINES));
  const md = join(dir, 'one.md');
  assert.is(viz(['--machine', 'sandbox', '--out', md]).code, 0);
  assert.ok(readFileSync(md, 'utf8').startsWith('## sandbox\n\n```mermaid\n---\n'));
  const bad = viz(['--out', join(dir, 'no', 'such', 'dir.mmd')]);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /cannot write/);
});

test('viz: a bad format, machine or option is a usage error (125) naming it and the choices', () => {
  const fmt = viz(['--format', 'png']);
  assert.is(fmt.code, 125);
  assert.is(fmt.stdout, '');
  assert.match(fmt.stderr, /^tsyd: viz: unknown format 'png'; expected one of mermaid, dot, svg\n$/);
  const mach = viz(['--machine', 'sandbox', '--machine', 'nope']);
  assert.is(mach.code, 125);
  assert.is(mach.stdout, '');
  assert.match(mach.stderr, /unknown machine 'nope'; expected one of sandbox, pool/);
  const opt = viz(['--colour']);
  assert.is(opt.code, 125);
  assert.match(opt.stderr, /unknown option '--colour'/);
  const missing = viz(['--format']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, /--format needs a value/);
  assert.is(viz(['stray']).code, 125);
  const none = viz([], {});
  assert.is(none.code, 125);
  assert.match(none.stderr, /no machines/);
  const help = viz(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /^Usage: tsyd viz/);
});

test.run();
