// "did you mean" for a mistyped name: the candidate equal but for case, else the nearest within
// a third of its length in edits (a swap of neighbours is one), else none.

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`: optimal string alignment. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate `word` most likely meant, or undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const same = candidates.find((c) => c.toLowerCase() === lower);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d <= Math.max(1, Math.floor(c.length / 3)) && d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/**
 * `unknown KIND 'WORD'` and what to do: `; did you mean 'X'? (expected one of A, B)` when a
 * candidate is close, else `; expected one of A, B`; `expected` overrides the list's wording.
 */
export function unknownName(kind: string, word: string, candidates: readonly string[], expected = `expected one of ${candidates.join(', ')}`): string {
  const c = closest(word, candidates);
  return `unknown ${kind} '${word}'${c === undefined ? `; ${expected}` : `; did you mean '${c}'? (${expected})`}`;
}
