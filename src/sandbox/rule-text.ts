// The text around a rule: whitespace and `#` comments. A `\` keeps the next char as it is,
// as in globs, so `\ ` is a trailing space and `\#` a literal `#` after whitespace.

const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f';

/** True when s[i] is preceded by an odd number of backslashes (from `from` on). */
function escaped(s: string, i: number, from: number): boolean {
  let n = 0;
  for (let k = i - 1; k >= from && s[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

/**
 * Strips leading and trailing whitespace; `lead` is how much was cut at the start.
 * SAFETY: a stray trailing space would make `deny/read+/etc/shadow ` deny a different,
 * nonexistent file; a real trailing space in a name is written `\ `.
 */
export function trimRule(s: string): { text: string; lead: number } {
  let start = 0;
  while (start < s.length && isSpace(s[start])) start++;
  let end = s.length;
  while (end > start && isSpace(s[end - 1]) && !escaped(s, end - 1, start)) end--;
  return { text: s.slice(start, end), lead: start };
}

/** Cuts a comment: a `#` at the start of the line or after unescaped whitespace. */
export function stripComment(line: string): string {
  let afterSpace = true;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') {
      i++;
      afterSpace = false;
    } else if (c === '#' && afterSpace) {
      return line.slice(0, i);
    } else {
      afterSpace = isSpace(c);
    }
  }
  return line;
}
