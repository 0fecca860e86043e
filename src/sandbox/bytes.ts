// Paths are bytes. tsyd carries them as latin1 strings (one char per byte) so that globs
// match non-UTF-8 names byte-wise; UTF-8 text from users is converted at the edges.

/** ASCII is the same text in both forms: converted without a copy (a profile has ~1800 rules). */
const ASCII = /^[\x00-\x7f]*$/;

/** UTF-8 text (a rule typed by a person) → byte string. */
export function toBytes(utf8: string): string {
  return ASCII.test(utf8) ? utf8 : Buffer.from(utf8, 'utf8').toString('latin1');
}

/** Byte string → UTF-8 text for display. Invalid UTF-8 shows as U+FFFD: display only. */
export function fromBytes(latin1: string): string {
  return ASCII.test(latin1) ? latin1 : Buffer.from(latin1, 'latin1').toString('utf8');
}

/** Whether two byte strings (e.g. two seccomp filters) are both present and the same bytes. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
