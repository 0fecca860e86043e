// Long generated rule lists (the built-in profiles) → statements, each path pattern parsed once.
import { isCapability } from './capabilities.js';
import { parseRule, type Statement } from './rules.js';
import type { RuleSource } from './source.js';

/**
 * `ACTION/CAP+/PATTERN` with nothing for trimRule to cut (first char a letter, last no space):
 * the form of almost every line of a profile.
 */
const PATH_RULE = /^(allow|deny)\/([a-z/]+)\+(\/[^]*[^ \t\r\v\f\n])$/;

/**
 * parseRule on each of `lines`, in order. A profile names each path pattern for several
 * capabilities (a secret for 8 of them): a rule whose action and pattern were parsed before
 * for another capability is that statement with its capability changed — for a pattern that
 * starts with `/` the parse depends on the pattern alone (the same checks, one glob target),
 * for file and net capabilities alike. Any other line is parsed as it is.
 */
export function parseRuleList(lines: string[], source: () => RuleSource): Statement[] {
  const parsed = new Map<string, Statement & { type: 'rule' }>();
  return lines.map((line) => {
    const m = PATH_RULE.exec(line);
    const before = m !== null && isCapability(m[2]!) ? parsed.get(`${m[1]}+${m[3]}`) : undefined;
    if (before !== undefined) {
      return { ...before, cap: m![2] as typeof before.cap, targets: before.targets.map((t) => ({ ...t })), source: source() };
    }
    const stmt = parseRule(line, source());
    if (m !== null && stmt.type === 'rule') parsed.set(`${m[1]}+${m[3]}`, stmt);
    return stmt;
  });
}
