// syd-style rule lines → statements, and policy files → statement lists. Every error names
// the rule, where it came from, what is wrong and the form that was expected.
import { errnoName, errnoText, PolicyError } from '../errors.js';
import { formatAddressRule, parseAddressPattern, type AddressRule } from './address.js';
import { fromBytes, toBytes } from './bytes.js';
import { readFile } from './fs-reads.js';
import { CAPABILITIES, isCapability, isNetCapability, type Capability } from './capabilities.js';
import { globMatcher, parseGlob, type GlobStep } from './glob.js';
import { PatternError } from './pattern-error.js';
import { stripComment, trimRule } from './rule-text.js';
import { ruleError, type RuleSource } from './source.js';
import { formatCrypt, isCryptRule, parseCryptRule, type CryptStatement } from './crypt-rules.js';
import { formatSetid, isSetidRule, parseSetidRule, type SetidStatement } from './setid-rules.js';
import { formatIpc, isIpcRule, parseIpcRule, type IpcStatement } from './ipc-rules.js';

export { CAPABILITIES, NET_CAPABILITIES, isCapability, isNetCapability } from './capabilities.js';
export type { Capability, NetCapability, PathCapability } from './capabilities.js';
export { matchAddress } from './address.js';
export type { AddressFamily, AddressRule } from './address.js';
export { describeSource } from './source.js';
export type { RuleSource } from './source.js';

export type Action = 'allow' | 'deny';
/** `+` adds a rule, `-` removes the last identical one, `^` removes all identical ones. */
export type RuleOp = '+' | '-' | '^';
/** `ipc`: the program can no longer change the policy (/dev/tsyd), the IPC socket still can. */
export type LockMode = 'off' | 'on' | 'exec' | 'ipc';

/**
 * What one rule matches. `pattern` is its identity (removal compares it) as a byte string:
 * the glob as written, or an address in canonical form.
 */
export type Target = { kind: 'glob'; pattern: string } | { kind: 'address'; pattern: string; address: AddressRule };

export type Statement =
  | { type: 'sandbox'; caps: Capability[]; on: boolean; source?: RuleSource }
  | {
      type: 'rule';
      action: Action;
      cap: Capability;
      op: RuleOp;
      /** The pattern as written (byte string); an alias such as `any!80` has several targets. */
      pattern: string;
      targets: Target[];
      source?: RuleSource;
    }
  | { type: 'lock'; mode: LockMode; source?: RuleSource }
  | CryptStatement
  | SetidStatement
  | IpcStatement;

const FORMS = 'sandbox/CAP:on|off, allow/CAP+PATTERN, deny/CAP+PATTERN (- removes, ^ removes all), lock:on|off|exec|ipc, a crypt or an ipc rule, or setuid+SRC:DST / setgid+SRC:DST';
const CAP_LIST = `one of ${CAPABILITIES.join(', ')}`;
const SANDBOX_FORM = 'sandbox/CAP:on or sandbox/CAP:off (CAP may be a comma list)';
const PATH_FORM = 'an absolute path glob such as /etc/** or /usr/***';
const NET_FORM = 'a UNIX socket path glob (/run/*.sock), an abstract name glob (@name*) or ADDR[/PREFIX]!PORT[-PORT]';

type Fail = (at: number, what: string, expected: string) => PolicyError;

/** Parses one rule typed as UTF-8 text; patterns in the statement are byte strings. */
export function parseRule(text: string, source: RuleSource): Statement {
  return parseRuleBytes(toBytes(text), source);
}

/** Parses one rule given as a byte string (latin1), as read from a file. */
export function parseRuleBytes(raw: string, source: RuleSource): Statement {
  const known = knownPathRule(raw, source);
  if (known !== undefined) return known;
  const { text, lead } = trimRule(raw);
  if (isCryptRule(text)) return parseCryptRule(text, lead, source);
  if (isSetidRule(text)) return parseSetidRule(text, lead, source);
  if (isIpcRule(text)) return parseIpcRule(text, lead, source);
  const fail: Fail = (at, what, expected) => ruleError(fromBytes(text), source, lead + at, what, expected);
  if (text === '') throw fail(0, 'the rule is empty', FORMS);
  if (text === 'lock' || text.startsWith('lock:')) {
    const mode = text.slice(5);
    if (mode === 'on' || mode === 'off' || mode === 'exec' || mode === 'ipc') return { type: 'lock', mode, source };
    throw fail(5, `lock must be on, off, exec or ipc, got '${fromBytes(mode)}'`, 'lock:on, lock:off, lock:exec or lock:ipc');
  }
  if (text.startsWith('sandbox/')) return parseSandbox(text, source, fail);
  if (text.startsWith('allow/')) return parseAccess(text, 'allow', source, fail);
  if (text.startsWith('deny/')) return parseAccess(text, 'deny', source, fail);
  throw fail(0, 'not a sandbox, allow, deny or lock rule', FORMS);
}

/**
 * `ACTION/CAP+/PATTERN` with nothing for trimRule to cut (a letter first, no space last): the
 * form of almost every rule of a profile and of policy data.
 */
const PATH_RULE = /^(allow|deny)\/([a-z/]+)\+(\/[^]*[^ \t\r\v\f\n])$/;

/**
 * The statement of `raw` when it is a PATH_RULE whose pattern passed pathTarget before: what
 * parseAccess makes of it (for a pattern that starts with `/`, the same for file and net
 * capabilities), without parsing it again. A policy names each pattern for several
 * capabilities (the user profile: ~360 patterns in ~1800 rules), and every emulator thread
 * parses the policy again. Undefined otherwise: parsed in full.
 */
function knownPathRule(raw: string, source: RuleSource): Statement | undefined {
  const m = PATH_RULE.exec(raw);
  if (m === null || !validPathGlobs.has(m[3]!) || !isCapability(m[2]!)) return undefined;
  const pattern = m[3]!;
  return { type: 'rule', action: m[1] as Action, cap: m[2], op: '+', pattern, targets: [{ kind: 'glob', pattern }], source };
}

function parseSandbox(text: string, source: RuleSource, fail: Fail): Statement {
  const start = 'sandbox/'.length;
  const colon = text.indexOf(':');
  if (colon < 0) throw fail(text.length, "missing ':on' or ':off'", SANDBOX_FORM);
  const caps: Capability[] = [];
  let at = start;
  let crypt = false;
  for (const name of text.slice(start, colon).split(',')) {
    if (name === '') throw fail(at, 'a capability name is empty', `${SANDBOX_FORM}; CAP is ${CAP_LIST}`);
    if (name === 'crypt') {
      crypt = true;
      continue;
    }
    if (!isCapability(name)) throw fail(at, `unknown capability '${fromBytes(name)}'`, CAP_LIST);
    caps.push(name);
    at += name.length + 1;
  }
  const state = text.slice(colon + 1);
  if (state !== 'on' && state !== 'off') {
    throw fail(colon + 1, `the sandbox state must be on or off, got '${fromBytes(state)}'`, SANDBOX_FORM);
  }
  if (crypt) {
    if (caps.length > 0) throw fail(start, 'crypt is no access capability: sandbox/crypt:on|off is a rule of its own', 'sandbox/crypt:on or sandbox/crypt:off');
    return { type: 'crypt', set: 'state', on: state === 'on', source };
  }
  return { type: 'sandbox', caps, on: state === 'on', source };
}

function parseAccess(text: string, action: Action, source: RuleSource, fail: Fail): Statement {
  const start = action.length + 1;
  const rest = text.slice(start);
  const opAt = rest.search(/[+\-^]/);
  const name = opAt < 0 ? rest : rest.slice(0, opAt);
  const opForm = (cap: string) => `${action}/${cap}+PATTERN (add), -PATTERN (remove) or ^PATTERN (remove all)`;
  if (!isCapability(name)) {
    // `allow/read/etc/hosts`: a known capability, then a path without an operator.
    const known = CAPABILITIES.filter((c) => name.startsWith(`${c}/`)).sort((a, b) => b.length - a.length)[0];
    if (known) throw fail(start + known.length, `missing +, - or ^ after the capability '${known}'`, opForm(known));
    if (name.includes(',')) {
      throw fail(start, `one capability per ${action} rule, got '${fromBytes(name)}'`, `one rule per capability, e.g. ${action}/read+/x and ${action}/write+/x`);
    }
    throw fail(start, `unknown capability '${fromBytes(name)}'`, CAP_LIST);
  }
  if (opAt < 0) throw fail(start + name.length, `missing +, - or ^ after the capability '${name}'`, opForm(name));
  const patternAt = start + opAt + 1;
  const pattern = text.slice(patternAt);
  const targets = parseTargets(name, pattern, (at, what, expected) => fail(patternAt + at, what, expected));
  return { type: 'rule', action, cap: name, op: rest[opAt] as RuleOp, pattern, targets, source };
}

function parseTargets(cap: Capability, pattern: string, fail: Fail): Target[] {
  const net = isNetCapability(cap);
  if (pattern === '') throw fail(0, 'the pattern is empty', net ? NET_FORM : PATH_FORM);
  if (!net) {
    // SAFETY: paths are decided after canonicalisation, so they are always absolute: a relative
    // pattern could never match, and a deny rule would silently protect nothing.
    if (!pattern.startsWith('/')) {
      throw fail(0, `'${fromBytes(pattern)}' can never match: paths are canonical and absolute`, `an absolute path glob such as '/${fromBytes(pattern)}'`);
    }
    return [pathTarget(pattern, fail)];
  }
  if (pattern.startsWith('/')) return [pathTarget(pattern, fail)];
  if (pattern.startsWith('@')) {
    if (pattern.length === 1) throw fail(1, 'the abstract socket name is empty', NET_FORM);
    compileGlobOrFail(pattern, fail);
    return [{ kind: 'glob', pattern }];
  }
  let addresses: AddressRule[];
  try {
    addresses = parseAddressPattern(pattern);
  } catch (err) {
    if (err instanceof PatternError) throw fail(err.index, err.reason, `${err.expected}; or ${NET_FORM}`);
    throw err;
  }
  return addresses.map((address) => ({ kind: 'address', pattern: formatAddressRule(address), address }));
}

/**
 * The path globs that passed pathTarget's checks. Whether one does depends on the pattern
 * alone, and a policy names the same pattern many times (the user profile: ~360 patterns in
 * ~1800 rules, one per capability), parsed again in every emulator thread. Keyed by rule
 * patterns only: bounded by the policies, as globMatcher's cache.
 */
const validPathGlobs = new Set<string>();

function pathTarget(pattern: string, fail: Fail): Target {
  if (validPathGlobs.has(pattern)) return { kind: 'glob', pattern };
  const steps = compileGlobOrFail(pattern, fail);
  // SAFETY: a canonical path has no `.`, `..` or empty components; a rule that has one could
  // never match, and a deny rule would silently protect nothing.
  const issue = nonCanonical(steps);
  if (issue) throw fail(issue.at, `the ${issue.what} component can never match: paths are canonical`, 'an absolute path glob without ., .. or empty components (// or a trailing /)');
  validPathGlobs.add(pattern);
  return { kind: 'glob', pattern };
}

function compileGlobOrFail(pattern: string, fail: Fail): GlobStep[] {
  try {
    const parsed = parseGlob(pattern);
    globMatcher(pattern, parsed); // cached now (its tables on its first match)
    return parsed.steps;
  } catch (err) {
    if (err instanceof PatternError) throw fail(err.index, err.reason, err.expected);
    throw err;
  }
}

function nonCanonical(steps: GlobStep[]): { at: number; what: string } | undefined {
  const is = (i: number, ch: string) => {
    const s = steps[i];
    return s?.kind === 'char' && s.code === ch.charCodeAt(0);
  };
  const ends = (i: number) => i >= steps.length || is(i, '/');
  for (let i = 0; i < steps.length; i++) {
    if (!is(i, '/')) continue;
    const at = steps[i]!.at;
    if (is(i + 1, '/')) return { at, what: "empty ('//')" };
    if (is(i + 1, '.') && ends(i + 2)) return { at, what: "'.'" };
    if (is(i + 1, '.') && is(i + 2, '.') && ends(i + 3)) return { at, what: "'..'" };
    if (i === steps.length - 1 && i > 0) return { at, what: "empty last" };
  }
  return undefined;
}

/** The statement as a rule line (UTF-8 text for display; patterns as written). */
export function formatStatement(stmt: Statement): string {
  switch (stmt.type) {
    case 'sandbox':
      return `sandbox/${stmt.caps.join(',')}:${stmt.on ? 'on' : 'off'}`;
    case 'rule':
      return `${stmt.action}/${stmt.cap}${stmt.op}${fromBytes(stmt.pattern)}`;
    case 'lock':
      return `lock:${stmt.mode}`;
    case 'crypt':
      return formatCrypt(stmt);
    case 'setid':
      return formatSetid(stmt);
    case 'ipc':
      return formatIpc(stmt);
  }
}

/**
 * Reads a policy file: one rule per line; blank lines and `#` comments (a `#` at the start of
 * a line or after whitespace) are skipped. The file is read as bytes, so patterns may name
 * non-UTF-8 files; error columns count bytes.
 */
export function loadPolicyFile(file: string): Statement[] {
  let data: Buffer;
  try {
    data = readFile(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = typeof e.errno === 'number' ? `${errnoText(e.errno)} (${errnoName(e.errno)})` : String(e.message);
    throw new PolicyError(`cannot read policy file '${file}': ${why}`);
  }
  let text = data.toString('latin1');
  if (text.startsWith('\xef\xbb\xbf')) text = text.slice(3); // a UTF-8 byte order mark
  const out: Statement[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const { text: rule, lead } = trimRule(stripComment(line));
    if (rule !== '') out.push(parseRuleBytes(rule, { kind: 'file', file, line: i + 1, col: lead + 1 }));
  });
  return out;
}
