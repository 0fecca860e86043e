// The symlinks a path resolution follows: `/bin/awk` on a merged-/usr Debian passes /bin and
// /etc/alternatives/awk. Each is a path the program names on its way, which stat must let it see.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/** Past this many links the kernel says ELOOP: the walk stops there too. */
const MAX_LINKS = 40;

/** The absolute paths of the symlinks followed resolving the absolute `path`, in order. */
export function linksOnTheWay(path: string): string[] {
  const links: string[] = [];
  const pending = path.split('/').filter((c) => c !== '').reverse();
  let at = '/';
  while (pending.length > 0 && links.length < MAX_LINKS) {
    const c = pending.pop()!;
    if (c === '.') continue;
    if (c === '..') {
      at = posix.dirname(at);
      continue;
    }
    const next = posix.join(at, c);
    let target: string;
    try {
      if (!lstatSync(next).isSymbolicLink()) {
        at = next;
        continue;
      }
      target = readlinkSync(next);
    } catch {
      break; // missing or unreadable: the run will say so
    }
    links.push(next);
    if (target.startsWith('/')) at = '/';
    pending.push(...target.split('/').filter((t) => t !== '').reverse());
  }
  return links;
}
