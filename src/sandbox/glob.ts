// syd-style globs over byte strings (latin1, one char per byte). `*` and `?` never match `/`,
// `**` matches anything (zero or more chars, `/` included), a trailing `/***` is the directory
// itself and everything below it, `[...]` classes never match `/`, `\` escapes the next char.
// The whole path must match.
import { PatternError } from './pattern-error.js';

/** One compiled element of a glob; `at` is its offset in the pattern text. */
export type GlobStep =
  | { kind: 'char'; code: number; at: number }
  | { kind: 'one'; at: number }
  | { kind: 'class'; set: Uint8Array; at: number }
  | { kind: 'star'; at: number }
  | { kind: 'globstar'; at: number };

export interface ParsedGlob {
  steps: GlobStep[];
  /** With a trailing `/***`: the index of its `/` step, where a match may also end. Else -1. */
  treeAt: number;
}

/** A compiled glob: true when the whole byte string matches. */
export type GlobMatcher = (path: string) => boolean;

const SLASH = 0x2f;
const CLASS_FORM = 'a class such as [abc], [a-z] or [!abc]; write \\[ for a literal [';

/** Parses a glob; throws a PatternError that locates what is wrong. */
export function parseGlob(pattern: string): ParsedGlob {
  const bad = (at: number, reason: string, expected: string) => new PatternError(pattern, at, reason, expected);
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.charCodeAt(i) > 0xff) {
      throw bad(i, 'not a byte string (a char above U+00FF)', 'bytes as latin1: convert UTF-8 text with toBytes()');
    }
  }
  const steps: GlobStep[] = [];
  let treeAt = -1;
  const n = pattern.length;
  let i = 0;
  while (i < n) {
    const c = pattern[i]!;
    if (c === '*') {
      let j = i;
      while (pattern[j] === '*') j++;
      const run = j - i;
      const last = steps[steps.length - 1];
      if (run === 3 && j === n && last?.kind === 'char' && last.code === SLASH) {
        treeAt = steps.length - 1;
        steps.push({ kind: 'globstar', at: i });
      } else {
        steps.push(run === 1 ? { kind: 'star', at: i } : { kind: 'globstar', at: i });
      }
      i = j;
    } else if (c === '?') {
      steps.push({ kind: 'one', at: i++ });
    } else if (c === '[') {
      const [set, end] = parseClass(pattern, i, bad);
      steps.push({ kind: 'class', set, at: i });
      i = end;
    } else if (c === '\\') {
      if (i + 1 >= n) throw bad(i, 'a trailing \\ escapes nothing', 'a char after \\, or \\\\ for a literal \\');
      steps.push({ kind: 'char', code: pattern.charCodeAt(i + 1), at: i });
      i += 2;
    } else {
      steps.push({ kind: 'char', code: pattern.charCodeAt(i), at: i++ });
    }
  }
  return { steps, treeAt };
}

type Bad = (at: number, reason: string, expected: string) => PatternError;

/** `pattern[start] === '['`; returns the byte set and the index after `]`. */
function parseClass(pattern: string, start: number, bad: Bad): [Uint8Array, number] {
  const n = pattern.length;
  let j = start + 1;
  let negate = false;
  if (pattern[j] === '!' || pattern[j] === '^') {
    negate = true;
    j++;
  }
  const set = new Uint8Array(256);
  // One char of the class, `\` escaping; returns [code, next index].
  const member = (k: number): [number, number] => {
    if (k >= n) throw bad(start, 'unterminated character class', CLASS_FORM);
    if (pattern[k] !== '\\') return [pattern.charCodeAt(k), k + 1];
    if (k + 1 >= n) throw bad(start, 'unterminated character class', CLASS_FORM);
    return [pattern.charCodeAt(k + 1), k + 2];
  };
  for (let first = true; ; first = false) {
    if (j >= n) throw bad(start, 'unterminated character class', CLASS_FORM);
    if (pattern[j] === ']' && !first) {
      j++;
      break;
    }
    if (pattern[j] === '[' && pattern[j + 1] === ':') {
      throw bad(j, 'POSIX classes such as [:alpha:] are not supported', 'the chars listed, e.g. [a-zA-Z]');
    }
    const at = j;
    const [lo, next] = member(j);
    let hi = lo;
    j = next;
    if (pattern[j] === '-' && j + 1 < n && pattern[j + 1] !== ']') {
      [hi, j] = member(j + 1);
      if (hi < lo) throw bad(at, `the range ${pattern.slice(at, j)} is reversed`, 'a range low-high, e.g. [a-z]');
    }
    set.fill(1, lo, hi + 1);
  }
  if (negate) for (let k = 0; k < 256; k++) set[k] = set[k]! ^ 1;
  // SAFETY: a class never matches `/`, as `*` and `?` don't: `[!x]` cannot cross a component.
  set[SLASH] = 0;
  if (!set.includes(1)) throw bad(start, 'the character class can never match (a class never matches /)', CLASS_FORM);
  return [set, j];
}

const matchers = new Map<string, GlobMatcher>();

/**
 * The cached matcher of a glob: string equality for a literal, a prefix test for `LITERAL/***`
 * and `LITERAL**`, otherwise a set-of-states automaton (its tables made on its first call: a
 * profile has ~360 patterns, and a process matches paths against few of them). `parsed`: the
 * pattern's parseGlob(), when the caller has it.
 *
 * SAFETY: this runs for every checked system call with a path the program chose. It takes
 * O(path × pattern) steps at worst and never backtracks: a backtracking RegExp lets a program
 * stall the supervisor (measured: `/*a*a*a*b` on one 255-byte name, 1 s; `/**` `/**` `/**` `/x`
 * on a 4 KiB path, 4.5 s). The cache is keyed by rule patterns only, never by paths, so its
 * size is bounded by the policy.
 */
export function globMatcher(pattern: string, parsed?: ParsedGlob): GlobMatcher {
  let m = matchers.get(pattern);
  if (m === undefined) {
    m = buildMatcher(parsed ?? parseGlob(pattern));
    matchers.set(pattern, m);
  }
  return m;
}

/** How many leading steps are literal chars (the prefix tested with startsWith). */
function literalSteps(steps: readonly GlobStep[]): number {
  let p = 0;
  while (steps[p]?.kind === 'char') p++;
  return p;
}

/** Is the glob matched without an automaton: a literal, `LITERAL/***` or `LITERAL**`? */
function isPlain({ steps }: ParsedGlob, p: number): boolean {
  if (p === steps.length) return true;
  // The only non-literal step is the final `**` (or the `**` of a trailing `/***`).
  return p === steps.length - 1 && steps[p]!.kind === 'globstar';
}

/**
 * The states the matcher of a glob simulates past its literal prefix: 0 for a literal or a
 * prefix test. SAFETY: a match of a path of n bytes visits at most n × (this + 1) states,
 * whatever the path: the bound of a decision's work that run-time rules are budgeted in
 * (src/shared/runtime-rule-limits.ts).
 */
export function automatonSteps(g: ParsedGlob): number {
  const p = literalSteps(g.steps);
  return isPlain(g, p) ? 0 : g.steps.length - p;
}

function buildMatcher(g: ParsedGlob): GlobMatcher {
  const { steps, treeAt } = g;
  const p = literalSteps(steps);
  let prefix = '';
  for (const s of steps.slice(0, p)) if (s.kind === 'char') prefix += String.fromCharCode(s.code);
  if (p === steps.length) return (path) => path === prefix;
  if (isPlain(g, p)) {
    if (treeAt >= 0 && treeAt === p - 1) {
      const dir = prefix.slice(0, -1);
      return (path) => path === dir || path.startsWith(prefix);
    }
    return (path) => path.startsWith(prefix);
  }
  return automaton(steps, treeAt, p, prefix);
}

const CHAR = 0;
const ONE = 1;
const CLASS = 2;
const STAR = 3;
const GLOBSTAR = 4;
const KIND = { char: CHAR, one: ONE, class: CLASS, star: STAR, globstar: GLOBSTAR } as const;

const NO_KINDS = new Uint8Array(0);
const NO_STATES = new Int32Array(0);
const NO_MARKS = new Uint32Array(0);

/**
 * Simulates the glob's automaton: state i = "about to match step i", state m = matched all.
 * The first `start` steps are the literal `prefix`, tested with startsWith. Scratch arrays
 * are per matcher: a matcher never re-enters itself and each worker has its own module.
 */
function automaton(steps: GlobStep[], treeAt: number, start: number, prefix: string): GlobMatcher {
  const m = steps.length;
  // Made on the first call (see globMatcher): the matcher of a rule no path reaches costs its steps only.
  let ready = false;
  let kind = NO_KINDS;
  let code = NO_STATES;
  let sets: Array<Uint8Array | undefined> = [];
  let mark = NO_MARKS;
  let gen = 0;
  let cur = NO_STATES;
  let next = NO_STATES;
  const makeTables = () => {
    kind = Uint8Array.from(steps, (s) => KIND[s.kind]);
    code = Int32Array.from(steps, (s) => (s.kind === 'char' ? s.code : -1));
    sets = steps.map((s) => (s.kind === 'class' ? s.set : undefined));
    mark = new Uint32Array(m + 1);
    cur = new Int32Array(m + 1);
    next = new Int32Array(m + 1);
    ready = true;
  };

  // Adds state st and, through `*`/`**` matching nothing, the states after it.
  const add = (list: Int32Array, n: number, st: number): number => {
    for (;;) {
      if (mark[st] === gen) return n;
      mark[st] = gen;
      list[n++] = st;
      if (st < m && kind[st]! >= STAR) st++;
      else return n;
    }
  };

  return (path) => {
    if (!path.startsWith(prefix)) return false;
    if (!ready) makeTables();
    if (gen > 0xffffffff - path.length - 2) {
      mark.fill(0);
      gen = 0;
    }
    gen++;
    let nCur = add(cur, 0, start);
    for (let pos = start; pos < path.length; pos++) {
      const c = path.charCodeAt(pos);
      gen++;
      let nNext = 0;
      for (let k = 0; k < nCur; k++) {
        const st = cur[k]!;
        if (st === m) continue;
        switch (kind[st]) {
          case CHAR:
            if (c === code[st]) nNext = add(next, nNext, st + 1);
            break;
          case ONE:
            if (c !== SLASH) nNext = add(next, nNext, st + 1);
            break;
          case CLASS:
            if (c < 256 && sets[st]![c] === 1) nNext = add(next, nNext, st + 1);
            break;
          case STAR:
            if (c !== SLASH) nNext = add(next, nNext, st);
            break;
          default: // GLOBSTAR
            nNext = add(next, nNext, st);
        }
      }
      if (nNext === 0) return false;
      [cur, next] = [next, cur];
      nCur = nNext;
    }
    return mark[m] === gen || (treeAt >= 0 && mark[treeAt] === gen);
  };
}

const regexps = new Map<string, RegExp>();

/**
 * The glob as an anchored RegExp (cached), for tools and display. The policy does not use it:
 * a backtracking RegExp can take exponential time on a hostile path (see globMatcher).
 */
export function compileGlob(pattern: string): RegExp {
  let re = regexps.get(pattern);
  if (re === undefined) {
    const { steps, treeAt } = parseGlob(pattern);
    const body = (from: number, to: number) => steps.slice(from, to).map(stepSource).join('');
    const src = treeAt < 0 ? body(0, steps.length) : `${body(0, treeAt)}(?:\\/[^]*)?`;
    re = new RegExp(`^${src}$`);
    regexps.set(pattern, re);
  }
  return re;
}

const hex = (c: number) => `\\x${c.toString(16).padStart(2, '0')}`;

function stepSource(s: GlobStep): string {
  switch (s.kind) {
    case 'char': {
      const ch = String.fromCharCode(s.code);
      return /[A-Za-z0-9_ ,:;=@%&~'"<>!#-]/.test(ch) ? ch : hex(s.code);
    }
    case 'one':
      return '[^/]';
    case 'star':
      return '[^/]*';
    case 'globstar':
      return '[^]*';
    case 'class': {
      let out = '';
      for (let lo = 0; lo < 256; lo++) {
        if (s.set[lo] !== 1) continue;
        let hi = lo;
        while (hi < 255 && s.set[hi + 1] === 1) hi++;
        out += lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`;
        lo = hi;
      }
      return `[${out}]`;
    }
  }
}

// Analysis of a glob's automaton, off the hot path (renames of directories, stat's link count
// of directories). A set of states is a sorted list of step indices: state i = "about to match
// step i", state steps.length = "matched all".

const parsedGlobs = new Map<string, ParsedGlob>();

/** parseGlob, cached: keyed by rule patterns only, so bounded by the policy. */
export function parsedGlob(pattern: string): ParsedGlob {
  let g = parsedGlobs.get(pattern);
  if (g === undefined) {
    g = parseGlob(pattern);
    parsedGlobs.set(pattern, g);
  }
  return g;
}

/** Is `s` a step that loops on what it takes (`*`, `**`)? */
export const loops = (s: GlobStep | undefined) => s?.kind === 'star' || s?.kind === 'globstar';

/** Adds `st` to `set` and, through `*` and `**` matching nothing, the states after it. */
function addClosed(steps: readonly GlobStep[], set: Set<number>, st: number): void {
  for (;;) {
    if (set.has(st)) return;
    set.add(st);
    if (loops(steps[st])) st++;
    else return;
  }
}

/** Whether step `s` takes the byte `c` (`*`, `?` and classes never take `/`). */
export function takes(s: GlobStep, c: number): boolean {
  switch (s.kind) {
    case 'char':
      return c === s.code;
    case 'class':
      return c < 256 && s.set[c] === 1;
    case 'globstar':
      return true;
    default: // `?` and `*`
      return c !== SLASH;
  }
}

/** The state after step `st` took a byte: `*` and `**` stay where they are. */
const afterStep = (steps: readonly GlobStep[], st: number) => (loops(steps[st]) ? st : st + 1);

const sorted = (set: Set<number>) => [...set].sort((a, b) => a - b);

/** The states before any byte is read. */
export function startStates({ steps }: ParsedGlob): number[] {
  const set = new Set<number>();
  addClosed(steps, set, 0);
  return sorted(set);
}

/** The states after reading the byte `c` in `states`; [] when no continuation can match. */
export function nextStates({ steps }: ParsedGlob, states: readonly number[], c: number): number[] {
  const set = new Set<number>();
  for (const st of states) {
    const s = steps[st];
    if (s !== undefined && takes(s, c)) addClosed(steps, set, afterStep(steps, st));
  }
  return sorted(set);
}

/** The states after reading `text` from the start. */
function readStates(g: ParsedGlob, text: string): number[] {
  let states = startStates(g);
  for (let pos = 0; pos < text.length && states.length > 0; pos++) states = nextStates(g, states, text.charCodeAt(pos));
  return states;
}

/** Does the text read so far (that led to `states`) match? */
export function acceptsIn({ steps, treeAt }: ParsedGlob, states: readonly number[]): boolean {
  return states.some((st) => st === steps.length || st === treeAt);
}

/** Can the loop step `st` (`*` or `**`) end the match right there? */
function loopEndsMatch(g: ParsedGlob, st: number): boolean {
  const set = new Set<number>();
  addClosed(g.steps, set, st);
  return acceptsIn(g, [...set]);
}

/**
 * Does every continuation of the text read so far match (a `**` that can end the match)?
 * Conservative: false when unsure.
 */
export function matchesEveryContinuation(g: ParsedGlob, states: readonly number[]): boolean {
  return states.some((st) => g.steps[st]?.kind === 'globstar' && loopEndsMatch(g, st));
}

/**
 * The glob's automaton states after reading `text` (a prefix of some path), as a key: two
 * prefixes with the same key are followed by exactly the same matches for every suffix; ''
 * when no continuation can match.
 */
export function globStateKey(pattern: string, text: string): string {
  return readStates(parsedGlob(pattern), text).join(',');
}

/** How a glob matches the direct children `DIR/NAME` of a directory (NAME: one component). */
export const ChildMatch = { none: 0, some: 1, all: 2 } as const;
export type ChildMatchValue = (typeof ChildMatch)[keyof typeof ChildMatch];

/**
 * Whether `pattern` matches no child `DIR/NAME` of the directory `dir` (NAME any non-empty
 * name without `/`), some, or all of them. `all` is conservative (a `*` or `**` state that
 * can end right there; a class list that happens to cover every byte says `some`); `none` and
 * `some` are exact. For the link count of directories (stat hides subdirectories), off the
 * hot path: the caller caches per directory.
 */
export function childMatch(pattern: string, dir: string): ChildMatchValue {
  const g = parsedGlob(pattern);
  const { steps } = g;
  const text = dir === '/' ? '/' : `${dir}/`;
  let cur = startStates(g);
  for (let pos = 0; pos < text.length && cur.length > 0; pos++) {
    // A `**` that can end the match takes every byte and stays: every child matches (the
    // answer below once `text` is read), known without reading the rest.
    if (cur.some((st) => steps[st]?.kind === 'globstar' && loopEndsMatch(g, st))) return ChildMatch.all;
    cur = nextStates(g, cur, text.charCodeAt(pos));
  }
  if (cur.length === 0) return ChildMatch.none;
  if (cur.some((st) => loops(steps[st]) && loopEndsMatch(g, st))) return ChildMatch.all;
  // Some name: one or more bytes other than '/', each taking a step any such byte can take.
  const seen = new Set<number>();
  let frontier = cur;
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const st of frontier) {
      const s = steps[st];
      if (s === undefined || (s.kind === 'char' && s.code === SLASH)) continue;
      const reached = new Set<number>();
      addClosed(steps, reached, afterStep(steps, st));
      for (const r of reached) {
        if (seen.has(r)) continue;
        seen.add(r);
        if (acceptsIn(g, [r])) return ChildMatch.some;
        next.push(r);
      }
    }
    frontier = next;
  }
  return ChildMatch.none;
}
