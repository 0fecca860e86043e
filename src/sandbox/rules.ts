// syd-style rule lines → statements. Every error names the rule, where it came from, what is
// wrong and the form that was expected.
import { readFileSync } from 'node:fs';
import { PolicyError } from '../errors.js';
import { toBytes } from './bytes.js';

/** Capabilities this version enforces. */
export const CAPABILITIES = ['read', 'write'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export type RuleSource =
  | { kind: 'arg' }
  | { kind: 'file'; file: string; line: number; col?: number }
  | { kind: 'profile'; name: string };

export type Statement =
  | { type: 'sandbox'; caps: Capability[]; on: boolean }
  | { type: 'rule'; action: 'allow' | 'deny'; cap: Capability; op: '+' | '-' | '^'; pattern: string }
  | { type: 'lock'; mode: 'on' | 'off' | 'exec' };

export function describeSource(s: RuleSource): string {
  switch (s.kind) {
    case 'arg':
      return '-m';
    case 'file':
      return `${s.file}:${s.line}${s.col ? `:${s.col}` : ''}`;
    case 'profile':
      return `profile ${s.name}`;
  }
}

const FORMS = 'expected sandbox/CAP:on|off, allow/CAP+GLOB, deny/CAP+GLOB, allow/CAP-GLOB or lock:on|off|exec';

function bad(text: string, source: RuleSource, why: string): PolicyError {
  return new PolicyError(`bad rule '${text}' (from ${describeSource(source)}): ${why}`);
}

function capability(name: string, text: string, source: RuleSource): Capability {
  if ((CAPABILITIES as readonly string[]).includes(name)) return name as Capability;
  throw bad(text, source, `unknown capability '${name}'; expected one of ${CAPABILITIES.join(', ')}`);
}

/** Parses one rule. `text` is UTF-8 as typed; patterns are returned as byte strings. */
export function parseRule(text: string, source: RuleSource): Statement {
  const t = text.trim();
  if (t === '') throw bad(text, source, `empty rule; ${FORMS}`);
  const lock = /^lock:(.*)$/.exec(t);
  if (lock) {
    const mode = lock[1]!;
    if (mode === 'on' || mode === 'off' || mode === 'exec') return { type: 'lock', mode };
    throw bad(text, source, `lock must be on, off or exec, got '${mode}'`);
  }
  const sandbox = /^sandbox\/([^:]*):(.*)$/.exec(t);
  if (sandbox) {
    const caps = sandbox[1]!.split(',').map((c) => capability(c.trim(), text, source));
    const v = sandbox[2]!;
    if (v !== 'on' && v !== 'off') throw bad(text, source, `sandbox/${sandbox[1]} must be :on or :off, got ':${v}'`);
    return { type: 'sandbox', caps, on: v === 'on' };
  }
  const rule = /^(allow|deny)\/([a-z/]+?)([+\-^])(.*)$/s.exec(t);
  if (rule) {
    const cap = capability(rule[2]!, text, source);
    const pattern = rule[4]!;
    if (pattern === '') throw bad(text, source, 'the path glob is empty');
    // SAFETY: paths are decided after canonicalisation, so they are always absolute:
    // a relative pattern could never match and would silently do nothing.
    if (!pattern.startsWith('/')) {
      throw bad(text, source, `'${pattern}' is not an absolute path and can never match (paths are canonical and absolute)`);
    }
    return { type: 'rule', action: rule[1] as 'allow' | 'deny', cap, op: rule[3] as '+' | '-' | '^', pattern: toBytes(pattern) };
  }
  if (/^(allow|deny)\//.test(t)) throw bad(text, source, `missing +, - or ^ between capability and glob; ${FORMS}`);
  throw bad(text, source, FORMS);
}

/** Reads a policy file: one rule per line, blank lines and `#` comments skipped. */
export function loadPolicyFile(file: string): Statement[] {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PolicyError(`cannot read policy file '${file}': ${e.code ?? ''} ${e.message}`.trim());
  }
  const out: Statement[] = [];
  content.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const col = line.search(/\S/) + 1;
    if (col === 0 || line.trimStart().startsWith('#')) return;
    out.push(parseRule(line, { kind: 'file', file, line: i + 1, col }));
  });
  return out;
}
