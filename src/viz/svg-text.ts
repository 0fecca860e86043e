// Text in the SVG pictures: the font sizes, an estimate of the width of a string (there is no font
// engine here: the estimate is for Helvetica/Arial, the fonts the SVG asks for), line wrapping,
// and escaping for XML.

export const FONT = 'Helvetica, Arial, sans-serif';
export const F_TITLE = 16;
export const F_STATE = 13;
export const F_SMALL = 10.5;
export const F_EDGE = 11;
export const LINE_H = 14;

/** The width of `s` drawn at `size` px, estimated per character class. */
export function textWidth(s: string, size: number, bold = false): number {
  let w = 0;
  for (const ch of s) {
    if ('il.,:;!|\'`'.includes(ch)) w += 0.3;
    else if ('fjrt()[] /-'.includes(ch)) w += 0.4;
    else if ('mwMW@'.includes(ch)) w += 0.9;
    else if (ch >= 'A' && ch <= 'Z') w += 0.7;
    else w += 0.58;
  }
  return w * size * (bold ? 1.08 : 1);
}

/**
 * The first sentence of `text` in lines of at most `width` characters, broken at spaces, at most
 * `maxLines` of them; the last one ends in '…' when the sentence does not fit.
 */
export function wrapSentence(text: string, width: number, maxLines: number): string[] {
  const flat = text.replace(/\s+/g, ' ').trim();
  const sentence = /^(.+?[.!?])(\s|$)/.exec(flat)?.[1] ?? flat;
  const lines: string[] = [];
  let line = '';
  for (const word of sentence.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  if (lines.length <= maxLines) return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l));
  const kept = lines.slice(0, maxLines);
  const last = kept[maxLines - 1]!;
  kept[maxLines - 1] = `${last.length >= width ? last.slice(0, width - 1).trimEnd() : last}…`;
  return kept;
}

export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A coordinate as written in the SVG: one decimal, so the output is short and stable. */
export function num(n: number): string {
  return String(Math.round(n * 10) / 10);
}
