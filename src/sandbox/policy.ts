// The policy: which capabilities are on, and per capability an ordered rule list in which
// the last matching rule wins.
import { PolicyError } from '../errors.js';
import { fromBytes } from './bytes.js';
import { compileGlob, type Matcher } from './glob.js';
import { CAPABILITIES, type Capability, type Statement } from './rules.js';

interface Rule {
  action: 'allow' | 'deny';
  pattern: string;
  match: Matcher;
}

export interface PolicyData {
  on: Capability[];
  rules: Array<{ action: 'allow' | 'deny'; cap: Capability; pattern: string }>;
  lock: 'on' | 'off' | 'exec';
}

export class Policy {
  private readonly on = new Set<Capability>();
  private readonly rules = new Map<Capability, Rule[]>(CAPABILITIES.map((c) => [c, []]));
  private lockMode: 'on' | 'off' | 'exec' = 'off';

  static from(statements: Statement[]): Policy {
    const p = new Policy();
    for (const s of statements) p.apply(s);
    return p;
  }

  get lock(): 'on' | 'off' | 'exec' {
    return this.lockMode;
  }

  apply(s: Statement): void {
    if (this.lockMode === 'on') throw new PolicyError('policy is locked: no rule can change after lock:on');
    switch (s.type) {
      case 'lock':
        this.lockMode = s.mode;
        return;
      case 'sandbox':
        for (const c of s.caps) {
          if (s.on) this.on.add(c);
          else this.on.delete(c);
        }
        return;
      case 'rule': {
        const list = this.rules.get(s.cap)!;
        if (s.op === '+') {
          list.push({ action: s.action, pattern: s.pattern, match: compileGlob(s.pattern) });
          return;
        }
        for (let i = list.length - 1; i >= 0; i--) {
          const r = list[i]!;
          if (r.action === s.action && r.pattern === s.pattern) {
            list.splice(i, 1);
            if (s.op === '-') return;
          }
        }
        return;
      }
    }
  }

  isOn(cap: Capability): boolean {
    return this.on.has(cap);
  }

  /** Allowed? `path` is canonical and absolute, as a byte string. */
  check(cap: Capability, path: string): boolean {
    if (!this.on.has(cap)) return true;
    const list = this.rules.get(cap)!;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.match(path)) return r.action === 'allow';
    }
    // SAFETY: fail closed: a capability that is on denies what no rule allows.
    return false;
  }

  toJSON(): PolicyData {
    const rules: PolicyData['rules'] = [];
    for (const [cap, list] of this.rules) for (const r of list) rules.push({ action: r.action, cap, pattern: r.pattern });
    return { on: [...this.on], rules, lock: this.lockMode };
  }

  static fromJSON(data: PolicyData): Policy {
    const p = new Policy();
    for (const c of data.on) p.on.add(c);
    for (const r of data.rules) p.rules.get(r.cap)!.push({ action: r.action, pattern: r.pattern, match: compileGlob(r.pattern) });
    p.lockMode = data.lock;
    return p;
  }

  /** The policy as rule lines, in a canonical order (for `tsyd check`). */
  normalized(): string[] {
    const out: string[] = [];
    for (const c of CAPABILITIES) out.push(`sandbox/${c}:${this.on.has(c) ? 'on' : 'off'}`);
    for (const [cap, list] of this.rules) for (const r of list) out.push(`${r.action}/${cap}+${fromBytes(r.pattern)}`);
    out.push(`lock:${this.lockMode}`);
    return out;
  }
}
