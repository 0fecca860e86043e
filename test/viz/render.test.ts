// The machine model and its text pictures: every state and transition of the model shows in
// Mermaid and DOT, and the Mermaid stays within Mermaid's grammar. (SVG: svg.test.ts; the
// command: cli.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { machineGraph, stateLabel, toDot, toMermaid, transitionLabel, type MachineGraph } from '../../src/viz/index.js';
import { MACHINES, pool, sandbox } from './machines.js';

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

test.run();
