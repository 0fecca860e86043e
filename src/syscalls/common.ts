// Small pieces every path handler uses: resolving a path argument and answering a resolution
// failure.
import { constants as os } from 'node:os';
import { CONTROL_ROUTE_HIT, EntryBits, LEFT_LINK } from '../native/addon.js';
import type { EmulatorContext } from './context.js';
import type { PathArg } from './request.js';

const { EACCES, ENOENT, ESRCH } = os.errno;

export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_EMPTY_PATH = 0x1000;
/** req.last after a resolution: what the last component was. */
export const Last = { exists: 0, missing: 1, dot: 2, dotdot: 3 } as const;

/** After resolvePath(Resolve.slashEntry): whether the path ended in '/' and its entry is a directory. */
export function entryOf(ctx: EmulatorContext): { slash: boolean; dir: boolean; missing: boolean } {
  const bits = ctx.req.slash;
  return { slash: (bits & EntryBits.endsInSlash) !== 0, dir: (bits & EntryBits.isDir) !== 0, missing: ctx.req.last === Last.missing };
}

/** resolveArg(Resolve.controlRoute)'s answer for a raw path on the control route: no path (it holds a NUL). */
export const ON_CONTROL_ROUTE = '\0control route';

/**
 * Canonicalises path argument `at` into the path buffer. Returns the path as a byte string, ''
 * for an empty path allowed by AT_EMPTY_PATH (the dirfd itself), or null after answering the
 * error (nothing is answered when the caller is gone).
 */
export function resolveArg(ctx: EmulatorContext, sys: string, at: PathArg, flags: number): string | null {
  const len = ctx.req.resolvePath(at, flags);
  if (len === CONTROL_ROUTE_HIT) return ON_CONTROL_ROUTE;
  if ((len < 0 && hiddenFailure(ctx, sys, len)) || (len > 0 && walkedThroughHidden(ctx, sys, len))) {
    ctx.req.fail(ENOENT);
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
  if (!ctx.policy.isOn('stat')) return false;
  const left = ctx.req.leftPaths();
  if (left === null) return false;
  const final = ctx.req.pathText(pathLen);
  // On the final path's own branch (itself or above it): not left, the final path decides.
  const onBranch = (p: string) => p === final || final.startsWith(p === '/' ? p : `${p}/`);
  for (const deepest of left) {
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
  const failed = ctx.req.failedAt();
  if (failed === null) return false;
  const { at, reached } = failed;
  return (reached !== '' && isHidden(ctx, sys, reached)) || (reached !== at && isHidden(ctx, sys, at));
}

/**
 * The path an addon call put into the path buffer (its length) — or, for a magic link to a
 * deleted file, the path that file had, which it is decided by — or null after answering its -errno.
 */
function pathOrAnswer(ctx: EmulatorContext, len: number): string | null {
  if (len < 0) {
    if (len !== -ESRCH) ctx.req.fail(-len);
    return null;
  }
  return (len > 0 ? ctx.req.decideAs() : null) ?? ctx.req.pathText(len);
}

/**
 * resolveArg for every capability but stat itself: a path that stat hides does not exist for
 * the program, whatever the call's own capability would say (ENOENT, one stat record).
 * SAFETY: otherwise open, mkdir, rename... would tell a hidden file from a missing one.
 */
export function resolveVisible(ctx: EmulatorContext, sys: string, at: PathArg, flags: number): string | null {
  const path = resolveArg(ctx, sys, at, flags);
  if (path === null || path === '' || !isHidden(ctx, sys, path)) return path;
  ctx.req.fail(ENOENT);
  return null;
}

/** True (after logging the denial) when stat is on and denies `path`. */
export function isHidden(ctx: EmulatorContext, sys: string, path: string): boolean {
  return ctx.policy.isOn('stat') && !ctx.allows('stat', sys, path);
}

/** The path of fd argument `fdArg` (or of the cwd for CWD) into the path buffer; null after answering. */
export function resolveFdArg(ctx: EmulatorContext, fdArg: number): string | null {
  return pathOrAnswer(ctx, ctx.req.resolveFd(fdArg));
}

/**
 * Copies the program's fd argument `fdArg` into tsyd for this request and returns the copy's
 * path (decide on it; ops then act on the copy), or null after answering.
 */
export function takeFdArg(ctx: EmulatorContext, fdArg: number): string | null {
  return pathOrAnswer(ctx, ctx.req.takeFd(fdArg));
}

/**
 * Answers a denial of `path`: EACCES, or ENOENT where stat hides the path.
 * SAFETY: a hidden path must not show through the errno of another call (EACCES would tell
 * the program that it exists).
 */
export function refusePath(ctx: EmulatorContext, path: string): void {
  ctx.req.fail(ctx.policy.isOn('stat') && !ctx.policy.check('stat', path) ? ENOENT : EACCES);
}
