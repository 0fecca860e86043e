// The file-system reads a policy is built from (the profile context, the secrets of each home,
// the symlinks on the way, the -P files), made through here so that a build can be recorded
// and its reads replayed later: the policy cache (policy-cache.ts) reuses a built policy only
// while every read gives what it gave then. Outside a recording these are the plain calls.
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from 'node:fs';

/** One read and what it saw (a fingerprint: equal fingerprints, equal answers for the build). */
export interface FsRead {
  op: 'realpath' | 'readdir' | 'readFile' | 'lstat' | 'readlink' | 'exists';
  path: string;
  seen: string;
}

let recording: FsRead[] | undefined;

const failed = (err: unknown) => `error:${(err as NodeJS.ErrnoException).code ?? String(err)}`;

/** Runs `read`, recording what it saw (or the error it threw) when a recording is on. */
function observed<T>(op: FsRead['op'], path: string, read: () => T, fingerprint: (value: T) => string): T {
  if (recording === undefined) return read();
  const into = recording;
  try {
    const value = read();
    into.push({ op, path, seen: fingerprint(value) });
    return value;
  } catch (err) {
    into.push({ op, path, seen: failed(err) });
    throw err;
  }
}

/**
 * What `lstat` tells the build: the type and permission bits, the hard links (policy-files.ts)
 * and the file's identity. SAFETY: a caller that starts using another field of the Stats
 * (size, times) must add it here, or a cached policy could miss a change it depends on.
 */
const statPrint = (st: Stats | undefined) => (st === undefined ? 'none' : `${st.mode}:${st.nlink}:${st.dev}:${st.ino}`);

export function realpath(path: string): string {
  return observed('realpath', path, () => realpathSync(path), (r) => r);
}

/** The names in `dir`, in the order the directory gives them. */
export function readdir(dir: string): string[] {
  return observed('readdir', dir, () => readdirSync(dir), (names) => names.join('\0'));
}

export function readFile(path: string): Buffer {
  return observed('readFile', path, () => readFileSync(path), (b) => b.toString('latin1'));
}

/** The lstat of `path`; undefined when it cannot be had (missing or not). */
export function lstatOrUndefined(path: string): Stats | undefined {
  return observed('lstat', path, () => lstatQuiet(path), statPrint);
}

function lstatQuiet(path: string): Stats | undefined {
  try {
    // A missing name is the common case (a profile looks for ~170 names per home): no exception.
    return lstatSync(path, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

export function readlink(path: string): string {
  return observed('readlink', path, () => readlinkSync(path), (t) => t);
}

export function exists(path: string): boolean {
  return observed('exists', path, () => existsSync(path), String);
}

/** Runs `build` with its reads recorded: its value and every read it made, in order. */
export function recordReads<T>(build: () => T): { value: T; reads: FsRead[] } {
  const outer = recording;
  const reads: FsRead[] = [];
  recording = reads;
  try {
    return { value: build(), reads };
  } finally {
    recording = outer;
  }
}

const replay: Record<FsRead['op'], (path: string) => string> = {
  realpath: (p) => realpathSync(p),
  readdir: (p) => readdirSync(p).join('\0'),
  // SAFETY (liveness): a -P file may be a FIFO or a device (/dev/stdin): reading it again would
  // block or take what is not ours; anything but a regular file never compares equal.
  readFile: (p) => (statSync(p).isFile() ? readFileSync(p).toString('latin1') : 'error:not a regular file'),
  lstat: (p) => statPrint(lstatQuiet(p)),
  readlink: (p) => readlinkSync(p),
  exists: (p) => String(existsSync(p)),
};

/** True when every read of `reads`, made again now, sees what it saw. */
export function sameReads(reads: readonly FsRead[]): boolean {
  for (const r of reads) {
    let now: string;
    try {
      now = replay[r.op](r.path);
    } catch (err) {
      now = failed(err);
    }
    if (now !== r.seen) return false;
  }
  return true;
}
