// Whether two globs can match one same path, and a short such path: a breadth-first search
// of the product of their automata. `tsyd learn` uses it to keep every learned allow rule off
// the secrets; it is not on the hot path (parsing and searching cost O(|a| × |b| × 256)).
import { loops, parseGlob, takes, type GlobStep, type ParsedGlob } from './glob.js';


/** Bytes tried first when any of many bytes will do: the witness stays readable. */
const PREFERRED = [...'x_0'].map((c) => c.charCodeAt(0));

/** Parsed globs; bounded, since tools pass many one-off globs. */
const parsed = new Map<string, ParsedGlob & { prefix: string }>();

function parse(glob: string): ParsedGlob & { prefix: string } {
  let p = parsed.get(glob);
  if (p === undefined) {
    if (parsed.size >= 1024) parsed.clear();
    const g = parseGlob(glob);
    let prefix = '';
    for (const s of g.steps) {
      if (s.kind !== 'char') break;
      prefix += String.fromCharCode(s.code);
    }
    p = { ...g, prefix };
    parsed.set(glob, p);
  }
  return p;
}

/** A byte both steps consume, or -1. */
function common(a: GlobStep, b: GlobStep): number {
  if (a.kind === 'char') return takes(b, a.code) ? a.code : -1;
  if (b.kind === 'char') return takes(a, b.code) ? b.code : -1;
  for (const c of PREFERRED) if (takes(a, c) && takes(b, c)) return c;
  for (let c = 0; c < 256; c++) if (takes(a, c) && takes(b, c)) return c;
  return -1;
}

/**
 * A byte string that both globs match — a short one — or null when none exists. The globs are
 * byte strings (latin1) in the rule syntax; a glob that does not parse throws its PatternError.
 * Any byte string counts, canonical path or not (`/a/*` and `/a/` overlap in `/a/`): an overlap
 * that only a non-canonical path has is reported too, which errs on the safe side.
 *
 * SAFETY: exact, not a heuristic — state i of a glob is "steps before i matched", a `*`/`**`
 * state may be left without consuming (an ε-move) or loop on what it matches, and a path ends
 * in state m (all matched) or, for a trailing `/***`, at the `/` step (the directory itself),
 * as in globMatcher. Every pair of states reachable on a common input is visited once.
 */
export function globOverlap(a: string, b: string): string | null {
  const A = parse(a);
  const B = parse(b);
  // Both paths start with both literal prefixes: one must be a prefix of the other.
  const n = Math.min(A.prefix.length, B.prefix.length);
  if (A.prefix.slice(0, n) !== B.prefix.slice(0, n)) return null;
  const ma = A.steps.length;
  const mb = B.steps.length;
  const width = mb + 1;
  const endA = (i: number) => i === ma || i === A.treeAt;
  const endB = (j: number) => j === mb || j === B.treeAt;
  // from[k]: the state before k (-1 at the start), by[k]: the byte read to get there (-1: ε).
  const from = new Int32Array((ma + 1) * width).fill(-2);
  const by = new Int16Array((ma + 1) * width);
  const queue: number[] = [0];
  from[0] = -1;
  const visit = (k: number, prev: number, c: number) => {
    if (from[k] !== -2) return;
    from[k] = prev;
    by[k] = c;
    queue.push(k);
  };
  for (let q = 0; q < queue.length; q++) {
    const k = queue[q]!;
    const i = Math.floor(k / width);
    const j = k % width;
    if (endA(i) && endB(j)) {
      let path = '';
      for (let s = k; from[s]! >= 0; s = from[s]!) if (by[s]! >= 0) path = String.fromCharCode(by[s]!) + path;
      return path;
    }
    const sa = A.steps[i];
    const sb = B.steps[j];
    if (loops(sa)) visit(k + width, k, -1);
    if (loops(sb)) visit(k + 1, k, -1);
    if (sa === undefined || sb === undefined) continue;
    const c = common(sa, sb);
    if (c >= 0) visit((loops(sa) ? i : i + 1) * width + (loops(sb) ? j : j + 1), k, c);
  }
  return null;
}
