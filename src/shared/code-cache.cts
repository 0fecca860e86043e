// Loads a CommonJS bundle of tsyd (scripts/bundle-workers.mjs) with the V8 code cache made for
// it at build time: the CLI and each supervisor thread (monitor, every emulator
// isolate) then skip most of the parsing and compiling of their bundle at start-up.
// CommonJS itself (code-cache.cts → .cjs) so that the stubs that Node, Worker and piscina load
// synchronously can require it.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import vm from 'node:vm';

/** The cache file: the identity of the bundle it was made from (inode, size, mtime in ns: 3 × 8 bytes), then V8's data. */
const HEADER_BYTES = 24;

/** What the build writes beside `bundle`. */
export function cacheFileOf(bundle: string): string {
  return `${bundle}.v8cache`;
}

/**
 * The cache file's contents for `bundle` as it is on disk, made by V8 without running it.
 * SAFETY: the identity is that of the text compiled (read and stat'ed on one fd), and a bundle
 * written while it was read is refused: a cache named after a newer file than the code it holds
 * would run that old code (seen with a second build writing the bundle at the same time).
 */
export function makeCache(bundle: string): Buffer {
  const { source, id } = readWithIdentity(bundle);
  const script = new vm.Script(Module.wrap(source), { filename: bundle });
  const data = script.createCachedData();
  if (!readWithIdentity(bundle).id.equals(id)) throw new Error(`${bundle} changed while its code cache was made: build again`);
  return Buffer.concat([id, data]);
}

/** The bundles that are loaded with a code cache, relative to dist/src (scripts/bundle-workers.mjs makes them). */
export const CACHED_BUNDLES = ['cli/cli.bundle.cjs', 'actors/monitor.worker.bundle.cjs', 'actors/emulator.task.bundle.cjs', 'actors/ipc.worker.bundle.cjs'];

/**
 * Writes the code cache of each bundle under `distSrc` that exists, for the files as they are
 * here: run at install time too (bin/make-code-caches.cjs), since a cache names the file it was
 * made from (inode, mtime) and the copy an install extracts is a new file. Returns the bundles cached.
 */
export function makeCaches(distSrc: string): string[] {
  const made: string[] = [];
  for (const rel of CACHED_BUNDLES) {
    const bundle = join(distSrc, rel);
    if (!existsSync(bundle)) continue;
    writeFileSync(cacheFileOf(bundle), makeCache(bundle));
    made.push(rel);
  }
  return made;
}

/** Whether `bundle` has a cache made from it as it is now (what requireCached checks before it uses one). */
export function cacheMatches(bundle: string): boolean {
  return validCache(bundle, readWithIdentity(bundle).id) !== undefined;
}

/** V8's data from `bundle`'s cache file, if that cache was made from the file of identity `id`. */
function validCache(bundle: string, id: Buffer): Buffer | undefined {
  try {
    const file = readFileSync(cacheFileOf(bundle));
    if (file.length > HEADER_BYTES && file.subarray(0, HEADER_BYTES).equals(id)) return file.subarray(HEADER_BYTES);
  } catch {
    // no cache (not built by the build script): compile as usual
  }
  return undefined;
}

/** The file's text and its identity, both from one open file (no rename or rewrite between them). */
function readWithIdentity(file: string): { source: string; id: Buffer } {
  const fd = openSync(file, 'r');
  try {
    const id = identity(fd);
    return { source: readFileSync(fd, 'utf8'), id };
  } finally {
    closeSync(fd);
  }
}

/** What tells this version of the file from any other: inode, size, modification time (ns). */
function identity(fd: number): Buffer {
  const st = fstatSync(fd, { bigint: true });
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeBigUInt64LE(st.ino, 0);
  out.writeBigUInt64LE(st.size, 8);
  out.writeBigUInt64LE(st.mtimeNs, 16);
  return out;
}

/**
 * Runs `bundle` as `require(bundle)` would and returns its exports, with its code cache when
 * there is a valid one. SAFETY: V8 checks a cache only against the source's length, so a stale
 * cache (a bundle rebuilt or edited to the same length) would run the old code: the cache names
 * the file it was made from (inode, size, mtime in ns; any write changes the mtime) and is used
 * only when the bundle is still that file. (Hashing the source would load node:crypto in every
 * isolate: more memory per thread.) A missing, stale or rejected cache only costs the compile
 * it would have saved.
 */
export function requireCached(bundle: string): unknown {
  const { source, id } = readWithIdentity(bundle);
  const cachedData = validCache(bundle, id);
  // (The bundles hold no import(): scripts/bundle-workers.mjs makes them require() calls.)
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: { exports: unknown }, filename: string, dir: string) => void;
  const mod = { exports: {} as unknown };
  wrapper.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  return mod.exports;
}
