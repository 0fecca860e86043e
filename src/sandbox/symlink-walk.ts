// Where a path leads, and the symlinks on the way: `/bin/awk` on a merged-/usr Debian passes
// /bin and /etc/alternatives/awk. Each link is a name the program passes (stat must let it see
// it; replacing it points the path elsewhere).
import type { Stats } from 'node:fs';
import { lstatOrUndefined, readlink } from './fs-reads.js';

export { lstatOrUndefined };

/** Past this many links the kernel says ELOOP: the walk stops there too. */
const MAX_LINKS = 40;

export interface SymlinkWalk {
  /**
   * Where the absolute `path` leads: like realpath, but a missing component (and what follows)
   * is kept as written, and a dangling symlink is followed to where its target would be — a
   * program that may create that target makes the link live. Null on a loop.
   */
  target: string | null;
  /** The absolute paths of the symlinks followed, in order. */
  links: string[];
}

/** Walks `path`; `lstat` may be cached by the caller. */
export function walkSymlinks(path: string, lstat: (p: string) => Stats | undefined = lstatOrUndefined): SymlinkWalk {
  const todo = path.split('/').filter((c) => c !== '' && c !== '.');
  const cur: string[] = [];
  const links: string[] = [];
  let missing = false;
  while (todo.length > 0) {
    const c = todo.shift()!;
    if (c === '..') {
      cur.pop();
      continue;
    }
    if (!missing) {
      const next = `/${[...cur, c].join('/')}`;
      const st = lstat(next);
      if (st === undefined) missing = true;
      else if (st.isSymbolicLink()) {
        if (links.length === MAX_LINKS) return { target: null, links };
        let target: string;
        try {
          target = readlink(next);
        } catch {
          return { target: null, links };
        }
        links.push(next);
        if (target.startsWith('/')) cur.length = 0;
        todo.unshift(...target.split('/').filter((t) => t !== '' && t !== '.'));
        continue;
      }
    }
    cur.push(c);
  }
  return { target: `/${cur.join('/')}`, links };
}

/** Where `path` leads (walkSymlinks' target). */
export function resolveLoose(path: string, lstat: (p: string) => Stats | undefined): string | null {
  return walkSymlinks(path, lstat).target;
}

/** The symlinks followed resolving the absolute `path` (walkSymlinks' links). */
export function linksOnTheWay(path: string): string[] {
  return walkSymlinks(path).links;
}
