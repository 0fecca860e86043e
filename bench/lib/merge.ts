// A partial run (`--only`) replaces its own sections of RESULTS.md and results.json and keeps the
// others as the earlier run wrote them, so that re-running one section loses no other figure.
import { existsSync, readFileSync } from 'node:fs';

/** The `## ` blocks of a RESULTS.md after its header, by title; a generated file's order. */
export function markdownBlocks(md: string): Array<{ title: string; text: string }> {
  const blocks: Array<{ title: string; text: string }> = [];
  for (const part of md.split(/^(?=## )/m).filter((p) => p.startsWith('## '))) {
    const title = /^## (.*)$/m.exec(part)![1]!;
    blocks.push({ title, text: part.replace(/\n*$/, '\n') });
  }
  return blocks;
}

/**
 * The earlier run's blocks with the new ones put in their place (new titles at the end), and
 * which earlier titles were kept. `skip` names blocks that are always regenerated (the summary).
 */
export function mergeBlocks(earlier: string, fresh: Array<{ title: string; text: string }>, skip: string[]): { blocks: string[]; kept: string[] } {
  const byTitle = new Map(fresh.map((b) => [b.title, b.text]));
  const blocks: string[] = [];
  const kept: string[] = [];
  for (const b of markdownBlocks(earlier)) {
    if (skip.includes(b.title)) continue;
    const now = byTitle.get(b.title);
    if (now !== undefined) {
      blocks.push(now);
      byTitle.delete(b.title);
    } else {
      blocks.push(b.text);
      kept.push(b.title);
    }
  }
  return { blocks: [...blocks, ...byTitle.values()], kept };
}

/** The earlier results.json's sections (raw data by section id), or none. */
export function earlierSections(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { sections?: Record<string, unknown> }).sections ?? {};
  } catch {
    return {};
  }
}

export function earlierMarkdown(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
