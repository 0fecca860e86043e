// Memory: what each supervisor thread's isolate holds (the TSYD_DEBUG_MEMORY records of
// src/shared/thread-memory.ts), tsyd's RSS per emulator thread (the slope from 1 to 17 emulators,
// the extra ones held by FIFO opens), and the peak RSS of `tsyd run -- true` beside `node -e 0`.
import { execFileSync, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cprog, tsyd, tsydBin, work } from './lib/tools.js';
import { median, sideBySide, Skipped } from './lib/measure.js';
import type { Section } from './lib/report.js';
import { emulatorThreads } from './pool.js';

const READ_ALL = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***'];
const FIELDS = ['heap_used', 'heap_physical', 'new_space', 'old_space', 'code_space', 'large_object_space', 'malloced', 'external', 'code', 'bytecode'] as const;
type ThreadFigures = Record<(typeof FIELDS)[number], number>;

/** The thread_memory records of one `tsyd run -- true`, by thread kind (the first of each). */
function threadFigures(): Map<string, ThreadFigures> {
  const r = spawnSync(process.execPath, [tsydBin, 'run', '--log-level', 'info', ...READ_ALL, '--', 'true'], {
    encoding: 'utf8',
    env: { ...process.env, TSYD_DEBUG_MEMORY: '1', TSYD_NPROC: '1' },
  });
  const out = new Map<string, ThreadFigures>();
  for (const line of String(r.stderr).split('\n')) {
    if (!line.includes('"thread_memory"')) continue;
    const rec = JSON.parse(line) as Record<string, number> & { thread: string };
    if (!out.has(rec.thread)) out.set(rec.thread, Object.fromEntries(FIELDS.map((f) => [f, rec[f]!])) as ThreadFigures);
  }
  if (out.size === 0) throw new Error(`no thread_memory record: ${String(r.stderr).slice(0, 300)}`);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let fifoRuns = 0;

/**
 * RSS (KiB, /proc/PID/status) of a `tsyd run` whose program holds `k` emulators in FIFO opens
 * (TSYD_FAULT=inline-blocking: otherwise such an open waits on a job thread), and how many
 * emulator threads it then has (k + the core one + perhaps a spare).
 */
async function rssHolding(k: number, policy: string[]): Promise<{ kib: number; emulators: number }> {
  const prefix = join(work, `mem${fifoRuns++}_`);
  if (k > 0) execFileSync('mkfifo', Array.from({ length: k }, (_, i) => `${prefix}${i}`));
  const argv = [tsydBin, 'run', ...policy, '--', cprog('fifoload'), String(k), prefix, '/etc/hostname', '1', '1'];
  const child = spawnProcess(process.execPath, argv, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TSYD_NPROC: '1', TSYD_KEEP_ALIVE: '60000', TSYD_FAULT: 'inline-blocking' },
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += String(b)));
  try {
    const end = Date.now() + 30_000;
    while (!(out.includes('started') && emulatorThreads(child.pid!) > k)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${k + 1} emulators`);
      await sleep(10);
    }
    // Let the last threads finish their start-up allocations, and a spare come up if it will.
    await sleep(700);
    const kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN);
    return { kib, emulators: emulatorThreads(child.pid!) };
  } finally {
    const gone = new Promise((r) => child.once('close', r));
    child.kill('SIGKILL');
    await gone;
  }
}

/** Peak RSS (KiB) of a whole command, from GNU time's %M. */
function peakKiB(argv: string[]): number {
  if (!existsSync('/usr/bin/time')) throw new Skipped('no /usr/bin/time (Debian package time)');
  const r = spawnSync('/usr/bin/time', ['-f', 'peak=%M', ...argv], { encoding: 'utf8' });
  const m = /peak=(\d+)/.exec(String(r.stderr));
  if (!m) throw new Error(`no peak from /usr/bin/time: ${String(r.stderr).slice(-200)}`);
  return Number(m[1]);
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

export async function memory(rounds: number): Promise<Section> {
  const perThread = new Map<string, ThreadFigures[]>();
  for (let i = 0; i < Math.max(rounds, 3); i++) {
    for (const [thread, f] of threadFigures()) perThread.set(thread, [...(perThread.get(thread) ?? []), f]);
  }
  process.stderr.write('bench: thread memory done\n');

  const HELD = [0, 16];
  // The user profile (the default) holds more per emulator than one rule does: both.
  const PROFILES = [
    { name: '-p none, read:on', policy: READ_ALL },
    { name: 'default profile', policy: ['-m', `allow/read+${work}/***`] },
  ];
  const held = new Map(PROFILES.map((p) => [p.name, new Map<number, { kib: number; emulators: number }[]>(HELD.map((k) => [k, []]))]));
  for (let i = 0; i < Math.max(rounds, 3); i++) {
    for (const p of PROFILES) for (const k of HELD) held.get(p.name)!.get(k)!.push(await rssHolding(k, p.policy));
  }
  process.stderr.write('bench: RSS per emulator done\n');
  const med = (p: string, k: number, f: 'kib' | 'emulators') => median(held.get(p)!.get(k)!.map((s) => s[f]));
  const perEmulatorKiB = (p: string) => (med(p, 16, 'kib') - med(p, 0, 'kib')) / (med(p, 16, 'emulators') - med(p, 0, 'emulators'));

  const peakVariants = [
    { name: '`node -e 0`', argv: [process.execPath, '-e', '0'] },
    { name: '`tsyd run -- true` (default profile)', argv: [...tsyd(), 'true'] },
    { name: '`tsyd run -p off -- true`', argv: [...tsyd('-p', 'off'), 'true'] },
  ];
  const peak = await sideBySide(peakVariants, Math.max(rounds * 2, 5), (v) => peakKiB(v.argv));
  process.stderr.write('bench: peak RSS done\n');
  const m = (c: { samples: number[] } | undefined) => median(c?.samples ?? []);

  return {
    id: 'memory',
    title: 'Memory',
    method: [
      'Threads: the `thread_memory` record each supervisor thread logs once ready under `TSYD_DEBUG_MEMORY=1` ' +
        '(v8.getHeapStatistics, getHeapSpaceStatistics physical sizes, getHeapCodeStatistics) in `tsyd run --log-level info -p none -m sandbox/read:on -- true`, medians. ' +
        'RSS per emulator: VmRSS of `tsyd run` whose program holds 0 or 16 emulators in FIFO opens (TSYD_NPROC=1, TSYD_FAULT=inline-blocking), with one read rule (`-p none`) and with the default profile, ' +
        '(RSS₁₆ − RSS₀) / (emulators₁₆ − emulators₀), medians. Peak RSS: GNU time `%M` of the whole command, side by side.',
    ],
    tables: [
      {
        caption: '**What a thread holds** (KiB, median)',
        headers: ['thread', ...FIELDS],
        rows: [...perThread].map(([thread, fs]) => [thread, ...FIELDS.map((f) => String(median(fs.map((x) => x[f]))))]),
      },
      {
        caption: '**RSS of tsyd by emulators held**',
        headers: ['policy', 'FIFO opens held', 'emulators', 'RSS', 'per emulator'],
        rows: PROFILES.flatMap((p) => HELD.map((k) => [p.name, String(k), String(med(p.name, k, 'emulators')), mib(med(p.name, k, 'kib')), k === 0 ? '' : mib(perEmulatorKiB(p.name))])),
      },
      {
        caption: '**Peak RSS**',
        headers: ['command', 'peak RSS'],
        rows: peakVariants.map((v) => {
          const c = peak.get(v.name)!;
          return [v.name, c.skipped ? c.skipped : mib(m(c))];
        }),
      },
    ],
    notes: [`RSS per emulator thread: ${PROFILES.map((p) => `${mib(perEmulatorKiB(p.name))} (${p.name})`).join(', ')}.`],
    data: {
      threads: Object.fromEntries(perThread),
      held: Object.fromEntries([...held].map(([p, m]) => [p, Object.fromEntries(m)])),
      perEmulatorKiB: Object.fromEntries(PROFILES.map((p) => [p.name, perEmulatorKiB(p.name)])),
      peakKiB: Object.fromEntries(peak),
    },
  };
}
