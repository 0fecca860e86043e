// The ids a user namespace maps: /proc/PID/uid_map and gid_map, read from tsyd's namespace, so
// each line's second field is the first id of the range as tsyd (the reader) sees it.
import { readFileSync } from 'node:fs';

/** `count` ids from `first` (tsyd's side of one line of a map). */
export interface IdRange {
  first: number;
  count: number;
}

/** The ranges of `pid`'s uid_map or gid_map as tsyd sees them; [] when unreadable or not written yet. */
export function readIdMap(pid: number, which: 'uid_map' | 'gid_map'): IdRange[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/${which}`, 'latin1');
  } catch {
    return [];
  }
  const ranges: IdRange[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/).map(Number);
    if (f.length !== 3 || !f.every((n) => Number.isInteger(n) && n >= 0)) continue;
    const [, first, count] = f as [number, number, number];
    // SAFETY: never past the last id a 32-bit uid_t names ((uid_t)-1 is no id).
    const last = Math.min(first + count, 0xffffffff);
    if (count > 0 && first < last) ranges.push({ first, count: last - first });
  }
  return ranges;
}

/** Ranges listed one by one at most; more (a map may have 340 lines) become the one range that covers them. */
export const MAX_RANGES = 16;

/**
 * `ranges` sorted, overlapping and adjacent ones joined. Past MAX_RANGES, with `cover`, the range
 * from the first id to the last (wider than the map: its gaps too), else the first MAX_RANGES
 * ranges only (the ids of the rest refused). SAFETY: `cover` is for the runtime's containers
 * (root's, whose own root may take any id); a map an allowed client wrote (17 single ids far
 * apart) must not widen the bound to every user between them. The bound is defence in depth for
 * the emulators' filter, whose program must stay within BPF_MAXINSNS.
 */
export function joinRanges(ranges: IdRange[], cover: boolean): IdRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first);
  const out: IdRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.first <= last.first + last.count) {
      last.count = Math.max(last.count, r.first + r.count - last.first);
    } else out.push({ ...r });
  }
  if (out.length <= MAX_RANGES) return out;
  if (!cover) return out.slice(0, MAX_RANGES);
  const end = Math.max(...out.map((r) => r.first + r.count));
  return [{ first: out[0]!.first, count: end - out[0]!.first }];
}
