// The files a policy is made of (`-P` files, the files a profile read, `tsyd learn`'s output)
// as the names a program would have to change to change that policy next time.
import { PolicyError } from '../errors.js';
import { toBytes } from './bytes.js';
import { lstatOrUndefined, walkSymlinks } from './symlink-walk.js';

/**
 * The canonical names (byte strings) behind `file` (relative to `cwd`): every symlink met on
 * the way to it (replacing one points the path elsewhere) and the place it leads to, which
 * need not exist yet (learn's output). SAFETY: fails closed — a path that loops cannot be
 * protected, and neither can a file with other hard links (they would change it too): both
 * are errors, and nothing runs.
 */
export function policyFileNames(file: string, cwd = process.cwd()): string[] {
  const absolute = file.startsWith('/') ? file : `${cwd}/${file}`;
  const { target, links } = walkSymlinks(absolute);
  if (target === null) throw new PolicyError(`policy file ${file}: too many symbolic links on the way: it cannot be protected from the program`);
  const st = lstatOrUndefined(target);
  if (st !== undefined && !st.isDirectory() && st.nlink > 1) {
    throw new PolicyError(`policy file ${file}: ${target} has ${st.nlink} hard links: the program could change it through another name; give tsyd a copy`);
  }
  return [...links, target].map(toBytes);
}

/** The names behind each of `files`, once each. */
export function policyFilesNames(files: Iterable<string>, cwd = process.cwd()): string[] {
  const names = new Set<string>();
  for (const f of files) for (const n of policyFileNames(f, cwd)) names.add(n);
  return [...names];
}
