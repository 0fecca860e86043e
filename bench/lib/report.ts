// One section of bench/RESULTS.md: tables, notes and the raw figures for results.json.
export interface Table {
  caption?: string;
  headers: string[];
  rows: string[][];
}

export interface Section {
  id: string;
  title: string;
  /** What was run, in words a reader can repeat. */
  method: string[];
  tables: Table[];
  notes: string[];
  /** Raw samples and medians, for results.json. */
  data: Record<string, unknown>;
}

export function markdownTable(t: Table): string {
  const lines: string[] = [];
  if (t.caption) lines.push(t.caption, '');
  lines.push(`| ${t.headers.join(' | ')} |`, `|${t.headers.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`);
  for (const r of t.rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

export function markdownSection(s: Section): string {
  const parts = [`## ${s.title}`, ''];
  for (const m of s.method) parts.push(m);
  if (s.method.length > 0) parts.push('');
  for (const t of s.tables) parts.push(markdownTable(t), '');
  for (const n of s.notes) parts.push(`- ${n}`);
  if (s.notes.length > 0) parts.push('');
  return parts.join('\n');
}
