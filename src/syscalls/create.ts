// The create capability for new names: mkdir, mknod, symlink (the new link's path; its target
// is only text), link (the new path; the file may not gain a more permissive decision). Emulated: tsyd creates the name in the checked parent
// directory (opened without following anything), with the program's umask.
import { constants as os } from 'node:os';
import { FsOp, Resolve } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, entryOf, Last, refusePath, resolveVisible, resolveFdArg } from './common.js';
import { LINK_KEEPS, refuseWidening } from './move.js';
import { refuseCryptMove } from './crypt.js';
import { args, CWD, type PathArg } from './request.js';

const { EEXIST, EINVAL, ENOENT, EPERM } = os.errno;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
/** The types mknod makes (the kernel's may_mknod; 0 is a regular file). */
const MKNOD_TYPES = new Set([0, 0o100000, 0o020000, 0o060000, 0o010000, 0o140000]);

/** mknod's answer for a type it never makes, before it looks at the path (may_mknod); 0 to go on. */
function mknodTypeError(mode: number): number {
  const type = mode & S_IFMT;
  return type === S_IFDIR ? EPERM : MKNOD_TYPES.has(type) ? 0 : EINVAL;
}

/**
 * Resolves the new name (never followed, not even as "name/") and decides create on it; null
 * after answering. `makesDir`: mkdir, the one call for which "name/" may be a new name.
 */
function decideCreate(ctx: EmulatorContext, sys: string, at: PathArg, makesDir = false): string | null {
  const path = resolveVisible(ctx, sys, at, Resolve.noFollow | Resolve.slashEntry);
  if (path === null) return null;
  ctx.fault(path);
  // "new/" asks for a directory: anything else the kernel does not make (ENOENT; an existing
  // name gives EEXIST from the call itself).
  const entry = entryOf(ctx);
  if (entry.slash && entry.missing && !makesDir) {
    ctx.req.fail(ENOENT);
    return null;
  }
  // "dir/." and "dir/..": an existing directory, and no new name (the kernel says EEXIST).
  if (ctx.req.last >= Last.dot) {
    ctx.req.fail(EEXIST);
    return null;
  }
  if (ctx.req.last === Last.exists && !ctx.policy.check('create', path) && ctx.policy.check('stat', path)) {
    // The name exists: the call cannot create anything and fails as it would without tsyd
    // (mkdir -p probes every parent this way). Where stat is hidden, EACCES tells nothing.
    ctx.req.fail(EEXIST);
    return null;
  }
  if (!ctx.allows('create', sys, path)) {
    refusePath(ctx, path);
    return null;
  }
  return path;
}

function link(ctx: EmulatorContext, sys: string, src: PathArg, dst: PathArg, flags: number): void {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return ctx.req.fail(EINVAL);
  let rflags = flags & AT_SYMLINK_FOLLOW ? 0 : Resolve.noFollow;
  if (flags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  let source = resolveVisible(ctx, sys, src, rflags);
  if (source === '') source = resolveFdArg(ctx, src.dirfd ?? CWD);
  if (source === null) return;
  ctx.req.savePath();
  const target = decideCreate(ctx, sys, dst);
  if (target === null) return;
  // SAFETY: the new name shares the file: it may not widen what the program may do with it.
  if (refuseWidening(ctx, sys, source, target, LINK_KEEPS)) return;
  if (refuseCryptMove(ctx, source, target, true)) return;
  ctx.req.fsOp(FsOp.link, flags & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) ? 1 : 0);
}

/** A link is decided as soon as create or one of the capabilities the file keeps is on. */
const LINK_CAPS: HandlerSpec['caps'] = ['create', ...LINK_KEEPS];
const CREATE_CAPS: HandlerSpec['caps'] = ['create', 'stat'];

const MKDIR = args('path', 'mode');
const MKDIRAT = args('dirfd', 'path', 'mode');
const MKNOD = args('path', 'mode', 'dev');
const MKNODAT = args('dirfd', 'path', 'mode', 'dev');
const SYMLINK = args('target', 'linkpath');
const SYMLINKAT = args('target', 'newdirfd', 'linkpath');
const LINK = args('oldpath', 'newpath');
const LINKAT = args('olddirfd', 'oldpath', 'newdirfd', 'newpath', 'flags');
/** The paths of the two-path calls (the new link's path is the name created). */
const SYMLINK_NEW: PathArg = { path: SYMLINK.linkpath };
const SYMLINKAT_NEW: PathArg = { dirfd: SYMLINKAT.newdirfd, path: SYMLINKAT.linkpath };
const LINK_OLD: PathArg = { path: LINK.oldpath };
const LINK_NEW: PathArg = { path: LINK.newpath };
const LINKAT_OLD: PathArg = { dirfd: LINKAT.olddirfd, path: LINKAT.oldpath };
const LINKAT_NEW: PathArg = { dirfd: LINKAT.newdirfd, path: LINKAT.newpath };

export function createHandlers(): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, caps: HandlerSpec['caps'], handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('mkdir', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'mkdir', MKDIR, true) !== null) ctx.req.fsOp(FsOp.mkdir, MKDIR.mode);
  });
  add('mkdirat', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'mkdirat', MKDIRAT, true) !== null) ctx.req.fsOp(FsOp.mkdir, MKDIRAT.mode);
  });
  add('mknod', CREATE_CAPS, (ctx) => {
    const bad = mknodTypeError(ctx.req.int(MKNOD.mode));
    if (bad !== 0) return ctx.req.fail(bad);
    if (decideCreate(ctx, 'mknod', MKNOD) !== null) ctx.req.fsOp(FsOp.mknod, MKNOD.mode, MKNOD.dev);
  });
  add('mknodat', CREATE_CAPS, (ctx) => {
    const bad = mknodTypeError(ctx.req.int(MKNODAT.mode));
    if (bad !== 0) return ctx.req.fail(bad);
    if (decideCreate(ctx, 'mknodat', MKNODAT) !== null) ctx.req.fsOp(FsOp.mknod, MKNODAT.mode, MKNODAT.dev);
  });
  add('symlink', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'symlink', SYMLINK_NEW) !== null) ctx.req.fsOp(FsOp.symlink, SYMLINK.target);
  });
  add('symlinkat', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'symlinkat', SYMLINKAT_NEW) !== null) ctx.req.fsOp(FsOp.symlink, SYMLINKAT.target);
  });
  // link() never follows the source; linkat() follows it with AT_SYMLINK_FOLLOW.
  add('link', LINK_CAPS, (ctx) => link(ctx, 'link', LINK_OLD, LINK_NEW, 0));
  add('linkat', LINK_CAPS, (ctx) => link(ctx, 'linkat', LINKAT_OLD, LINKAT_NEW, ctx.req.int(LINKAT.flags)));
  return h;
}
