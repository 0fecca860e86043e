// A malformed glob or address, located in the pattern text. The rule parser adds the rule,
// its source and the column; used alone it is still a readable PolicyError.
import { PolicyError } from '../errors.js';

export class PatternError extends PolicyError {
  override name = 'PatternError';
  /** Offset of the problem in the pattern text (0-based). */
  readonly index: number;
  /** What is wrong, without the pattern. */
  readonly reason: string;
  /** The form that was expected. */
  readonly expected: string;

  constructor(pattern: string, index: number, reason: string, expected: string) {
    super(`bad pattern '${pattern}': ${reason}; expected ${expected}`);
    this.index = index;
    this.reason = reason;
    this.expected = expected;
  }
}
