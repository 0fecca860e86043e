// Where a rule came from, and the one error format every rule error uses:
//   bad rule 'RULE' (from SOURCE): WHAT IS WRONG; expected FORM
import { PolicyError } from '../errors.js';

export type RuleSource =
  | { kind: 'arg' }
  /** The `index`-th entry (from 1) of the library's `policy` option. */
  | { kind: 'library'; index: number }
  | { kind: 'file'; file: string; line: number; col?: number }
  | { kind: 'profile'; name: string }
  | { kind: 'data' }
  | { kind: 'runtime' }
  /** A client of the IPC socket (ipc:): the rule is parsed as -m parses it. */
  | { kind: 'ipc' };

/** `-m`, `library rule N`, `FILE:LINE:COL`, `profile NAME`, `policy data`, the program or the IPC socket; `offset` moves the column right. */
export function describeSource(source: RuleSource, offset = 0): string {
  switch (source.kind) {
    case 'arg':
      return '-m';
    case 'library':
      return `library rule ${source.index}`;
    case 'file':
      return `${source.file}:${source.line}:${(source.col ?? 1) + offset}`;
    case 'profile':
      return `profile ${source.name}`;
    case 'data':
      return 'policy data';
    case 'runtime':
      return 'the program, through /dev/tsyd';
    case 'ipc':
      return 'the IPC socket';
  }
}

/** Control chars as \xHH, so that an error message cannot drive the terminal. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `rule` is display text (UTF-8); `offset` is where in it the problem is (for the column). */
export function ruleError(rule: string, source: RuleSource | undefined, offset: number, what: string, expected: string): PolicyError {
  const from = source ? ` (from ${describeSource(source, offset)})` : '';
  return new PolicyError(`bad rule '${printable(rule)}'${from}: ${printable(what)}; expected ${printable(expected)}`);
}
