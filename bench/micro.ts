// Per-call cost of an intercepted openat (emulated, and answered CONTINUE) and of a call the
// filter lets through, tsyd against native, run side by side (A B C A B C ...) in one process.
// Usage: npm run build && node dist/bench/micro.js [ROUNDS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsyd = join(root, 'bin', 'tsyd.js');
const work = mkdtempSync(join(tmpdir(), 'tsyd-bench-'));
const openloop = join(work, 'openloop');
const csuper = join(work, 'csuper');
execFileSync('cc', ['-O2', '-Wall', '-o', openloop, join(root, 'bench', 'openloop.c')]);
execFileSync('cc', ['-O2', '-Wall', '-o', csuper, join(root, 'bench', 'csuper.c')]);

const ITER = '20000';
const INNER = '11';
const target = '/etc/hostname';

type Variant = { name: string; argv: string[] };
const variants: Variant[] = [
  { name: 'native', argv: [openloop, target, ITER, INNER] },
  { name: 'C limit CONTINUE (sync wake-up)', argv: [csuper, 'continue', 'sync', '--', openloop, target, ITER, INNER] },
  { name: 'C limit emulated (realpath, openat2+ADDFD)', argv: [csuper, 'emulate', '--', openloop, target, ITER, INNER] },
  // lock:off makes every handled call stop in the kernel; with no capability on it is continued.
  { name: 'tsyd CONTINUE (lock:off, no capability on)', argv: [process.execPath, tsyd, 'run', '-m', 'lock:off', '--', openloop, target, ITER, INNER] },
  { name: 'tsyd, no capability on (not notified)', argv: [process.execPath, tsyd, 'run', '-m', 'sandbox/read:off', '--', openloop, target, ITER, INNER] },
  {
    name: 'tsyd emulated (read:on, openat2+ADDFD)',
    argv: [process.execPath, tsyd, 'run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', openloop, target, ITER, INNER],
  },
];

function parse(out: string): { openat: number; getppid: number } {
  const o = /openat_ns=(\d+)/.exec(out);
  const g = /getppid_ns=(\d+)/.exec(out);
  if (!o || !g) throw new Error(`unexpected output: ${out}`);
  return { openat: Number(o[1]), getppid: Number(g[1]) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rounds = Number(process.argv[2] ?? 7);
const samples = new Map<string, { openat: number[]; getppid: number[] }>();
for (const v of variants) samples.set(v.name, { openat: [], getppid: [] });
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const out = execFileSync(v.argv[0]!, v.argv.slice(1), { encoding: 'utf8' });
    const p = parse(out);
    samples.get(v.name)!.openat.push(p.openat);
    samples.get(v.name)!.getppid.push(p.getppid);
  }
}
const base = median(samples.get('native')!.openat);
console.log(`| variant | openat+close (median ns) | ratio to native | getppid (ns) |`);
console.log(`|---|---|---|---|`);
for (const v of variants) {
  const s = samples.get(v.name)!;
  const m = median(s.openat);
  console.log(`| ${v.name} | ${m} | ${(m / base).toFixed(1)}x | ${median(s.getppid)} |`);
}
console.log(`\n${rounds} rounds x ${INNER} inner medians x ${ITER} calls; command: node dist/bench/micro.js ${rounds}`);
