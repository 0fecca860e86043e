// The Crypt sandboxing part of a policy: on or off, which canonical paths are encrypted at rest
// (crypt+GLOB / crypt-GLOB, the last match wins), where the key comes from, crypt/tmp.
import { PolicyError } from '../errors.js';
import { globMatcher, parsedGlob, type GlobMatcher } from './glob.js';
import { SubtreeDecisions } from './subtree-decisions.js';
import { fromBytes } from './bytes.js';
import { parseCryptRule, type CryptKeySource, type CryptStatement } from './crypt-rules.js';
import { describeSource, type RuleSource } from './source.js';

/** Plain data for the emulators. SAFETY: never the key (emulators get a handle: src/crypt/key.ts). */
export interface CryptData {
  on: boolean;
  rules: Array<{ encrypt: boolean; pattern: string }>;
  tmp?: string;
}

export class CryptSettings {
  on = false;
  private rules: Array<{ encrypt: boolean; pattern: string; glob: GlobMatcher }> = [];
  key?: CryptKeySource;
  tmp?: string;
  /** Where `sandbox/crypt:on` was given (for the error when no key comes with it). */
  onSource?: RuleSource;
  /** The rules as automata, for sameBelow(); rebuilt after a change. */
  private subtree?: SubtreeDecisions;

  apply(stmt: CryptStatement): void {
    switch (stmt.set) {
      case 'state':
        this.on = stmt.on;
        if (stmt.on) this.onSource = stmt.source;
        return;
      case 'glob':
        this.rules.push({ encrypt: stmt.encrypt, pattern: stmt.pattern, glob: globMatcher(stmt.pattern) });
        this.subtree = undefined;
        return;
      case 'key':
        this.key = stmt.key;
        return;
      case 'tmp':
        this.tmp = stmt.dir;
        return;
    }
  }

  /** Is `path` (canonical, a byte string) encrypted at rest? Only while Crypt is on. */
  encrypts(path: string): boolean {
    if (!this.on) return false;
    for (let i = this.rules.length - 1; i >= 0; i--) if (this.rules[i]!.glob(path)) return this.rules[i]!.encrypt;
    return false;
  }

  /**
   * Is every path below `from` encrypted exactly as the same path below `to`? (Renames of whole
   * directories: otherwise files would change between ciphertext and plaintext by their names.)
   */
  sameBelow(from: string, to: string): boolean {
    if (!this.on) return true;
    this.subtree ??= new SubtreeDecisions(this.rules.map((r) => ({ allow: r.encrypt, glob: parsedGlob(r.pattern) })), false);
    return this.subtree.difference(`${from}/`, `${to}/`) === null;
  }

  /** The policy error of `sandbox/crypt:on` without a key (exit 125), or nothing. */
  check(): void {
    if (!this.on || this.key !== undefined) return;
    const from = this.onSource ? ` (from ${describeSource(this.onSource)})` : '';
    throw new PolicyError(`sandbox/crypt:on${from}: no key is given; expected a crypt/key:HEX (64 hex digits) or crypt/key:\${TSYD_NAME} rule`);
  }

  toJSON(): CryptData {
    const data: CryptData = { on: this.on, rules: this.rules.map((r) => ({ encrypt: r.encrypt, pattern: r.pattern })) };
    if (this.tmp !== undefined) data.tmp = this.tmp;
    return data;
  }

  /** Takes toJSON() data, validating its globs as rules are validated. */
  loadJSON(data: CryptData): void {
    if (typeof data.on !== 'boolean' || !Array.isArray(data.rules)) throw new PolicyError('bad policy data: crypt must be { on, rules }');
    this.on = data.on;
    for (const r of data.rules) this.apply(parseCryptRule(`crypt${r.encrypt ? '+' : '-'}${r.pattern}`, 0, { kind: 'data' }));
    if (data.tmp !== undefined) this.apply(parseCryptRule(`crypt/tmp:${data.tmp}`, 0, { kind: 'data' }));
  }

  /** Rule lines for `tsyd check` (the key's value never). */
  normalized(): string[] {
    const out = [`sandbox/crypt:${this.on ? 'on' : 'off'}`];
    for (const r of this.rules) out.push(`crypt${r.encrypt ? '+' : '-'}${fromBytes(r.pattern)}`);
    if (this.key !== undefined) out.push(this.key.kind === 'env' ? `crypt/key:\${${this.key.name}}` : 'crypt/key:…');
    if (this.tmp !== undefined) out.push(`crypt/tmp:${fromBytes(this.tmp)}`);
    return out;
  }
}
