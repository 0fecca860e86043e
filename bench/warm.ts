// Warm library: `run('true')` repeated 20× in one fresh Node process (the first run starts the
// supervisor threads; the next ones are served by the warm ones), beside
// child_process.spawnSync('true') repeated in the same process (what execa costs).
// Alone: node dist/bench/warm.js [--rounds N]; in the harness: --only warm.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run } from '../src/index.js';
import { fmtMs, median } from './lib/measure.js';
import type { Section } from './lib/report.js';

const REPEAT = 20;
const self = fileURLToPath(import.meta.url);

interface Loop {
  tsyd: number[];
  spawnSync: number[];
}

/** In the fresh process: the two loops, timed. */
async function loop(): Promise<Loop> {
  const tsyd: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const r = await run('true', [], { logLevel: 'silent' });
    tsyd.push(performance.now() - t0);
    if (r.exitCode !== 0) throw new Error(`run('true') ended ${r.exitCode}: ${r.error?.message ?? ''}`);
  }
  const native: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    spawnSync('true');
    native.push(performance.now() - t0);
  }
  return { tsyd, spawnSync: native };
}

/** `rounds` fresh processes; per process the first run and the median of the next 19. */
export async function warm(rounds: number): Promise<Section> {
  const firsts: number[] = [];
  const rests: number[] = [];
  const natives: number[] = [];
  const samples: Loop[] = [];
  for (let r = 0; r < rounds; r++) {
    const out = spawnSync(process.execPath, [self, '--loop'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (out.status !== 0) throw new Error(`bench warm: the loop process ended ${out.status}`);
    const l = JSON.parse(out.stdout) as Loop;
    samples.push(l);
    firsts.push(l.tsyd[0]!);
    rests.push(median(l.tsyd.slice(1)));
    natives.push(median(l.spawnSync));
  }
  return {
    id: 'warm',
    title: 'Warm library: run() repeated in one process',
    method: [
      `In each of ${rounds} fresh Node processes: \`await run('true')\` ${REPEAT}× in a row (default options, the shared default supervisor), then \`child_process.spawnSync('true')\` ${REPEAT}×. Medians over the processes.`,
    ],
    tables: [
      {
        headers: ['', 'first', `median of the next ${REPEAT - 1}`],
        rows: [
          ["tsyd `run('true')`", fmtMs(median(firsts)), fmtMs(median(rests))],
          ["`spawnSync('true')` (execa-like)", '', fmtMs(median(natives))],
        ],
      },
    ],
    notes: ['The first run starts the monitor, interrupter and emulator threads; the next ones are served by the same threads (README: Warm supervisor).'],
    data: { firstMs: firsts, restMedianMs: rests, spawnSyncMedianMs: natives, samples },
  };
}

const { values } = parseArgs({ options: { loop: { type: 'boolean', default: false }, rounds: { type: 'string', default: '3' } }, strict: false });
if (process.argv[1] === self) {
  if (values.loop) console.log(JSON.stringify(await loop()));
  else {
    const s = await warm(Number(values.rounds));
    console.log(s.tables[0]!.rows.map((r) => r.join(' | ')).join('\n'));
  }
}
