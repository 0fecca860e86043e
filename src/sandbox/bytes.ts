// Paths are bytes. tsyd carries them as latin1 strings (one char per byte) so that globs
// match non-UTF-8 names byte-wise; UTF-8 text from users is converted at the edges.
export function toBytes(utf8: string): string {
  return Buffer.from(utf8, 'utf8').toString('latin1');
}

export function fromBytes(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}
