// Pool: how fast the emulator pool grows when every emulator is blocked (FIFO flood), what a
// regular open costs while K emulators are held by FIFOs, tsyd's RSS with 1, 8 and 32
// emulators, and the start-up of `tsyd run -- true` against `node -e 0`.
import { execFileSync, spawn as spawnProcess } from 'node:child_process';
import { internals } from '../src/supervisor/internals.js';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from '../src/index.js';
import { EmuState } from '../src/shared/emulator-states.js';
import { Slot } from '../src/shared/slot.js';
import { cprog, tsydBin, work, type Peers } from './lib/tools.js';
import { fmtMs, fmtNs, fmtRatio, median, parseNs, sideBySide, Skipped, timed } from './lib/measure.js';
import { startupVariants } from './lib/startup-peers.js';
import type { Section } from './lib/report.js';

const POLICY = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];
const REGULAR = '/etc/hostname';
let fifoCount = 0;

function fifos(k: number): string {
  const prefix = join(work, `fifo${fifoCount++}_`);
  if (k > 0) execFileSync('mkfifo', Array.from({ length: k }, (_, i) => `${prefix}${i}`));
  return prefix;
}

/**
 * FIFO opens run on job threads, not emulators (addon/offload.cc); the pool is measured with the
 * test-only TSYD_FAULT=inline-blocking, which makes them hold their emulator as before, so that
 * blocked emulators, growth and RSS per emulator can be measured at all.
 */
const HOLD_EMULATORS = { TSYD_FAULT: 'inline-blocking' };

function spawnHolding(...args: Parameters<typeof spawn>): ReturnType<typeof spawn> {
  Object.assign(process.env, HOLD_EMULATORS);
  try {
    return spawn(...args);
  } finally {
    delete process.env.TSYD_FAULT;
  }
}

async function until(pred: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** One core emulator, blocked by the program in a FIFO open: ms until a helper is idle. */
async function growthOnce(): Promise<number> {
  const child = spawnHolding(cprog('fifoload'), ['1', fifos(1), REGULAR, '1', '1'], { policy: POLICY, stdio: ['pipe', 'ignore', 'inherit'], emulators: 1, logLevel: 'silent' });
  const wd = internals(child).supervisor;
  try {
    await until(() => {
      const { curr, busy } = wd.counts();
      return curr >= 1 && busy === 1;
    }, 'the core emulator blocked');
    const t0 = performance.now();
    // busy == curr is seen by the emulator itself (tells the monitor), not polled by us: we only
    // watch for the helper's idle state.
    await new Promise<void>((resolve, reject) => {
      const end = Date.now() + 10_000;
      const look = () => {
        for (let s = 0; s < wd.maxEmulators; s++) {
          const slot = wd.slot(s);
          if (slot[Slot.kind] === 1 && Atomics.load(slot, Slot.state) === EmuState.idle) return resolve();
        }
        if (Date.now() > end) return reject(new Error('no helper emulator within 10 s'));
        setImmediate(look);
      };
      look();
    });
    return performance.now() - t0;
  } finally {
    child.kill('SIGKILL');
    await child.result;
  }
}

/** ns per regular open while K emulators are blocked in FIFO opens. */
async function latencyWith(k: number): Promise<number> {
  const child = spawnHolding(cprog('fifoload'), [String(k), fifos(k), REGULAR, '2000', '5'], { policy: POLICY, stdio: ['pipe', 'pipe', 'inherit'], logLevel: 'silent' });
  let out = '';
  child.stdout!.on('data', (b) => (out += String(b)));
  try {
    await until(() => out.includes('started') && internals(child).supervisor.counts().busy === k && internals(child).supervisor.counts().curr > k, `${k} blocked emulators and an idle one`);
    child.stdin!.write('go\n');
    await until(() => /ns=\d+/.test(out), 'the open loop');
    return parseNs(out);
  } finally {
    child.kill('SIGKILL');
    await child.result;
  }
}

export function emulatorThreads(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'tsyd_emu') n++;
    } catch {
      // the thread ended
    }
  }
  return n;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** RSS (KiB) of a `tsyd run` process holding n emulator threads (one core, n-1 blocked). */
async function rssWith(n: number): Promise<number> {
  const argv = [tsydBin, 'run', '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', cprog('fifoload'), String(n - 1), fifos(n - 1), REGULAR, '1', '1'];
  const child = spawnProcess(process.execPath, argv, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...HOLD_EMULATORS, TSYD_NPROC: '1', TSYD_KEEP_ALIVE: '60000' } });
  let out = '';
  child.stdout!.on('data', (b) => (out += String(b)));
  try {
    await until(() => out.includes('started') && emulatorThreads(child.pid!) === n, `${n} emulator threads`);
    // Let the new threads finish their start-up allocations.
    await new Promise((r) => setTimeout(r, 500));
    return rssKiB(child.pid!);
  } finally {
    const gone = new Promise((r) => child.once('close', r));
    child.kill('SIGKILL');
    await gone;
  }
}

export async function pool(rounds: number, p: Peers): Promise<Section> {
  const growth: number[] = [];
  // A failed run is counted and named in the table: it must not lose the rest of a long run.
  const growthFailures: string[] = [];
  for (let i = 0; i < Math.max(rounds, 5); i++) {
    try {
      growth.push(await growthOnce());
    } catch (err) {
      growthFailures.push((err as Error).message);
    }
  }
  process.stderr.write('bench: pool growth done\n');

  const KS = [0, 4, 16, 64];
  const lat = await sideBySide(KS.map((k) => ({ name: String(k), k })), rounds, (v) => latencyWith(v.k));
  process.stderr.write('bench: pool latency done\n');

  const NS = [1, 8, 32];
  const rss = await sideBySide(NS.map((n) => ({ name: String(n), n })), Math.max(2, Math.ceil(rounds / 2)), (v) => rssWith(v.n));
  process.stderr.write('bench: pool RSS done\n');

  const startVariants = startupVariants(p);
  const start = await sideBySide(startVariants, Math.max(rounds * 3, 9), (v) => {
    if (!v.argv) throw new Skipped(v.why ?? 'not available');
    return timed(v.argv).ms;
  });
  process.stderr.write('bench: start-up done\n');

  const m = (c: { samples: number[] } | undefined) => median(c?.samples ?? []);
  const lat0 = m(lat.get('0'));
  const rssMed = (n: number) => m(rss.get(String(n)));
  const perEmulator = (rssMed(32) - rssMed(8)) / 24 / 1024;
  const node0 = m(start.get('`node -e 0`'));
  return {
    id: 'pool',
    title: 'Pool and start-up',
    method: [
      `Growth: one core emulator (\`emulators: 1\`), the program blocks it in a FIFO open; the time from busy == curr to a helper emulator idle and answering (library, ${growth.length} runs). ` +
        `Latency: K program threads blocked in FIFO opens (each holds an emulator), then 5 × 2000 regular opens (read:on, emulated) from the main thread; the K run in turn, ${rounds} rounds. ` +
        'Growth, latency and RSS run with the test-only `TSYD_FAULT=inline-blocking`: FIFO opens otherwise go to job threads and hold no emulator. ' +
        'RSS: VmRSS of the `tsyd run` process with n emulator threads (TSYD_NPROC=1, n-1 held by FIFO opens). Start-up: wall time of the whole command, side by side; the peers start `true` as they run any program (bwrap: new namespaces, the root bound read-only; strace and proot: ptrace; the C limit: fork, tsyd\'s filter, a listener, `true`).',
    ],
    tables: [
      {
        caption: '**Growth** (busy == curr → a new emulator answering)',
        headers: ['median', 'min', 'max', 'runs', 'failed runs'],
        rows: [[fmtMs(median(growth)), fmtMs(Math.min(...growth)), fmtMs(Math.max(...growth)), String(growth.length), growthFailures.length === 0 ? '0' : `${growthFailures.length}: ${[...new Set(growthFailures)].join('; ')}`]],
      },
      {
        caption: '**Latency of a regular open while K emulators are blocked**',
        headers: ['K blocked', 'per open', '× K = 0'],
        rows: KS.map((k) => {
          const c = lat.get(String(k))!;
          return [String(k), c.skipped ? `failed: ${c.skipped}` : fmtNs(m(c)), fmtRatio(m(c) / lat0)];
        }),
      },
      {
        caption: '**RSS of tsyd**',
        headers: ['emulators', 'RSS', 'per emulator above 1'],
        rows: NS.map((n) => {
          const c = rss.get(String(n))!;
          return [String(n), c.skipped ? `failed: ${c.skipped}` : `${(m(c) / 1024).toFixed(1)} MiB`, n === 1 ? '' : `${((m(c) - rssMed(1)) / (n - 1) / 1024).toFixed(1)} MiB`];
        }),
      },
      {
        caption: '**Start-up**',
        headers: ['command', 'wall time', '× `node -e 0`'],
        rows: startVariants.map((v) => {
          const c = start.get(v.name)!;
          return c.skipped !== undefined ? [v.name, `skipped: ${c.skipped}`, ''] : [v.name, fmtMs(m(c)), fmtRatio(m(c) / node0)];
        }),
      },
    ],
    notes: [`RSS per emulator thread (8 → 32 emulators): ${perEmulator.toFixed(1)} MiB.`],
    data: {
      growthMs: growth,
      growthFailures,
      latencyNs: Object.fromEntries([...lat].map(([k, c]) => [k, c])),
      rssKiB: Object.fromEntries([...rss].map(([k, c]) => [k, c])),
      perEmulatorMiB: perEmulator,
      startupMs: Object.fromEntries([...start].map(([k, c]) => [k, c])),
    },
  };
}
