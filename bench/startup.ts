// The start-up timeline of `tsyd run -- true`: where each millisecond goes, from the launch of
// the process to its end, beside `node -e 0`. tsyd records its steps when TSYD_TIMELINE_FD is
// set (src/shared/timeline.ts: one line "STEP EPOCH_MS" per step, from every thread); this
// bench gives it a file on that fd, notes the launch and the end itself, and takes medians.
//
// Alone: node dist/bench/startup.js [--runs N] [--against CHECKOUT] [--profile P]
//   --against: a second built checkout run in turn with this one (A B A B …): its wall time and
//   RSS, and its steps where it records them. In `npm run bench`: the section `startup`.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fmtRatio, median } from './lib/measure.js';
import { markdownSection, type Section } from './lib/report.js';
import { root, work } from './lib/tools.js';

/** One run: the offset (ms from launch) of each step, the wall time and the peak RSS. */
interface Run {
  steps: Map<string, number>;
  wallMs: number;
  rssKiB: number;
}

interface Variant {
  name: string;
  argv: string[];
  /** Records a timeline (a tsyd checkout). */
  timeline: boolean;
}

const LAUNCH = 'launch';
const ENDED = 'process.ended';
const now = () => performance.timeOrigin + performance.now();

/** Runs `argv` once under /usr/bin/time (peak RSS), with the timeline fd at 3 for tsyd. */
function runOnce(v: Variant, file: string): Run {
  truncateSync(file);
  const fd = openSync(file, 'a');
  try {
    const env = { ...process.env, ...(v.timeline ? { TSYD_TIMELINE_FD: '3' } : {}) };
    const t0 = now();
    const r = spawnSync('/usr/bin/time', ['-f', 'tsyd-bench-rss %M', ...v.argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe', fd], env });
    const t1 = now();
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${v.argv.join(' ')}: exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    const steps = new Map<string, number>([[LAUNCH, 0]]);
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [step, at] = line.split(' ');
      // The first time a step is reached (emulator.ready: the first emulator).
      if (step && at && !steps.has(step)) steps.set(step, Number(at) - t0);
    }
    steps.set(ENDED, t1 - t0);
    const rss = /tsyd-bench-rss (\d+)/.exec(r.stderr);
    return { steps, wallMs: t1 - t0, rssKiB: rss ? Number(rss[1]) : NaN };
  } finally {
    closeSync(fd);
  }
}

/** Medians per variant: steps (in the order of their median time), wall, RSS. */
function summarise(runs: Run[]) {
  const names = new Set(runs.flatMap((r) => [...r.steps.keys()]));
  const steps = [...names]
    .map((name) => ({ name, ms: median(runs.flatMap((r) => (r.steps.has(name) ? [r.steps.get(name)!] : []))) }))
    .sort((a, b) => a.ms - b.ms);
  return { steps, wallMs: median(runs.map((r) => r.wallMs)), rssKiB: median(runs.map((r) => r.rssKiB)) };
}

export async function startup(runs: number, opts: { against?: string; profile?: string } = {}): Promise<Section> {
  const tsydArgv = (checkout: string) => [process.execPath, join(checkout, 'bin', 'tsyd.js'), 'run', ...(opts.profile ? ['-p', opts.profile] : []), '--', 'true'];
  const variants: Variant[] = [
    { name: '`node -e 0`', argv: [process.execPath, '-e', '0'], timeline: false },
    ...(opts.against ? [{ name: `tsyd (${opts.against})`, argv: tsydArgv(opts.against), timeline: true }] : []),
    { name: opts.against ? `tsyd (${root})` : '`tsyd run -- true`', argv: tsydArgv(root), timeline: true },
  ];
  const file = join(work, 'timeline');
  closeSync(openSync(file, 'w'));
  const samples = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
  // One warm-up of each (page cache, code cache), then the runs in turn: A B C A B C …
  for (const v of variants) runOnce(v, file);
  for (let i = 0; i < runs; i++) for (const v of variants) samples.get(v.name)!.push(runOnce(v, file));
  const sums = new Map([...samples].map(([k, rs]) => [k, summarise(rs)]));
  const node = sums.get(variants[0]!.name)!;
  const tsyds = variants.filter((v) => v.timeline);
  const main = sums.get(tsyds[tsyds.length - 1]!.name)!;
  const at = (name: string, step: string) => sums.get(name)!.steps.find((s) => s.name === step)?.ms;
  const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(1));
  const timelineRows = main.steps.map((s, i) => {
    const prev = i > 0 ? main.steps[i - 1]!.ms : 0;
    return [s.name, ...tsyds.slice(0, -1).map((v) => fmt(at(v.name, s.name))), fmt(s.ms), fmt(s.ms - prev)];
  });
  return {
    id: 'startup',
    title: 'Start-up timeline',
    method: [
      `\`tsyd run ${opts.profile ? `-p ${opts.profile} ` : ''}-- true\` and \`node -e 0\` in turn, ${runs} runs each after one warm-up, each under \`/usr/bin/time\` (peak RSS). ` +
        'tsyd writes each step as it is reached (TSYD_TIMELINE_FD, src/shared/timeline.ts; `process.start` is Node\'s time origin, `node.ready` its bootstrap end); ' +
        '`launch` and `process.ended` are the bench\'s own clock around the run. Figures: ms since launch, medians; a step reached by several threads counts its first time.',
    ],
    tables: [
      {
        caption: '**Where the time goes** (ms since launch, medians)',
        headers: ['step', ...tsyds.slice(0, -1).map((v) => v.name), tsyds[tsyds.length - 1]!.name, 'Δ previous step'],
        rows: timelineRows,
      },
      {
        caption: '**Whole run**',
        headers: ['command', 'wall time', '× `node -e 0`', 'peak RSS'],
        rows: variants.map((v) => {
          const s = sums.get(v.name)!;
          return [v.name, `${s.wallMs.toFixed(0)} ms`, fmtRatio(s.wallMs / node.wallMs), `${(s.rssKiB / 1024).toFixed(1)} MiB`];
        }),
      },
    ],
    notes: [`tsyd / node: ${fmtRatio(main.wallMs / node.wallMs)} wall, ${fmtRatio(main.rssKiB / node.rssKiB)} peak RSS.`],
    data: Object.fromEntries([...samples].map(([k, rs]) => [k, { runs: rs.map((r) => ({ wallMs: r.wallMs, rssKiB: r.rssKiB, steps: Object.fromEntries(r.steps) })), median: sums.get(k) }])),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, against: { type: 'string' }, profile: { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`bench: --runs takes a positive integer, got ${JSON.stringify(values.runs)}`);
    process.exit(2);
  }
  console.log(markdownSection(await startup(runs, { against: values.against, profile: values.profile })));
}
