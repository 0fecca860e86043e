// Rules the program adds at run time through the control route (/dev/tsyd/RULE, only while the
// policy is not locked), shared by every emulator thread: an append-only log in a
// SharedArrayBuffer. Each emulator applies the entries it has not seen before its next decision,
// so all of them decide on the same rules, in the same order.
import { fromBytes } from '../sandbox/bytes.js';
import type { Policy } from '../sandbox/policy.js';
import { parseRuleBytes, type Statement } from '../sandbox/rules.js';
import { checkBudget, ruleCost, type RuleCost, type RuleRoute } from './runtime-rule-limits.js';

const MUTEX = 0;
const ENTRIES = 1;
/** Per route, what it spent of its budget in the run (RUNTIME_RULE_LIMITS): bytes, then automaton steps. */
const SPENT: Record<RuleRoute, number> = { program: 2, socket: 4 };
const HEADER = 32;
/** Room for the rules a program may add: about 16k rules of 64 bytes. */
export const POLICY_LOG_SIZE = 1 << 20;
/**
 * SAFETY: the program's own rules (/dev/tsyd) may fill the log only up to this: the rest is the
 * operator's (the IPC socket), who can always deny, turn a sandbox on or lock after the program filled its part.
 */
export const PROGRAM_LOG_QUOTA = POLICY_LOG_SIZE - (64 << 10);

/** Does the rule lock the policy for good (lock:on, or lock:exec once the program runs)? */
const locks = (stmt: Statement) => stmt.type === 'lock' && (stmt.mode === 'on' || stmt.mode === 'exec');

export class PolicyLog {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private seen = 0;
  private offset = HEADER;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.bytes = new Uint8Array(buffer);
  }

  static create(): PolicyLog {
    return new PolicyLog(new SharedArrayBuffer(POLICY_LOG_SIZE));
  }

  /** True when another thread added rules this one has not applied (one atomic load). */
  get behind(): boolean {
    return Atomics.load(this.words, ENTRIES) !== this.seen;
  }

  /** Applies the entries this thread has not seen yet to `policy`, in order. */
  catchUp(policy: Policy): void {
    const total = Atomics.load(this.words, ENTRIES);
    while (this.seen < total) {
      const len = this.bytes[this.offset]! | (this.bytes[this.offset + 1]! << 8);
      const text = Buffer.from(this.bytes.subarray(this.offset + 2, this.offset + 2 + len)).toString('latin1');
      this.offset += 2 + len;
      this.seen++;
      // Validated by the thread that added it: it applies here in the same way.
      policy.apply(parseRuleBytes(text, { kind: 'runtime' }));
    }
  }

  /**
   * Parses `text` (a byte string) as a rule, applies it to `policy` and appends it for the other
   * emulators, if it fits in the budget of `route` (none: the operator's lock:on; a lock never
   * needs budget) and the log holds it within its first `limit` bytes (the program's: PROGRAM_LOG_QUOTA).
   * Throws (PolicyError) for a bad rule, (RuleBudgetError) over the route's budget, changing nothing.
   */
  add(policy: Policy, text: string, route?: RuleRoute, limit = this.bytes.length): Statement {
    this.lock();
    try {
      this.catchUp(policy);
      if (text.length > 0xffff) throw new RangeError(`rule longer than 65535 bytes: ${fromBytes(text.slice(0, 40))}...`);
      const stmt = parseRuleBytes(text, { kind: 'runtime' });
      // SAFETY: a lock only closes routes: never refused for want of budget.
      const cost = route === undefined || locks(stmt) ? undefined : ruleCost(stmt, text);
      if (route !== undefined && cost !== undefined) checkBudget(route, this.spent(route), text, cost);
      const end = this.offset + 2 + text.length;
      if (end > Math.min(limit, this.bytes.length)) throw new RangeError('too many rules added at run time');
      policy.apply(stmt);
      if (route !== undefined && cost !== undefined) {
        Atomics.add(this.words, SPENT[route], cost.bytes);
        Atomics.add(this.words, SPENT[route] + 1, cost.automatonSteps);
      }
      this.bytes[this.offset] = text.length & 0xff;
      this.bytes[this.offset + 1] = text.length >> 8;
      this.bytes.set(Buffer.from(text, 'latin1'), this.offset + 2);
      this.offset = end;
      this.seen++;
      Atomics.add(this.words, ENTRIES, 1);
      return stmt;
    } finally {
      this.unlock();
    }
  }

  /** What `route` spent of its budget in this run (read under the lock). */
  spent(route: RuleRoute): RuleCost {
    return { bytes: Atomics.load(this.words, SPENT[route]), automatonSteps: Atomics.load(this.words, SPENT[route] + 1) };
  }

  private lock(): void {
    while (Atomics.compareExchange(this.words, MUTEX, 0, 1) !== 0) Atomics.wait(this.words, MUTEX, 1, 10);
  }

  private unlock(): void {
    Atomics.store(this.words, MUTEX, 0);
    Atomics.notify(this.words, MUTEX, 1);
  }
}
