// Whether two directories decide every path below them alike: for a rule list (last match wins,
// a default when none matches), are the prefixes `a` and `b` followed by the same decision for
// every suffix? Decided exactly, as the equivalence of two states of the product of the rules'
// glob automata, explored pair by pair. For renames of whole directories: off the hot path.
import { acceptsIn, matchesEveryContinuation, nextStates, startStates, type ParsedGlob } from './glob.js';

/** One rule of the list: its glob and whether it allows. */
export interface DecisionRule {
  allow: boolean;
  glob: ParsedGlob;
}

/**
 * Where two prefixes part: null when every suffix is decided alike; else the first suffix
 * (shortest, bytes as latin1) decided differently, or `undefined` when the exploration hit its
 * bound (not known: treated as different).
 */
export type SubtreeDifference = null | { suffix: string | undefined };

/** SAFETY: past this many pairs of states the answer is "different" (EXDEV: copy file by file). */
export const MAX_PAIRS = 100_000;
/**
 * SAFETY: states built, all rules together: past this many an exploration is "different" too,
 * and the automata are dropped and rebuilt at the next question (memory stays bounded).
 */
const MAX_STATES = 200_000;
/** Answers kept per pair of start states before the cache is dropped. */
const MAX_ANSWERS = 4096;
/** SAFETY: past this many numbers in the product states of one exploration, likewise "different". */
const MAX_TUPLE_ENTRIES = 4_000_000;

const SLASH = 0x2f;
const DEAD = 0;

/** The bytes no step of a rule list tells apart, as classes: one byte stands for each. */
export interface ByteClasses {
  /** Per class, the byte that stands for it. */
  reps: number[];
  /** Per byte, its class. */
  classOf: Uint8Array;
}

/** Letters and digits, other printable ASCII, other bytes, control bytes: 0 is read first. */
const rank = (c: number) => (/[a-z0-9]/i.test(String.fromCharCode(c)) ? 0 : c >= 0x20 && c < 0x7f ? 1 : c >= 0x80 ? 2 : 3);
/** Bytes in the order their classes are named by, so that a differing suffix reads well. */
const PREFERRED = Array.from({ length: 256 }, (_, c) => c).sort((a, b) => rank(a) - rank(b) || a - b);

/**
 * The classes of bytes that no step of `globs` tells apart: each char step's byte, `/`, the
 * bytes of each class step (refined against one another), and every other byte (`?`, `*` and
 * `**` tell only `/` apart).
 */
export function byteClasses(globs: readonly ParsedGlob[]): ByteClasses {
  const chars = new Set<number>([SLASH]);
  const sets: Uint8Array[] = [];
  for (const { steps } of globs) {
    for (const s of steps) {
      if (s.kind === 'char') chars.add(s.code);
      else if (s.kind === 'class') sets.push(s.set);
    }
  }
  const classes = new Map<string, number>();
  const reps: number[] = [];
  const classOf = new Uint8Array(256);
  for (const c of PREFERRED) {
    const signature = chars.has(c) ? `c${c}` : sets.map((set) => set[c]).join('');
    let cls = classes.get(signature);
    if (cls === undefined) {
      cls = reps.length;
      classes.set(signature, cls);
      reps.push(c);
    }
    classOf[c] = cls;
  }
  return { reps, classOf };
}

/** States built by the automata of one rule list, all together. */
interface StateCount {
  n: number;
}

/** Lists of numbers stored once each: ids from 0, in the order first met. */
class Interned {
  private readonly ids = new Map<string, number>();
  readonly lists: number[][] = [];

  /** The id of `list`; `added` runs for a list met for the first time. */
  id(list: number[], added?: (list: number[]) => void): number {
    const key = list.join(',');
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.lists.length;
      this.ids.set(key, id);
      this.lists.push(list);
      added?.(list);
    }
    return id;
  }
}

/** One rule's glob as a deterministic automaton built on demand: state 0 (DEAD) is no state. */
class LazyDfa {
  /** Per state id, its set of glob states. */
  private readonly sets = new Interned();
  /** Per state: does the text read so far match? */
  readonly accepts: boolean[] = [];
  /** Per state: does every continuation match? (Then the rules before this one never win.) */
  readonly everything: boolean[] = [];
  /** Per state, per byte class: the next state (-1: not built yet). */
  private readonly moves: Int32Array[] = [];
  private readonly start: number;

  constructor(
    private readonly glob: ParsedGlob,
    private readonly bytes: ByteClasses,
    private readonly built: StateCount,
  ) {
    this.intern([]); // DEAD
    this.start = this.intern(startStates(glob));
  }

  /** The state after reading `text` from the start. */
  read(text: string): number {
    let state = this.start;
    for (let pos = 0; pos < text.length && state !== DEAD; pos++) state = this.step(state, this.bytes.classOf[text.charCodeAt(pos)]!);
    return state;
  }

  step(state: number, byteClass: number): number {
    if (state === DEAD) return DEAD;
    let row = this.moves[state];
    if (row === undefined) {
      row = new Int32Array(this.bytes.reps.length).fill(-1);
      this.moves[state] = row;
    }
    let next = row[byteClass]!;
    if (next < 0) {
      next = this.intern(nextStates(this.glob, this.sets.lists[state]!, this.bytes.reps[byteClass]!));
      row[byteClass] = next;
    }
    return next;
  }

  private intern(states: number[]): number {
    return this.sets.id(states, () => {
      this.accepts.push(acceptsIn(this.glob, states));
      this.everything.push(matchesEveryContinuation(this.glob, states));
      this.built.n++;
    });
  }
}

/**
 * A state of the product, sparse: [rule, state, rule, state, ...] for the rules whose automaton
 * is alive, by rule index. (Most rules die within a path's first components.)
 */
type Tuple = number[];

/** The decisions of one rule list, for comparing what two prefixes lead to. */
export class SubtreeDecisions {
  private dfas: LazyDfa[] = [];
  private readonly built: StateCount = { n: 0 };
  private readonly bytes: ByteClasses;
  private readonly answers = new Map<string, SubtreeDifference>();

  constructor(
    private readonly rules: readonly DecisionRule[],
    private readonly defaultAllow: boolean,
  ) {
    this.bytes = byteClasses(rules.map((r) => r.glob));
    this.reset();
  }

  /** Where the paths `a + suffix` and `b + suffix` are first decided differently (see SubtreeDifference). */
  difference(a: string, b: string): SubtreeDifference {
    // SAFETY: paths are byte strings; anything else is not compared, it is "different".
    if (/[^\x00-\xff]/.test(a + b)) return { suffix: undefined };
    if (this.built.n > MAX_STATES) this.reset();
    const from = this.read(a).join(',');
    const to = this.read(b).join(',');
    // The same states: the same decisions for every suffix.
    if (from === to) return null;
    const key = `${from}|${to}`;
    let answer = this.answers.get(key);
    if (answer === undefined) {
      answer = this.explore(this.read(a), this.read(b));
      if (this.answers.size >= MAX_ANSWERS) this.answers.clear();
      this.answers.set(key, answer);
    }
    return answer;
  }

  private reset(): void {
    this.built.n = 0;
    this.dfas = this.rules.map((r) => new LazyDfa(r.glob, this.bytes, this.built));
    this.answers.clear();
  }

  private read(text: string): Tuple {
    const t: Tuple = [];
    this.dfas.forEach((d, rule) => {
      const state = d.read(text);
      if (state !== DEAD) t.push(rule, state);
    });
    return this.normalize(t);
  }

  /**
   * Breadth first over pairs of product states, one byte of each class at a time: the first
   * pair decided differently gives the shortest differing suffix; no new pair left, none.
   */
  private explore(a: Tuple, b: Tuple): SubtreeDifference {
    const { reps } = this.bytes;
    const tuples = new Interned();
    let entries = 0;
    const id = (t: Tuple) => tuples.id(t, () => (entries += t.length));
    // Pair i: product states (pairA[i], pairB[i]), reached from pair parent[i] by byte[i].
    const pairA = [id(a)];
    const pairB = [id(b)];
    const parent = [-1];
    const byte = [-1];
    const seen = new Set<number>([pairKey(pairA[0]!, pairB[0]!)]);
    for (let at = 0; at < pairA.length; at++) {
      for (let cls = 0; cls < reps.length; cls++) {
        const x = this.step(tuples.lists[pairA[at]!]!, cls);
        const y = this.step(tuples.lists[pairB[at]!]!, cls);
        if (this.decide(x) !== this.decide(y)) return { suffix: suffixOf(parent, byte, at) + String.fromCharCode(reps[cls]!) };
        const xid = id(x);
        const yid = id(y);
        // The same states: the same decisions from here on.
        if (xid === yid) continue;
        const key = pairKey(xid, yid);
        if (seen.has(key)) continue;
        // SAFETY: fail closed: an exploration this large is not finished, it is "different".
        if (pairA.length >= MAX_PAIRS || entries > MAX_TUPLE_ENTRIES || this.built.n > MAX_STATES) return { suffix: undefined };
        seen.add(key);
        pairA.push(xid);
        pairB.push(yid);
        parent.push(at);
        byte.push(reps[cls]!);
      }
    }
    return null;
  }

  private step(t: Tuple, byteClass: number): Tuple {
    const next: Tuple = [];
    for (let i = 0; i < t.length; i += 2) {
      const state = this.dfas[t[i]!]!.step(t[i + 1]!, byteClass);
      if (state !== DEAD) next.push(t[i]!, state);
    }
    return this.normalize(next);
  }

  /**
   * Drops the rules before the last one that matches every continuation: they never win again.
   * Keeps the decision of every continuation, and makes more pairs identical.
   */
  private normalize(t: Tuple): Tuple {
    for (let i = t.length - 2; i > 0; i -= 2) {
      if (this.dfas[t[i]!]!.everything[t[i + 1]!]) return t.slice(i);
    }
    return t;
  }

  /** The action of the last rule that matches, or the default. */
  private decide(t: Tuple): boolean {
    for (let i = t.length - 2; i >= 0; i -= 2) if (this.dfas[t[i]!]!.accepts[t[i + 1]!]) return this.rules[t[i]!]!.allow;
    return this.defaultAllow;
  }
}

/** One number per pair of tuple ids (fewer than 2^26 of them: MAX_TUPLE_ENTRIES). */
const pairKey = (a: number, b: number) => a * 2 ** 26 + b;

/** The bytes read from the first pair to pair `at`. */
function suffixOf(parent: readonly number[], byte: readonly number[], at: number): string {
  const bytes: string[] = [];
  for (let i = at; parent[i]! >= 0; i = parent[i]!) bytes.push(String.fromCharCode(byte[i]!));
  return bytes.reverse().join('');
}
