// `tsyd viz`: the formats, --out and its extension (they must agree; images are refused with the
// way to get one), and misuse reported as usage errors (125).
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AnyStateMachine } from 'xstate';
import { runViz, type VizIO } from '../../src/cli/viz.js';
import { toDot, toMermaid, toSvg, toSvgAll } from '../../src/viz/index.js';
import { tempTree } from '../helpers/tmp.js';
import { tsydBin } from '../helpers/tsyd.js';
import { MACHINES, pool, sandbox } from './machines.js';
import { parseSvg } from './svg-read.js';

async function viz(argv: string[], machines: Record<string, AnyStateMachine> = MACHINES) {
  let stdout = '';
  let stderr = '';
  const io: VizIO = { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s) };
  const code = await runViz(argv, machines, io);
  return { code, stdout, stderr };
}

test('viz through the tsyd command (its bundle renames xstate helpers): combined guards are spelled out', () => {
  const r = spawnSync(process.execPath, [tsydBin, 'viz', '--machine', 'monitor'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'always [hasPendingFilter && locked]');
  assert.not.match(r.stdout, /and\d/);
});

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

test('viz: --out writes the file in the format of its extension, nothing to stdout', async () => {
  const dir = tempTree('viz');
  const svg = join(dir, 'machines.svg');
  const r = await viz(['--out', svg]);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, '');
  assert.is(readFileSync(svg, 'utf8'), await toSvgAll(MACHINES));
  const one = join(dir, 'pool.SVG');
  assert.is((await viz(['--machine', 'pool', '--format', 'svg', '--out', one])).code, 0);
  assert.is(readFileSync(one, 'utf8'), await toSvg('pool', pool));
  for (const ext of ['dot', 'gv']) {
    const f = join(dir, `sandbox.${ext}`);
    assert.is((await viz(['--machine', 'sandbox', '--out', f])).code, 0);
    assert.is(readFileSync(f, 'utf8'), toDot('sandbox', sandbox));
  }
  const mmd = join(dir, 'pool.mmd');
  assert.is((await viz(['--machine', 'pool', '--out', mmd])).code, 0);
  assert.is(readFileSync(mmd, 'utf8'), toMermaid('pool', pool));
  for (const ext of ['md', 'markdown']) {
    const md = join(dir, `one.${ext}`);
    assert.is((await viz(['--machine', 'sandbox', '--format', 'mermaid', '--out', md])).code, 0);
    assert.ok(readFileSync(md, 'utf8').startsWith('## sandbox\n\n```mermaid\n---\n'));
  }
  const bad = await viz(['--out', join(dir, 'no', 'such', 'dir.md')]);
  assert.is(bad.code, 125);
  assert.match(bad.stderr, /cannot write .*dir\.md: ENOENT/);
});

test('viz: --format that contradicts the extension of --out is a usage error naming both', async () => {
  const dir = tempTree('viz');
  for (const [format, file, ext] of [['mermaid', 'x.svg', 'svg'], ['svg', 'x.dot', 'dot'], ['dot', 'x.md', 'mermaid'], ['svg', 'x.mmd', 'mermaid']]) {
    const out = join(dir, file!);
    const r = await viz(['--machine', 'pool', '--format', format!, '--out', out]);
    assert.is(r.code, 125, `${format} into ${file}`);
    assert.is(r.stdout, '');
    assert.is(r.stderr, `tsyd: viz: --format ${format} contradicts the extension of ${out} (.${file!.split('.')[1]} is ${ext}); drop --format or rename the file\n`);
    assert.not.ok(existsSync(out), `${file} not written`);
  }
});

test('viz: an image (or unknown) extension is refused, saying how to get the picture', async () => {
  const dir = tempTree('viz');
  for (const [file, graphviz] of [['m.png', 'png'], ['m.JPG', 'jpeg'], ['m.pdf', 'pdf'], ['m.webp', 'webp']]) {
    const out = join(dir, file!);
    for (const argv of [['--out', out], ['--format', 'svg', '--out', out]]) {
      const r = await viz(argv);
      assert.is(r.code, 125, `${argv.join(' ')}: ${r.stderr}`);
      assert.is(r.stdout, '');
      assert.match(r.stderr, `tsyd: viz: cannot write ${out}: tsyd viz writes text (svg, dot or mermaid), not a ${file!.split('.')[1]!.toUpperCase()} image`);
      assert.match(r.stderr, '`tsyd viz --format svg --out machines.svg');
      assert.match(r.stderr, `\`tsyd viz --format dot | dot -T${graphviz} -o ${file}\``);
      assert.not.ok(existsSync(out), `${file} not written`);
    }
  }
  assert.match((await viz(['--out', join(dir, 'm.png')])).stderr, `rsvg-convert -f png machines.svg -o m.png`);
  for (const file of ['machines.txt', 'machines']) {
    const out = join(dir, file);
    const r = await viz(['--format', 'dot', '--out', out]);
    assert.is(r.code, 125);
    assert.match(r.stderr, `viz: cannot tell the format of ${out} from its extension`);
    assert.match(r.stderr, 'name it .svg, .dot, .gv, .md, .markdown or .mmd');
    assert.not.ok(existsSync(out));
  }
});

test('viz: several machines into one .mmd (a single diagram) are refused', async () => {
  const out = join(tempTree('viz'), 'all.mmd');
  const r = await viz(['--out', out]);
  assert.is(r.code, 125);
  assert.match(r.stderr, `${out}: a .mmd file holds one diagram, and 2 machines are asked for; choose one with --machine NAME, or write Markdown (.md)`);
  assert.not.ok(existsSync(out));
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
