// The Crypt sandboxing rules: `sandbox/crypt:on|off`, `crypt+GLOB` / `crypt-GLOB` (last match
// wins), `crypt/key:HEX` or `crypt/key:${TSYD_NAME}`, `crypt/tmp:DIR`.
// SAFETY: the key never appears in an error message or in a rule shown back (formatCrypt):
// every message about a crypt/key rule names the rule as `crypt/key:…`.
import { fromBytes } from './bytes.js';
import { globMatcher, parseGlob } from './glob.js';
import { PatternError } from './pattern-error.js';
import { CryptKey } from './crypt-secret.js';
import { ruleError, type RuleSource } from './source.js';

/** Where the key comes from: the rule itself (64 hex digits) or an environment variable of tsyd. */
export type CryptKeySource = { kind: 'hex'; key: CryptKey } | { kind: 'env'; name: string };

export type CryptStatement =
  | { type: 'crypt'; set: 'state'; on: boolean; source?: RuleSource }
  /** encrypt: `crypt+` (true) or `crypt-` (false); pattern: a byte string. */
  | { type: 'crypt'; set: 'glob'; encrypt: boolean; pattern: string; source?: RuleSource }
  | { type: 'crypt'; set: 'key'; key: CryptKeySource; source?: RuleSource }
  | { type: 'crypt'; set: 'tmp'; dir: string; source?: RuleSource };

export const CRYPT_FORMS = 'sandbox/crypt:on|off, crypt+GLOB, crypt-GLOB, crypt/key:HEX (64 hex digits), crypt/key:${TSYD_NAME} or crypt/tmp:DIR';
const KEY_FORM = 'crypt/key:HEX (64 hex digits, 256 bits) or crypt/key:${TSYD_NAME} (an environment variable of tsyd whose name starts with TSYD_)';
const ENV_NAME = /^TSYD_[A-Za-z0-9_]+$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** True for a rule text this module parses (crypt+, crypt-, crypt/...). */
export function isCryptRule(text: string): boolean {
  return text.startsWith('crypt+') || text.startsWith('crypt-') || text.startsWith('crypt/') || text === 'crypt';
}

/** The rule as it may be shown: the key's value never is. */
function shown(text: string): string {
  return text.startsWith('crypt/key') ? 'crypt/key:…' : fromBytes(text);
}

/** Parses a crypt rule (isCryptRule(text)); `lead` is where the text starts in its line. */
export function parseCryptRule(text: string, lead: number, source: RuleSource): CryptStatement {
  const fail = (at: number, what: string, expected: string) => ruleError(shown(text), source, lead + at, what, expected);
  // SAFETY: the program must not change what is encrypted, nor the key, through /dev/tsyd.
  if (source.kind === 'runtime') throw fail(0, 'crypt rules cannot be changed at run time', 'crypt rules in -m, -P or a profile');
  if (text.startsWith('crypt+') || text.startsWith('crypt-')) {
    const pattern = text.slice(6);
    if (!pattern.startsWith('/')) throw fail(6, `'${fromBytes(pattern)}' can never match: paths are canonical and absolute`, 'an absolute path glob such as /home/*/secret/**');
    try {
      globMatcher(pattern, parseGlob(pattern));
    } catch (err) {
      if (err instanceof PatternError) throw fail(6 + err.index, err.reason, err.expected);
      throw err;
    }
    return { type: 'crypt', set: 'glob', encrypt: text[5] === '+', pattern, source };
  }
  if (text.startsWith('crypt/key:')) {
    const value = text.slice('crypt/key:'.length);
    if (value.startsWith('${') && value.endsWith('}')) {
      const name = value.slice(2, -1);
      if (!ENV_NAME.test(name)) throw fail(12, `the variable name '${fromBytes(name)}' must start with TSYD_ (letters, digits and _)`, KEY_FORM);
      return { type: 'crypt', set: 'key', key: { kind: 'env', name }, source };
    }
    // SAFETY: the message says what is wrong with the value without showing any of it.
    if (!HEX_KEY.test(value)) throw fail(10, `the key must be 64 hex digits (256 bits), got ${value.length} characters${/^[0-9a-fA-F]*$/.test(value) ? '' : ' that are not all hex digits'}`, KEY_FORM);
    return { type: 'crypt', set: 'key', key: { kind: 'hex', key: new CryptKey(Buffer.from(value, 'hex')) }, source };
  }
  if (text.startsWith('crypt/tmp:')) {
    const dir = text.slice('crypt/tmp:'.length);
    if (!dir.startsWith('/')) throw fail(10, `'${fromBytes(dir)}' is not an absolute directory`, 'crypt/tmp:DIR with DIR an absolute directory (plaintext buffers as O_TMPFILE files in it)');
    return { type: 'crypt', set: 'tmp', dir, source };
  }
  throw fail(0, 'not a crypt rule', CRYPT_FORMS);
}

/** The statement as a rule line; the key is never shown (only where it comes from). */
export function formatCrypt(stmt: CryptStatement): string {
  switch (stmt.set) {
    case 'state':
      return `sandbox/crypt:${stmt.on ? 'on' : 'off'}`;
    case 'glob':
      return `crypt${stmt.encrypt ? '+' : '-'}${fromBytes(stmt.pattern)}`;
    case 'key':
      return stmt.key.kind === 'env' ? `crypt/key:\${${stmt.key.name}}` : 'crypt/key:…';
    case 'tmp':
      return `crypt/tmp:${fromBytes(stmt.dir)}`;
  }
}
