// The IPC worker's commands (one line in, one line out): a rule in -m syntax → `ok` or
// `error: MESSAGE` (the message a bad -m gives: the same parser, the same source); `ping` →
// `pong`; `CAP?` (`sandbox/read?`) → `on` or `off`; `stat` → one line of JSON. A rule applies to
// every emulator before its next decision (the shared PolicyLog, as /dev/tsyd's rules).
import type { TsydLogger } from '../log.js';
import { PolicyError } from '../errors.js';
import { fromBytes } from '../sandbox/bytes.js';
import { isCapability, CAPABILITIES } from '../sandbox/capabilities.js';
import type { Policy } from '../sandbox/policy.js';
import { formatStatement, parseRuleBytes } from '../sandbox/rules.js';
import { isSetidRule } from '../sandbox/setid-rules.js';
import { ruleError } from '../sandbox/source.js';
import type { DecisionRing } from '../shared/decision-ring.js';
import { EmuState } from '../shared/emulator-states.js';
import type { PolicyLog } from '../shared/policy-log.js';
import { Slot } from '../shared/slot.js';
import type { StateBoard } from '../shared/state-board.js';
import type { WorkerData } from '../shared/worker-data.js';
import { checkBudget, RuleBudgetError, ruleCost, type RuleCost } from '../shared/runtime-rule-limits.js';

/** What the commands read and change. */
export interface IpcState {
  policy: Policy;
  rules: PolicyLog;
  wd: WorkerData;
  board: StateBoard;
  ring: DecisionRing;
  programPid: number;
  log: TsydLogger;
  /** What each peer uid's rules cost of the socket's budget in this run (its share: checkShare). */
  spent: Map<number, RuleCost>;
  /** How many uids the socket serves (tsyd's own, ipc/uid:N): they share its budget evenly. */
  uidsServed: number;
}

const STATE_NAMES = new Map<number, string>(Object.entries(EmuState).map(([name, code]) => [code, name]));
/** Parsed as -m parses a rule; their errors say `(from the IPC socket)` where -m's say `(from -m)`. */
const FROM_SOCKET = { kind: 'ipc' } as const;

/** The answer (without its newline) to one command line (a byte string) of a client of uid `uid`. */
export function answer(state: IpcState, line: string, uid: number): string {
  if (line === 'ping') return 'pong';
  if (line === 'stat') return JSON.stringify(stat(state));
  if (line.startsWith('sandbox/') && line.endsWith('?')) return capability(state, line.slice(8, -1));
  try {
    applyRule(state, line, uid);
    return 'ok';
  } catch (err) {
    if (err instanceof PolicyError || err instanceof RangeError) return `error: ${err.message}`;
    throw err;
  }
}

function capability(state: IpcState, cap: string): string {
  if (cap === 'crypt') return state.policy.crypt.on ? 'on' : 'off';
  if (!isCapability(cap)) return `error: unknown capability '${fromBytes(cap)}'; expected one of ${CAPABILITIES.join(', ')}, crypt`;
  return state.policy.isOnByRules(cap) ? 'on' : 'off';
}

/** The lock as the socket sees it: `on` once the sandbox is locked for good. */
function lockOf(state: IpcState): string {
  return state.wd.locked ? 'on' : state.policy.lock;
}

function applyRule(state: IpcState, text: string, uid: number): void {
  const { policy, rules, wd, log } = state;
  // SAFETY: the emulators' confinement allows the credential transits declared at start, and no
  // others (refused before parsing: this thread reads no /etc/passwd to resolve names).
  if (isSetidRule(fromBytes(text))) throw ruleError(fromBytes(text), FROM_SOCKET, 0, 'setid rules cannot be changed at run time', 'a sandbox, allow, deny or lock rule');
  // Parsed first as -m parses it: a bad rule gets the same message.
  const stmt = parseRuleBytes(text, FROM_SOCKET);
  const fail = (what: string, expected: string) => ruleError(formatStatement(stmt), FROM_SOCKET, 0, what, expected);
  if (stmt.type === 'crypt' || stmt.type === 'ipc' || stmt.type === 'setid') throw fail(`${stmt.type} rules cannot be changed at run time`, 'a sandbox, allow, deny or lock rule');
  // SAFETY: once locked (lock:on, or lock:exec after the program started) nothing changes the
  // policy, the socket included; lock:exec before that is locked already for the socket.
  const lock = lockOf(state);
  // The message names the rule that locked it: lock:exec (the default) once the program runs, or lock:on.
  if (lock !== 'off' && lock !== 'ipc') throw fail(`the policy is locked (lock:${policy.lock === 'exec' ? 'exec' : lock})`, 'no rule once the policy is locked');
  rules.catchUp(policy);
  // SAFETY: lock:on (or exec: the program runs already) takes effect at once, for every thread,
  // and needs no room in the log: a log the program filled never keeps the operator from locking.
  if (stmt.type === 'lock' && (stmt.mode === 'on' || stmt.mode === 'exec')) {
    wd.lock();
    try {
      rules.add(policy, text);
    } catch (err) {
      // No room: the lock holds all the same (wd), only the rules shown by stat lack it.
      if (!(err instanceof RangeError)) throw err;
    }
    log.notice({ ctx: 'policy', op: 'ipc_rule', rule: fromBytes(text) }, `the IPC socket locked the policy: ${fromBytes(text)}`);
    return;
  }
  // SAFETY: every emulator holds a compiled copy of every rule added and tries it on its
  // decisions: the socket's rules are bounded (RUNTIME_RULE_LIMITS, all clients, the whole run),
  // and shared evenly by the uids served, as the client slots are: ipc/uid:N never spends what
  // tsyd's own uid needs.
  const cost = ruleCost(stmt, text);
  const mine = state.spent.get(uid) ?? { bytes: 0, automatonSteps: 0 };
  try {
    checkBudget('socket', mine, text, cost, { uid, of: state.uidsServed });
    rules.add(policy, text, 'socket');
    state.spent.set(uid, { bytes: mine.bytes + cost.bytes, automatonSteps: mine.automatonSteps + cost.automatonSteps });
  } catch (err) {
    if (err instanceof RuleBudgetError) throw fail(err.what, err.expected);
    throw err;
  }
  log.notice({ ctx: 'policy', op: 'ipc_rule', rule: fromBytes(text) }, `the IPC socket changed the policy: ${fromBytes(text)}`);
}

function stat(state: IpcState): object {
  const { policy, rules, wd, board, ring } = state;
  rules.catchUp(policy);
  const machines: Record<string, unknown> = board.read();
  for (let i = 0; i < wd.maxEmulators; i++) {
    const code = Atomics.load(wd.slot(i), Slot.state);
    if (code !== EmuState.free) machines[`emulator/${i}`] = STATE_NAMES.get(code) ?? code;
  }
  const { curr, busy } = wd.counts();
  return {
    policy: policy.normalized(),
    lock: lockOf(state),
    pool: { curr, busy, max: wd.maxEmulators },
    machines,
    violations: ring.violations,
    program: { pid: state.programPid, running: machines.sandbox === 'running' },
  };
}
