// SafeSetID rules: `setuid+SRC:DST` / `setgid+SRC:DST` declare a credential transit the program
// may take, `-` removes one, `^` removes every transit from SRC. SRC and DST are numbers or
// names (/etc/passwd, /etc/group, read when the rule is parsed).
// SAFETY: a transit to uid 0 or gid 0 is refused: a declared transit must never give the
// program root, and tsyd follows the program's credentials (it would act as root for it).
// Transits cannot be declared at run time: the program would widen its own transits.
import { fromBytes } from './bytes.js';
import { readFile } from './fs-reads.js';
import { ruleError, type RuleSource } from './source.js';

export type SetidKind = 'uid' | 'gid';

export interface SetidStatement {
  type: 'setid';
  kind: SetidKind;
  op: '+' | '-' | '^';
  src: number;
  /** Absent for `^` (every transit from src). */
  dst?: number;
  source?: RuleSource;
}

export const SETID_FORMS = 'setuid+SRC:DST, setgid+SRC:DST (names or numbers; - removes, ^SRC removes every transit from SRC)';

/** True for a rule text this module parses. */
export function isSetidRule(text: string): boolean {
  return /^set[ug]id[+\-^]/.test(text);
}

const MAX_ID = 0xfffffffe;

const START_SOURCES: ReadonlySet<RuleSource['kind']> = new Set(['arg', 'library', 'file', 'profile', 'data']); // (uid_t)-1 means "unchanged" to every set*id call

/** The id of `name` in /etc/passwd (uid) or /etc/group (gid), or undefined. */
function lookup(kind: SetidKind, name: string): number | undefined {
  let text: string;
  try {
    text = readFile(kind === 'uid' ? '/etc/passwd' : '/etc/group').toString('latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2]!)) return Number(f[2]);
  }
  return undefined;
}

/** Parses a rule for which isSetidRule(text) is true; `lead` is where the text starts in its line. */
export function parseSetidRule(text: string, lead: number, source: RuleSource): SetidStatement {
  const kind: SetidKind = text[3] === 'u' ? 'uid' : 'gid';
  const op = text[6] as SetidStatement['op'];
  const fail = (at: number, what: string) => ruleError(fromBytes(text), source, lead + at, what, SETID_FORMS);
  // SAFETY: start-time sources only (an allow-list: a source added later, such as a control
  // socket, is refused too): the emulators decide at start whether they follow credentials and
  // their confinement bounds the ids; a transit added later would be followed by neither.
  if (!START_SOURCES.has(source.kind)) throw fail(0, 'credential transits cannot be changed at run time');
  const id = (word: string, at: number): number => {
    if (word === '') throw fail(at, `the ${kind === 'uid' ? 'user' : 'group'} is empty`);
    const n = /^\d+$/.test(word) ? Number(word) : lookup(kind, word);
    if (n === undefined) throw fail(at, `no ${kind === 'uid' ? 'user' : 'group'} named '${fromBytes(word)}' in /etc/${kind === 'uid' ? 'passwd' : 'group'}`);
    if (n > MAX_ID) throw fail(at, `${kind} ${word} is out of range (0 to ${MAX_ID})`);
    return n;
  };
  const body = text.slice(7);
  const colon = body.indexOf(':');
  if (op === '^') {
    if (colon >= 0) throw fail(7 + colon, `^ takes only the source ${kind}`);
    return { type: 'setid', kind, op, src: id(body, 7), source };
  }
  if (colon < 0) throw fail(7 + body.length, "missing ':DST'");
  const src = id(body.slice(0, colon), 7);
  const dst = id(body.slice(colon + 1), 8 + colon);
  if (dst === 0 && op === '+') throw fail(8 + colon, `a transit to ${kind} 0 would give the program root`);
  return { type: 'setid', kind, op, src, dst, source };
}

/** The statement as a rule line (numbers). */
export function formatSetid(stmt: SetidStatement): string {
  return `set${stmt.kind}${stmt.op}${stmt.src}${stmt.dst === undefined ? '' : `:${stmt.dst}`}`;
}
