// Seeded randomness for the reliability tests: the seed comes from an environment variable (to
// repeat a run) or is drawn, and every assertion message names it.
import { randomInt } from 'node:crypto';

/** The seed in `$NAME`, or a fresh one (a 31-bit integer). */
export function seedFrom(name: string): number {
  const given = process.env[name];
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new Error(`${name} must be an integer from 0 to 2^31-1, got ${given}`);
    return n;
  }
  return randomInt(0x7fffffff);
}

/** How long the soak runs, in seconds: $TSYD_SOAK_SECONDS, or `short` (the form in `npm test`). */
export function soakSeconds(short: number): number {
  const given = process.env.TSYD_SOAK_SECONDS;
  if (given === undefined || given === '') return short;
  const n = Number(given);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`TSYD_SOAK_SECONDS must be a positive number, got ${given}`);
  return n;
}

/** A small seeded generator (mulberry32): the same seed gives the same sequence. */
export function rng(seed: number): { next(): number; int(lo: number, hi: number): number } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}
