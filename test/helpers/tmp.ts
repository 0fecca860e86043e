// Temp directories for test files, removed when the test process exits.
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A fresh directory (canonical path: no symlink in it) holding `files` (relative path → content),
 * mode 0755 for directories and 0644 for files so that any user may read them.
 */
const made = new Set<string>();
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/**
 * Removes `dir` (made by tempTree) now, not at exit. For a test that leaves a big tree: the exit
 * handler runs after uvu's summary, where test/run.mjs gives a file 20 s to end, and removing
 * ~1 GB and 8500 files there took 3 s on a loaded machine (crypt/sandbox-rewrites).
 */
export function removeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  made.delete(dir);
}

/** Runs `use` with a fresh tempTree(prefix), removed when `use` has ended (however). */
export async function withTempTree<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = tempTree(prefix);
  try {
    return await use(dir);
  } finally {
    removeTree(dir);
  }
}

/** The trees tempTree made that are still left for the exit handler. */
export function treesLeftForExit(): string[] {
  return [...made];
}

export function tempTree(prefix: string, files: Record<string, string> = {}): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), `tsyd-${prefix}-`)));
  chmodSync(dir, 0o755);
  made.add(dir);
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, content, { mode: 0o644 });
  }
  return dir;
}

/** `dir` and everything in it owned by `uid` (symlinks themselves, not what they point to). */
export function ownTree(dir: string, uid: number): void {
  lchownSync(dir, uid, uid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) ownTree(p, uid);
    else lchownSync(p, uid, uid);
  }
}
