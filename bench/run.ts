// `npm run bench`: every benchmark of bench/, side by side, into bench/RESULTS.md (tables, the
// command, the machine) and bench/results.json (every sample, for tooling).
// Usage: node dist/bench/run.js [--rounds N] [--only micro,macro,pool,warm] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineFacts, peers, root } from './lib/tools.js';
import { markdownSection, type Section } from './lib/report.js';
import { micro } from './micro.js';
import { macro } from './macro.js';
import { pool } from './pool.js';
import { warm } from './warm.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'micro,macro,pool,warm' },
    out: { type: 'string', default: join(root, 'bench') },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
  console.error(`bench: --rounds must be an integer from 1 to 100, got ${JSON.stringify(values.rounds)}`);
  process.exit(2);
}
const only = new Set(values.only!.split(','));
for (const s of only) {
  if (!['micro', 'macro', 'pool', 'warm'].includes(s)) {
    console.error(`bench: --only takes micro, macro, pool, warm; got ${JSON.stringify(s)}`);
    process.exit(2);
  }
}

const t0 = Date.now();
const p = peers();
const facts = machineFacts(p);
const sections: Section[] = [];
if (only.has('micro')) sections.push(await micro(rounds, p));
if (only.has('macro')) sections.push(await macro(rounds, p));
if (only.has('pool')) sections.push(await pool(rounds));
if (only.has('warm')) sections.push(await warm(rounds));
const minutes = ((Date.now() - t0) / 60_000).toFixed(1);

/** The figures the issue asks for, in a few lines at the top. */
function summary(): string[] {
  const lines: string[] = [];
  const get = (id: string) => sections.find((s) => s.id === id)?.data as Record<string, any> | undefined;
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : '—');
  const mi = get('micro');
  if (mi) {
    const parts = ['openat', 'stat', 'connect'].map((op) => {
      const c = mi[`${op}/1`];
      return `${op} ${ratio(c['tsyd, emulated'].ns, c['C limit, emulated'].ns)} (${(c['tsyd, emulated'].ns / 1000).toFixed(1)} vs ${(c['C limit, emulated'].ns / 1000).toFixed(1)} µs)`;
    });
    lines.push(`- **tsyd / C limit per emulated call** (1 thread): ${parts.join(', ')}.`);
    const s = mi['openat/1'];
    lines.push(`- **per openat**: native ${(s.native.ns / 1000).toFixed(1)} µs, tsyd ${(s['tsyd, emulated'].ns / 1000).toFixed(1)} µs, strace -f ${s['strace -f'].skipped ? '—' : `${(s['strace -f'].ns / 1000).toFixed(0)} µs`}, proot ${s.proot.skipped ? '—' : `${(s.proot.ns / 1000).toFixed(0)} µs`}.`);
  }
  const ma = get('macro');
  if (ma) {
    const rows = Object.entries(ma).filter(([w]) => !w.startsWith('start-up'));
    const parts = rows.map(([w, c]) => {
      const name = w.replace(/:.*$/, '').replace(/`/g, '').replace(/,.*$/, '');
      return `${name} ${ratio(c['tsyd -p user'].ms, c.native.ms)} / ${c['strace -f'].skipped ? '—' : ratio(c['tsyd -p user'].ms, c['strace -f'].ms)}`;
    });
    lines.push(`- **tsyd (user profile) / native and / strace -f**, wall time: ${parts.join('; ')}.`);
  }
  const po = get('pool');
  if (po) {
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    lines.push(`- **pool growth** ${med(po.growthMs).toFixed(0)} ms (busy == curr → a new emulator answering); **RSS per emulator** ${po.perEmulatorMiB.toFixed(1)} MiB; **start-up** \`tsyd run -- true\` ${med(po.startupMs['\`tsyd run -- true\` (default profile)'].samples).toFixed(0)} ms vs \`node -e 0\` ${med(po.startupMs['\`node -e 0\`'].samples).toFixed(0)} ms.`);
  }
  return lines.length > 0 ? ['## Summary', '', ...lines, ''] : [];
}

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const md = [
  '# Benchmarks',
  '',
  `Made by \`${command}\` (${minutes} min) — this file is generated; what the figures mean is in [FINDINGS.md](FINDINGS.md), older investigations in [HISTORY.md](HISTORY.md). Raw samples: [results.json](results.json).`,
  '',
  `Machine: ${facts.cpus} × ${facts.cpu}, ${facts.memoryGiB} GiB, Linux ${facts.kernel}, Node ${facts.node}, strace ${facts.strace ?? '—'}, proot ${facts.proot ?? '—'}; tsyd ${facts.commit}; ${facts.date}.`,
  '',
  'Every figure is a median; the variants of a table ran in turn within each round (A B C A B C …), so a noisy machine moves them alike. Ratios are of medians. No timed assertion lives in the tests.',
  '',
  ...(p.strace.why ? [`strace rows are skipped: ${p.strace.why}.`, ''] : []),
  ...(p.proot.why ? [`proot rows are skipped: ${p.proot.why}.`, ''] : []),
  ...summary(),
  ...sections.map(markdownSection),
].join('\n');
// The results of a long run must not be lost to a missing folder.
mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'RESULTS.md'), md);
writeFileSync(join(values.out!, 'results.json'), JSON.stringify({ command, machine: facts, rounds, sections: Object.fromEntries(sections.map((s) => [s.id, s.data])) }, null, 1) + '\n');
console.log(md);
console.error(`bench: wrote ${join(values.out!, 'RESULTS.md')} and results.json in ${minutes} min`);
