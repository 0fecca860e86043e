// `tsyd viz`: the formats, --out, and misuse reported as usage errors (125).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyStateMachine } from 'xstate';
import { runViz, type VizIO } from '../../src/cli/viz.js';
import { toDot, toMermaid, toSvgAll } from '../../src/viz/index.js';
import { tempTree } from '../helpers/tmp.js';
import { MACHINES, pool, sandbox } from './machines.js';
import { parseSvg } from './svg-read.js';

async function viz(argv: string[], machines: Record<string, AnyStateMachine> = MACHINES) {
  let stdout = '';
  let stderr = '';
  const io: VizIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const code = await runViz(argv, machines, io);
  return { code, stdout, stderr };
}

test('viz: mermaid of every machine by default, one machine raw', async () => {
  const all = await viz([]);
  assert.is(all.code, 0, all.stderr);
  assert.is(all.stderr, '');
  assert.is(all.stdout.match(/```mermaid\n/g)?.length, 2);
  assert.ok(all.stdout.includes('## sandbox\n') && all.stdout.includes('## pool\n'));
  const one = await viz(['--machine', 'pool']);
  assert.is(one.code, 0);
  assert.is(one.stdout, toMermaid('pool', pool));
});

test('viz: --format dot|svg, --opt=value, several --machine', async () => {
  const dot = await viz(['--format', 'dot', '--machine', 'sandbox']);
  assert.is(dot.code, 0);
  assert.is(dot.stdout, toDot('sandbox', sandbox));
  const svg = await viz(['--format=svg', '--machine=pool', '--machine', 'sandbox']);
  assert.is(svg.code, 0);
  parseSvg(svg.stdout);
  assert.ok(svg.stdout.indexOf('>pool<') < svg.stdout.indexOf('>sandbox<'), 'in the order asked');
});

test('viz: --out writes the file and nothing to stdout', async () => {
  const dir = tempTree('viz');
  const out = join(dir, 'machines.svg');
  const r = await viz(['--format', 'svg', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is(readFileSync(out, 'utf8'), await toSvgAll(MACHINES));
  const md = join(dir, 'one.md');
  assert.is((await viz(['--machine', 'sandbox', '--out', md])).code, 0);
  assert.ok(readFileSync(md, 'utf8').startsWith('## sandbox\n\n```mermaid\n---\n'));
  const bad = await viz(['--out', join(dir, 'no', 'such', 'dir.mmd')]);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /cannot write/);
});

test('viz: a bad format, machine or option is a usage error (125) naming it and the choices', async () => {
  const fmt = await viz(['--format', 'png']);
  assert.is(fmt.code, 125);
  assert.is(fmt.stdout, '');
  assert.match(fmt.stderr, /^tsyd: viz: unknown format 'png'; expected one of mermaid, dot, svg\n$/);
  const mach = await viz(['--machine', 'sandbox', '--machine', 'nope']);
  assert.is(mach.code, 125);
  assert.is(mach.stdout, '');
  assert.match(mach.stderr, /unknown machine 'nope'; expected one of sandbox, pool/);
  const opt = await viz(['--colour']);
  assert.is(opt.code, 125);
  assert.match(opt.stderr, /unknown option '--colour'/);
  const missing = await viz(['--format']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, /--format needs a value/);
  assert.is((await viz(['stray'])).code, 125);
  const none = await viz([], {});
  assert.is(none.code, 125);
  assert.match(none.stderr, /no machines/);
  const help = await viz(['--help']);
  assert.is(help.code, 0);
  assert.match(help.stdout, /^Usage: tsyd viz/);
});

test.run();
