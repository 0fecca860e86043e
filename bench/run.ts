// `npm run bench`: every benchmark of bench/, side by side, into bench/RESULTS.md (tables, the
// command, the machine) and bench/results.json (every sample, for tooling).
// Usage: node dist/bench/run.js [--rounds N] [--only micro,macro,pool,startup,memory,warm,crypt,setid,ipc,agent] [--out DIR]
// DIR is made first (a long run is never lost to a missing folder). With --only, the sections not
// run keep their earlier text and figures (bench/lib/merge.ts); the summary is made from both.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineFacts, peers, root } from './lib/tools.js';
import { markdownSection, type Section } from './lib/report.js';
import { earlierMarkdown, earlierSections, markdownBlocks, mergeBlocks } from './lib/merge.js';
import { micro } from './micro.js';
import { macro } from './macro.js';
import { pool } from './pool.js';
import { startup } from './startup.js';
import { memory } from './memory.js';
import { warm } from './warm.js';
import { crypt } from './crypt.js';
import { setid } from './setid.js';
import { ipc } from './ipc.js';
import { agent } from './agent.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'micro,macro,pool,startup,memory,warm,crypt,setid,ipc,agent' },
    out: { type: 'string', default: join(root, 'bench') },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) {
  console.error(`bench: --rounds must be an integer from 1 to 100, got ${JSON.stringify(values.rounds)}`);
  process.exit(2);
}
const ALL_SECTIONS = ['micro', 'macro', 'pool', 'startup', 'memory', 'warm', 'crypt', 'setid', 'ipc', 'agent'];
const only = new Set(values.only!.split(','));
for (const s of only) {
  if (!ALL_SECTIONS.includes(s)) {
    console.error(`bench: --only takes ${ALL_SECTIONS.join(', ')}; got ${JSON.stringify(s)}`);
    process.exit(2);
  }
}

// The results of a long run must not be lost to a missing folder: made (or refused) first.
mkdirSync(values.out!, { recursive: true });
const mdFile = join(values.out!, 'RESULTS.md');
const jsonFile = join(values.out!, 'results.json');

const t0 = Date.now();
const p = peers();
const facts = machineFacts(p);
const sections: Section[] = [];
if (only.has('micro')) sections.push(await micro(rounds, p));
if (only.has('macro')) sections.push(await macro(rounds, p));
if (only.has('pool')) sections.push(await pool(rounds, p));
if (only.has('startup')) sections.push(await startup(Math.max(rounds * 3, 9)));
if (only.has('memory')) sections.push(await memory(rounds));
if (only.has('warm')) sections.push(await warm(rounds));
if (only.has('crypt')) sections.push(await crypt(Math.max(rounds, 5)));
if (only.has('setid')) sections.push(await setid(Math.max(rounds, 8)));
if (only.has('ipc')) sections.push(await ipc(Math.max(rounds, 8)));
if (only.has('agent')) sections.push(await agent(rounds));
const minutes = ((Date.now() - t0) / 60_000).toFixed(1);

/** The figures the issue asks for, in a few lines at the top. */
function summary(): string[] {
  const lines: string[] = [];
  const get = (id: string) => data[id] as Record<string, any> | undefined;
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : '—');
  // A summary line that cannot be made (a section's data from an older run, a failed row) says so:
  // it must never lose the run.
  const safely = (id: string, make: () => void) => {
    try {
      make();
    } catch (err) {
      lines.push(`- ${id}: no summary (${(err as Error).message})`);
    }
  };
  const mi = get('micro');
  if (mi) safely('micro', () => {
    const parts = ['openat', 'stat', 'connect'].map((op) => {
      const c = mi[`${op}/1`];
      return `${op} ${ratio(c['tsyd, emulated'].ns, c['C limit, emulated'].ns)} (${(c['tsyd, emulated'].ns / 1000).toFixed(1)} vs ${(c['C limit, emulated'].ns / 1000).toFixed(1)} µs)`;
    });
    lines.push(`- **tsyd / C limit per emulated call** (1 thread): ${parts.join(', ')}.`);
    const s = mi['openat/1'];
    const us = (c: { ns: number; skipped?: string } | undefined) => (!c || c.skipped ? '—' : `${(c.ns / 1000).toFixed(0)} µs`);
    lines.push(`- **per openat**: native ${(s.native.ns / 1000).toFixed(1)} µs, tsyd ${(s['tsyd, emulated'].ns / 1000).toFixed(1)} µs, strace -f ${us(s['strace -f'])}, strace -f --seccomp-bpf ${us(s['strace -f --seccomp-bpf'])}, proot ${us(s.proot)}.`);
  });
  const ma = get('macro');
  if (ma) safely('macro', () => {
    const rows = Object.entries(ma).filter(([w]) => !w.startsWith('start-up'));
    const parts = rows.map(([w, c]) => {
      const name = w.replace(/:.*$/, '').replace(/`/g, '').replace(/,.*$/, '');
      return `${name} ${ratio(c['tsyd -p user'].ms, c.native.ms)} / ${c['strace -f'].skipped ? '—' : ratio(c['tsyd -p user'].ms, c['strace -f'].ms)}`;
    });
    lines.push(`- **tsyd (user profile) / native and / strace -f**, wall time: ${parts.join('; ')}.`);
    const limit = rows.filter(([, c]) => c['C limit, emulated']?.notifications).map(([w, c]) => {
      const name = w.replace(/:.*$/, '').replace(/`/g, '').replace(/,.*$/, '');
      return `${name} ${ratio(c['tsyd -p user'].ms, c['C limit, emulated'].ms)} (${c['tsyd -p user'].notifications?.[0] ?? '—'} notifications)`;
    });
    if (limit.length > 0) lines.push(`- **tsyd (user profile) / C limit with the same filter, emulated** (goal ≤ 1.3×): ${limit.join('; ')}.`);
  });
  const po = get('pool');
  if (po) safely('pool', () => {
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    lines.push(`- **pool growth** ${med(po.growthMs).toFixed(0)} ms (busy == curr → a new emulator answering); **RSS per emulator** ${Number(po.perEmulatorMiB).toFixed(1)} MiB; **start-up** \`tsyd run -- true\` ${med(po.startupMs['\`tsyd run -- true\` (default profile)'].samples).toFixed(0)} ms vs \`node -e 0\` ${med(po.startupMs['\`node -e 0\`'].samples).toFixed(0)} ms.`);
  });
  const cr = get('crypt');
  if (cr) safely('crypt', () => {
    const part = (op: 'encrypt' | 'decrypt') => {
      const c = cr[op];
      return `${op} ${ratio(c['tsyd cipher (native call)'].ms, c['openssl enc -aes-256-ctr'].ms)} (command ${ratio(c[`\`tsyd crypt ${op}\``].ms, c['openssl enc -aes-256-ctr'].ms)})`;
    };
    lines.push(`- **crypt, 256 MiB, tsyd's cipher / openssl enc -aes-256-ctr** (goal ≤ 2×): ${part('encrypt')}, ${part('decrypt')}.`);
  });
  const ip = get('ipc');
  if (ip) safely('ipc', () => {
    const names = Object.keys(ip);
    const base = ip[names[0]!].ns;
    const parts = names.slice(1).map((n) => `${n} ${ratio(ip[n].ns, base)}`);
    lines.push(`- **IPC, the program's opens with clients / with none**: ${parts.join('; ')} (${(1e9 / base).toFixed(0)} opens/s with none).`);
  });
  const ag = get('agent');
  if (ag) safely('agent', () => {
    const parts = (['openat', 'stat'] as const).map((op) => `${op} ${ratio(ag[op]['container, tsyd agent'].ns, ag[op]['tsyd run (host)'].ns)}`);
    lines.push(`- **a decided call in a runc container (tsyd agent) / under tsyd run**: ${parts.join(', ')} (the agent acts with each caller's credentials).`);
  });
  return lines.length > 0 ? ['## Summary', '', ...lines, ''] : [];
}

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
// A partial run: the other sections' figures are the earlier run's (a whole run keeps nothing).
const partial = ALL_SECTIONS.some((s) => !only.has(s));
const data: Record<string, unknown> = { ...(partial ? earlierSections(jsonFile) : {}), ...Object.fromEntries(sections.map((s) => [s.id, s.data])) };
// The raw figures first: whatever happens to the text, the samples are kept.
writeFileSync(jsonFile, JSON.stringify({ command, machine: facts, rounds, sections: data }, null, 1) + '\n');
const merged = mergeBlocks(partial ? earlierMarkdown(mdFile) : '', markdownBlocks(sections.map(markdownSection).map((t) => `${t}\n`).join('')), ['Summary']);
const md = [
  '# Benchmarks',
  '',
  `Made by \`${command}\` (${minutes} min) — this file is generated; what the figures mean is in [FINDINGS.md](FINDINGS.md), older investigations in [HISTORY.md](HISTORY.md). Raw samples: [results.json](results.json).`,
  '',
  `Machine: ${facts.cpus} × ${facts.cpu}, ${facts.memoryGiB} GiB, Linux ${facts.kernel}, Node ${facts.node}, strace ${facts.strace ?? '—'}, proot ${facts.proot ?? '—'}, bwrap ${facts.bwrap ?? '—'}; tsyd ${facts.commit}; ${facts.date}.`,
  '',
  ...(merged.kept.length > 0 ? [`**A partial run**: only ${sections.map((s) => `“${s.title}”`).join(', ')} ran now; ${merged.kept.map((t) => `“${t}”`).join(', ')} kept from the earlier file (another commit or machine, maybe: see its figures with care).`, ''] : []),
  'Every figure is a median; the variants of a table ran in turn within each round (A B C A B C …), so a noisy machine moves them alike. Ratios are of medians. No timed assertion lives in the tests.',
  '',
  ...(p.strace.why ? [`strace rows are skipped: ${p.strace.why}.`, ''] : []),
  ...(p.proot.why ? [`proot rows are skipped: ${p.proot.why}.`, ''] : []),
  ...(p.bwrap.why ? [`bwrap rows are skipped: ${p.bwrap.why}.`, ''] : []),
  ...summary(),
  ...merged.blocks,
].join('\n');
writeFileSync(mdFile, md);
console.log(md);
console.error(`bench: wrote ${mdFile} and results.json in ${minutes} min`);
