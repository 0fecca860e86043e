// An index of one capability's path rules by literal prefix, for long rule lists (the user
// profile's secrets): a decision tests only the rules whose prefix the path starts with, and
// still finds the last matching rule of the whole list.
import { parseGlob, type GlobMatcher } from './glob.js';

/** A rule as the index sees it: a path rule has a glob (its pattern and matcher), others none. */
export interface IndexedRule {
  readonly pattern: string;
  readonly glob?: GlobMatcher;
}

/** A node of the trie: the rules keyed by the components that lead here, and the next ones. */
interface Bucket {
  /** Rule indices, last rule first. */
  readonly rules: number[];
  /** By the next component: its text, or WILD for a component that is not a literal. */
  readonly children: Map<string, Bucket>;
  /** The highest rule index here and below (-1: none): a walk stops where nothing better lies. */
  last: number;
}

/** The edge of a component that is no literal (`*`, `a*`, `[ab]`, `?`): no path component holds a `/`. */
const WILD = '/';

const bucket = (): Bucket => ({ rules: [], children: new Map(), last: -1 });

/**
 * The path rules of a list in a trie of path components: a rule sits at the node of its key
 * (indexKey), and a decision walks the trie along the path's components (a literal edge and
 * the WILD edge at each step), testing only the rules of the nodes it meets: `/***` sits at
 * the root, `/etc/shadow` at '', etc, shadow, and a secret under every home (`/home/*` then
 * `/.ssh/***`) at '', home, WILD, .ssh.
 */
export class RuleIndex {
  private readonly root = bucket();

  /** `rules`: the list in order; rules without a glob (addresses) are left out. */
  constructor(private readonly rules: readonly IndexedRule[]) {
    for (let i = rules.length - 1; i >= 0; i--) {
      const r = rules[i]!;
      if (r.glob === undefined) continue;
      let b = this.root;
      b.last = Math.max(b.last, i);
      for (const name of indexKey(r.pattern)) {
        let next = b.children.get(name);
        if (next === undefined) b.children.set(name, (next = bucket()));
        b = next;
        b.last = Math.max(b.last, i);
      }
      b.rules.push(i);
    }
  }

  /**
   * The index of the last rule whose glob matches `path`, -1 when none. SAFETY: the same answer
   * as testing every rule from the last, since a rule whose key the path's components do not
   * match cannot match the path (indexKey).
   */
  lastMatch(path: string): number {
    return this.visit(this.root, path, 0, -1);
  }

  /** lastMatch from node `b`, with the path's components from offset `at` still to read. */
  private visit(b: Bucket, path: string, at: number, best: number): number {
    if (b.last <= best) return best;
    for (const i of b.rules) {
      if (i <= best) break;
      if (this.rules[i]!.glob!(path)) {
        best = i;
        break;
      }
    }
    // Past the last component ('/' has two: '' and '').
    if (at > path.length || b.children.size === 0) return best;
    let k = path.indexOf('/', at);
    if (k < 0) k = path.length;
    const literal = b.children.get(path.slice(at, k));
    if (literal !== undefined) best = this.visit(literal, path, k + 1, best);
    const wild = b.children.get(WILD);
    if (wild !== undefined) best = this.visit(wild, path, k + 1, best);
    return best;
  }

  /**
   * The rules that can match a direct child `DIR/NAME` of the directory `dir` (NAME: one
   * component), last rule first. SAFETY: a child's components are the directory's and one more,
   * so a rule whose key is longer, or does not match them, matches no child.
   */
  childRules(dir: string): number[] {
    const text = dir === '/' ? '/' : `${dir}/`;
    const out: number[] = [];
    const walk = (b: Bucket, at: number): void => {
      out.push(...b.rules);
      const k = text.indexOf('/', at);
      if (k < 0) {
        // NAME: any component, any edge; only keys that end there.
        for (const child of b.children.values()) out.push(...child.rules);
        return;
      }
      const literal = b.children.get(text.slice(at, k));
      if (literal !== undefined) walk(literal, k + 1);
      const wild = b.children.get(WILD);
      if (wild !== undefined) walk(wild, k + 1);
    };
    walk(this.root, 0);
    return out.sort((x, y) => y - x);
  }
}

/**
 * The key of a glob: its components (split at its `/` steps: no other step takes a `/`) up to
 * the first one with a `**`, each as its text when it is a literal, else WILD. SAFETY: a path
 * the glob matches has at least as many components, and its first ones match the key's (equal
 * to a literal; anything for WILD): a walk along the path's components meets the rule. (A
 * trailing `/***` is a `**` component: the directory itself, without it, matches too.)
 */
export function indexKey(pattern: string): string[] {
  const key: string[] = [];
  let name = '';
  let literal = true;
  for (const s of parseGlob(pattern).steps) {
    if (s.kind === 'globstar') return key;
    if (s.kind === 'char' && s.code === SLASH) {
      key.push(literal ? name : WILD);
      name = '';
      literal = true;
    } else if (s.kind === 'char') name += String.fromCharCode(s.code);
    else literal = false;
  }
  key.push(literal ? name : WILD);
  return key;
}

const SLASH = 0x2f;
