// Measuring: medians, and variants run side by side (A B C A B C …) so that a noisy machine
// moves every variant alike and the ratios stay meaningful.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A variant that could not run on this machine, with the reason shown in the table. */
export class Skipped extends Error {}

/**
 * Runs `measure(variant)` for every variant, `rounds` times, interleaved. A variant that
 * throws `Skipped` is not tried again; any other error is recorded as its reason too (a
 * benchmark row must say why it is empty, never stop the whole run).
 */
export async function sideBySide<V extends { name: string }>(
  variants: V[],
  rounds: number,
  measure: (v: V) => number | Promise<number>,
): Promise<Map<string, { samples: number[]; skipped?: string }>> {
  const out = new Map<string, { samples: number[]; skipped?: string }>();
  for (const v of variants) out.set(v.name, { samples: [] });
  for (let r = 0; r < rounds; r++) {
    for (const v of variants) {
      const cell = out.get(v.name)!;
      if (cell.skipped !== undefined) continue;
      try {
        cell.samples.push(await measure(v));
      } catch (err) {
        cell.skipped = err instanceof Skipped ? err.message : `failed: ${String((err as Error).message ?? err).split('\n')[0]}`;
      }
    }
  }
  return out;
}

export interface RunOutput {
  ms: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; its wall time in ms. A non-zero exit is an error naming it. */
export function timed(argv: string[], opts: SpawnSyncOptions = {}): RunOutput {
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 600_000, ...opts });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    const tail = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${tail}`);
  }
  return { ms, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** The `ns=N` a bench C program prints. */
export function parseNs(stdout: string): number {
  const m = /ns=(\d+)/.exec(stdout);
  if (!m) throw new Error(`no ns= in output: ${stdout.slice(0, 200)}`);
  return Number(m[1]);
}

export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(1)}×`;
}

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  return ns >= 10_000 ? `${(ns / 1000).toFixed(0)} µs` : `${(ns / 1000).toFixed(1)} µs`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
