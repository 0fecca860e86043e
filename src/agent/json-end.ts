// Where the runtime's message (one JSON object) ends, found as its bytes come, each byte looked at
// once: the agent never parses a text that cannot be whole yet (atkagent3: a parse of the whole
// text at every chunk ending in `}` cost O(N²) of the agent's main thread).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x7b, 0x5b]); // { [
const CLOSERS = new Set([0x7d, 0x5d]); // } ]
const BLANKS = new Set([0x20, 0x09, 0x0a, 0x0d]);

export class JsonEnd {
  private depth = 0;
  private inString = false;
  private escaped = false;

  /**
   * Looks at the next bytes of the text; true once its first top-level object or array has closed,
   * or once the text cannot be one (anything else at the top level: refused by its parse then).
   * Structural bytes are ASCII: a UTF-8 sequence never holds one.
   */
  feed(bytes: Uint8Array): boolean {
    for (const b of bytes) {
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === BACKSLASH) this.escaped = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (BLANKS.has(b)) continue;
      if (OPENERS.has(b)) {
        this.depth++;
        continue;
      }
      if (this.depth === 0) return true;
      if (CLOSERS.has(b) && --this.depth === 0) return true;
      if (b === QUOTE) this.inString = true;
    }
    return false;
  }
}
