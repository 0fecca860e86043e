// The pool's costs: growth time (all emulators busy → a new emulator ready) and RSS per
// emulator. Usage: npm run build && node dist/bench/pool.js [ROUNDS]
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from '../src/index.js';
import { EmuState, Slot } from '../src/actors/worker-data.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'tsyd-poolbench-'));
const flood = join(work, 'fifoflood');
execFileSync('cc', ['-O2', '-pthread', '-o', flood, join(root, 'test', 'fixtures', 'fifoflood.c')]);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const POLICY = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setImmediate(r));
  }
}

/** One core emulator; the program blocks it in a FIFO open; time until a helper is idle. */
async function growthOnce(i: number): Promise<number> {
  const fifo = join(work, `g${i}_`);
  execFileSync('mkfifo', [`${fifo}0`]);
  const child = spawn(flood, ['1', fifo, '/etc/hostname'], { policy: POLICY, stdio: ['pipe', 'ignore', 'inherit'], emulators: 1, logLevel: 'silent' });
  const wd = child.supervisor;
  await until(() => {
    const { curr, busy } = wd.counts();
    return curr === 1 && busy === 1;
  });
  const t0 = performance.now();
  await until(() => {
    for (let s = 0; s < wd.maxEmulators; s++) {
      const slot = wd.slot(s);
      if (slot[Slot.kind] === 1 && Atomics.load(slot, Slot.state) === EmuState.idle) return true;
    }
    return false;
  });
  const t1 = performance.now();
  child.kill('SIGKILL');
  await child.result;
  return t1 - t0;
}

/** RSS of this process with N blocked emulators (+1 idle), minus before. */
async function rssWith(n: number, i: number): Promise<number> {
  const fifo = join(work, `r${i}_${n}_`);
  execFileSync('mkfifo', Array.from({ length: n }, (_, k) => `${fifo}${k}`));
  const child = spawn(flood, [String(n), fifo, '/etc/hostname'], { policy: POLICY, stdio: ['pipe', 'ignore', 'inherit'], emulators: 1, logLevel: 'silent' });
  await until(() => child.supervisor.counts().busy === n && child.supervisor.counts().curr === n + 1, 30_000);
  await new Promise((r) => setTimeout(r, 300));
  const rss = process.memoryUsage().rss;
  child.kill('SIGKILL');
  await child.result;
  return rss;
}

const rounds = Number(process.argv[2] ?? 7);
const growth: number[] = [];
for (let i = 0; i < rounds; i++) growth.push(await growthOnce(i));
console.log(`pool growth (busy == curr → helper idle): median ${median(growth).toFixed(1)} ms over ${rounds} (min ${Math.min(...growth).toFixed(1)}, max ${Math.max(...growth).toFixed(1)})`);
const per: number[] = [];
for (let i = 0; i < 3; i++) {
  const a = await rssWith(1, i);
  const b = await rssWith(16, i);
  per.push((b - a) / 15 / 2 ** 20);
}
console.log(`RSS per emulator thread: median ${median(per).toFixed(1)} MiB (2 vs 17 emulators, 3 rounds)`);
