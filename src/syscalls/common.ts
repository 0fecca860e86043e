// Small pieces every path handler uses: request arguments, resolving a path argument and
// answering a resolution failure.
import { constants as os } from 'node:os';
import { Answer, DECIDE_AS_OFFSET, EntryBits, LEFT_LINK, LEFT_OFFSET, native, Slot } from '../native/addon.js';
import type { EmulatorContext } from './context.js';

const { EACCES, ENOENT, ESRCH } = os.errno;

export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;
/** Slot.pathMissing after a resolution: what the last component was. */
export const Last = { exists: 0, missing: 1, dot: 2, dotdot: 3 } as const;

/** After resolvePath(Resolve.slashEntry): whether the path ended in '/' and its entry is a directory. */
export function entryOf(ctx: EmulatorContext): { slash: boolean; dir: boolean; missing: boolean } {
  const bits = ctx.slots[Slot.pathSlash]!;
  return { slash: (bits & EntryBits.endsInSlash) !== 0, dir: (bits & EntryBits.isDir) !== 0, missing: ctx.slots[Slot.pathMissing] === Last.missing };
}

/** No dirfd argument: the path is relative to the cwd. */
export const CWD = -1;

/** Argument i as a signed 32-bit int (fds, flags, modes). */
export function arg32(slots: Int32Array, i: number): number {
  return slots[Slot.args + 2 * i]!;
}

/**
 * Canonicalises a path argument into pathBuf. Returns the path as a byte string, '' for an
 * empty path allowed by AT_EMPTY_PATH (the dirfd itself), or null after answering the error
 * (nothing is answered when the caller is gone).
 */
export function resolveArg(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, flags: number): string | null {
  const len = native.resolvePath(dirfdArg, pathArg, flags);
  if ((len < 0 && hiddenFailure(ctx, sys, len)) || (len > 0 && walkedThroughHidden(ctx, sys, len))) {
    native.respond(Answer.error, ENOENT);
    return null;
  }
  return pathOrAnswer(ctx, len);
}

/**
 * True (after logging the denial) when the resolution walked into a directory that stat hides
 * and out again through "..", or followed a symlink that stat hides. SAFETY: `hidden/sub/../..`
 * would resolve while `hidden/nosuch/..` fails, and `hidden/link` to a visible file would
 * resolve: names under a hidden directory could be enumerated. A walk through a hidden path
 * finds nothing, as if it did not exist.
 */
export function walkedThroughHidden(ctx: EmulatorContext, sys: string, pathLen: number): boolean {
  const len = ctx.slots[Slot.pathLeftLen]!;
  if (len <= 0 || !ctx.policy.isOn('stat')) return false;
  const final = ctx.pathBuf.toString('latin1', 0, pathLen);
  // On the final path's own branch (itself or above it): not left, the final path decides.
  const onBranch = (p: string) => p === final || final.startsWith(p === '/' ? p : `${p}/`);
  for (const deepest of ctx.pathBuf.toString('latin1', LEFT_OFFSET, LEFT_OFFSET + len).split('\0')) {
    // A symlink followed: decided as itself, as a final path is (a visible link in a hidden
    // directory is the policy's choice).
    if (deepest.startsWith(LEFT_LINK)) {
      const link = deepest.slice(1);
      // Asked through ctx.allows even when allowed: `tsyd learn` records the link to allow it.
      if (!onBranch(link) && isHidden(ctx, sys, link)) return true;
      continue;
    }
    // The deepest point and every directory above it that was entered, then left.
    for (let p = deepest; p.length > 1 && !onBranch(p); p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
      if (!ctx.policy.check('stat', p)) return isHidden(ctx, sys, p);
    }
  }
  return false;
}

/**
 * True (after logging the denial) when a path resolution failed with `-errno` at an object
 * that stat hides. SAFETY: "H/file/" → ENOTDIR, "H/link" → ELOOP (RESOLVE_NO_SYMLINKS), a
 * search-protected "H/dir/x" → EACCES would tell the program that the hidden object exists
 * and what it is: it does not exist (ENOENT), as for every other call on it.
 */
export function hiddenFailure(ctx: EmulatorContext, sys: string, err: number): boolean {
  if (err === -ESRCH || err === -ENOENT || !ctx.policy.isOn('stat')) return false;
  const len = ctx.slots[Slot.pathFailLen]!;
  if (len <= 0) return false;
  const at = ctx.pathBuf.toString('latin1', 0, len);
  const reached = at.slice(0, ctx.slots[Slot.pathFailOut]!);
  return (reached !== '' && isHidden(ctx, sys, reached)) || (reached !== at && isHidden(ctx, sys, at));
}

/**
 * The path an addon call put into pathBuf (its length) — or, for a magic link to a deleted file,
 * the path that file had, which it is decided by — or null after answering its -errno.
 */
function pathOrAnswer(ctx: EmulatorContext, len: number): string | null {
  if (len < 0) {
    if (len !== -ESRCH) native.respond(Answer.error, -len);
    return null;
  }
  const decideAs = ctx.slots[Slot.pathDecideLen]!;
  if (len > 0 && decideAs > 0) return ctx.pathBuf.toString('latin1', DECIDE_AS_OFFSET, DECIDE_AS_OFFSET + decideAs);
  return ctx.pathBuf.toString('latin1', 0, len);
}

/**
 * resolveArg for every capability but stat itself: a path that stat hides does not exist for
 * the program, whatever the call's own capability would say (ENOENT, one stat record).
 * SAFETY: otherwise open, mkdir, rename... would tell a hidden file from a missing one.
 */
export function resolveVisible(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, flags: number): string | null {
  const path = resolveArg(ctx, sys, dirfdArg, pathArg, flags);
  if (path === null || path === '' || !isHidden(ctx, sys, path)) return path;
  native.respond(Answer.error, ENOENT);
  return null;
}

/** True (after logging the denial) when stat is on and denies `path`. */
export function isHidden(ctx: EmulatorContext, sys: string, path: string): boolean {
  return ctx.policy.isOn('stat') && !ctx.allows('stat', sys, path);
}

/** The path of an fd argument (or of the cwd for AT_FDCWD) into pathBuf; null after answering. */
export function resolveFdArg(ctx: EmulatorContext, fdArg: number): string | null {
  return pathOrAnswer(ctx, native.resolveFd(fdArg));
}

/**
 * Copies the program's fd argument into tsyd for this request and returns the copy's path
 * (decide on it; ops then act on the copy), or null after answering.
 */
export function takeFdArg(ctx: EmulatorContext, fdArg: number): string | null {
  return pathOrAnswer(ctx, native.takeFd(fdArg));
}

/** Answers `errno` for a denial. */
export function refuse(errno: number): void {
  native.respond(Answer.error, errno);
}

/**
 * Answers a denial of `path`: EACCES, or ENOENT where stat hides the path.
 * SAFETY: a hidden path must not show through the errno of another call (EACCES would tell
 * the program that it exists).
 */
export function refusePath(ctx: EmulatorContext, path: string): void {
  native.respond(Answer.error, ctx.policy.isOn('stat') && !ctx.policy.check('stat', path) ? ENOENT : EACCES);
}
