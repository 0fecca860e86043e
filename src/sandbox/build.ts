// Policy inputs (rules, files) in command-line order → one Policy.
import { Policy } from './policy.js';
import { loadPolicyFile, parseRule, type Statement } from './rules.js';

/** One source of rules: a rule text (`-m`), or a policy file (`-P`). */
export type PolicyInput = { rule: string } | { file: string };

export function buildPolicy(inputs: PolicyInput[]): Policy {
  const statements: Statement[] = [];
  for (const input of inputs) {
    if ('rule' in input) statements.push(parseRule(input.rule, { kind: 'arg' }));
    else statements.push(...loadPolicyFile(input.file));
  }
  return Policy.from(statements);
}
