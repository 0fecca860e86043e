// A literal path as a glob.

/** Every glob, comment and blank char escaped with `\`, so the glob matches `path` only. */
export function globLiteral(path: string): string {
  return path.replace(/[\\*?[\]#\s]/g, (c) => `\\${c}`);
}
