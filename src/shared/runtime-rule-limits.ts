// The budget of the rules added at run time, one per route: the program's own (/dev/tsyd, under
// lock:off) and the IPC socket's (all its clients together). Start-time rules (-m, -P, profiles)
// are the operator's and have none. PolicyLog.add checks and spends it, under the log's lock.
import { automatonSteps, parseGlob } from '../sandbox/glob.js';
import type { Statement } from '../sandbox/rules.js';

/** Who added a run-time rule. */
export type RuleRoute = 'program' | 'socket';

/**
 * SAFETY: every emulator holds a compiled copy of every rule added and tries the rules on every
 * decision: these bound what one route can cost them in a run.
 */
export const RUNTIME_RULE_LIMITS = {
  /**
   * Bytes of rules in a run (the rule texts). Every emulator's copy stays far below its heap:
   * 258 rules of 4 KB of `*a` took 85 MiB (every emulator died); ~960 KiB of the program's
   * rules, 51 MiB.
   */
  bytes: 64 * 1024,
  /** Wildcards (unescaped `*`, `?`, `[`: tsyd's globs have no `{`) in one rule. */
  wildcards: 32,
  /**
   * Automaton states (a glob's steps past its literal prefix, see automatonSteps) of the rules
   * of a run, all together. A decision on a path of n bytes visits at most n × (states + rules)
   * states of one route's rules: 591 rules of `**` then `/a/`, 16 times each, made one decision on
   * a 4 KB path take 1–3 s; within this, see bench/runtime-rules.ts.
   */
  automatonSteps: 128,
} as const;

/** What a rule costs of its route's budget. */
export interface RuleCost {
  bytes: number;
  automatonSteps: number;
}

/** The cost of the rule `text` (a byte string) that parsed to `stmt`. */
export function ruleCost(stmt: Statement, text: string): RuleCost {
  let steps = 0;
  if (stmt.type === 'rule' && stmt.op === '+') {
    for (const t of stmt.targets) if (t.kind === 'glob') steps += automatonSteps(parseGlob(t.pattern));
  }
  return { bytes: text.length, automatonSteps: steps };
}

const ROUTE_NAME: Record<RuleRoute, string> = { program: 'the program (/dev/tsyd)', socket: 'the socket' };

/** The wildcards of `text`: `*`, `?` and `[` not escaped by a `\` (a `\*` is a literal star). */
function wildcardsIn(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '*' || text[i] === '?' || text[i] === '[') n++;
  }
  return n;
}

/** A run-time rule refused by its route's budget: `what` is wrong, `expected` is what fits. */
export class RuleBudgetError extends RangeError {
  constructor(
    readonly what: string,
    readonly expected: string,
  ) {
    super(`${what}; expected ${expected}`);
  }
}

/** One of `of` even parts of a route's budget, held by the peers of `uid` (the socket's uids served). */
export interface BudgetShare {
  uid: number;
  of: number;
}

/**
 * Throws a RuleBudgetError when the rule `text` of `route` does not fit in what is left of its
 * budget (`spent` so far in the run), or of `share` of it.
 */
export function checkBudget(route: RuleRoute, spent: RuleCost, text: string, cost: RuleCost, share?: BudgetShare): void {
  const who = ROUTE_NAME[route];
  const parts = share === undefined ? 1 : Math.max(1, share.of);
  const whose = share === undefined || parts === 1 ? 'its' : `uid ${share.uid}'s`;
  const bytes = Math.floor(RUNTIME_RULE_LIMITS.bytes / parts);
  const steps = Math.floor(RUNTIME_RULE_LIMITS.automatonSteps / parts);
  const wildcards = wildcardsIn(text);
  if (wildcards > RUNTIME_RULE_LIMITS.wildcards) throw new RuleBudgetError(`the rule has ${wildcards} wildcards`, `at most ${RUNTIME_RULE_LIMITS.wildcards} wildcards (*, ?, [) in a rule from ${who}`);
  if (spent.bytes + cost.bytes > bytes) {
    throw new RuleBudgetError(`too many rules added through ${who} (${spent.bytes} of ${whose} ${bytes} bytes in a run)`, `no more rules from ${who} in this run`);
  }
  if (spent.automatonSteps + cost.automatonSteps > steps) {
    throw new RuleBudgetError(
      `the rule's globs need ${cost.automatonSteps} automaton steps, and ${who} used ${spent.automatonSteps} of ${whose} ${steps} in a run`,
      `globs with fewer wildcards after their literal prefix (a literal path, /DIR/*** and /DIR/** cost none)`,
    );
  }
}
