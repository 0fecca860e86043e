// The create capability for new names: mkdir, mknod, symlink (the new link's path; its target
// is only text), link (the new path; the file may not gain a more permissive decision). Emulated: tsyd creates the name in the checked parent
// directory (opened without following anything), with the program's umask.
import { constants as os } from 'node:os';
import { FsOp, native, Resolve, Slot } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, CWD, entryOf, Last, refuse, refusePath, resolveVisible, resolveFdArg } from './common.js';
import { LINK_KEEPS, refuseWidening } from './move.js';

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
function decideCreate(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, makesDir = false): string | null {
  const path = resolveVisible(ctx, sys, dirfdArg, pathArg, Resolve.noFollow | Resolve.slashEntry);
  if (path === null) return null;
  ctx.fault(path);
  // "new/" asks for a directory: anything else the kernel does not make (ENOENT; an existing
  // name gives EEXIST from the call itself).
  const entry = entryOf(ctx);
  if (entry.slash && entry.missing && !makesDir) {
    refuse(ENOENT);
    return null;
  }
  // "dir/." and "dir/..": an existing directory, and no new name (the kernel says EEXIST).
  if (ctx.slots[Slot.pathMissing]! >= Last.dot) {
    refuse(EEXIST);
    return null;
  }
  if (ctx.slots[Slot.pathMissing] === Last.exists && !ctx.policy.check('create', path) && ctx.policy.check('stat', path)) {
    // The name exists: the call cannot create anything and fails as it would without tsyd
    // (mkdir -p probes every parent this way). Where stat is hidden, EACCES tells nothing.
    refuse(EEXIST);
    return null;
  }
  if (!ctx.allows('create', sys, path)) {
    refusePath(ctx, path);
    return null;
  }
  return path;
}

function link(ctx: EmulatorContext, sys: string, src: { dirfd: number; path: number }, dst: { dirfd: number; path: number }, flags: number): void {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return refuse(EINVAL);
  let rflags = flags & AT_SYMLINK_FOLLOW ? 0 : Resolve.noFollow;
  if (flags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  let source = resolveVisible(ctx, sys, src.dirfd, src.path, rflags);
  if (source === '') source = resolveFdArg(ctx, src.dirfd);
  if (source === null) return;
  native.savePath();
  const target = decideCreate(ctx, sys, dst.dirfd, dst.path);
  if (target === null) return;
  // SAFETY: the new name shares the file: it may not widen what the program may do with it.
  if (refuseWidening(ctx, sys, source, target, LINK_KEEPS)) return;
  native.fsOp(FsOp.link, flags & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) ? 1 : 0);
}

/** A link is decided as soon as create or one of the capabilities the file keeps is on. */
const LINK_CAPS: HandlerSpec['caps'] = ['create', ...LINK_KEEPS];
const CREATE_CAPS: HandlerSpec['caps'] = ['create', 'stat'];

export function createHandlers(): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, caps: HandlerSpec['caps'], handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('mkdir', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'mkdir', CWD, 0, true) !== null) native.fsOp(FsOp.mkdir, 1);
  });
  add('mkdirat', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'mkdirat', 0, 1, true) !== null) native.fsOp(FsOp.mkdir, 2);
  });
  add('mknod', CREATE_CAPS, (ctx) => {
    const bad = mknodTypeError(arg32(ctx.slots, 1));
    if (bad !== 0) return refuse(bad);
    if (decideCreate(ctx, 'mknod', CWD, 0) !== null) native.fsOp(FsOp.mknod, 1, 2);
  });
  add('mknodat', CREATE_CAPS, (ctx) => {
    const bad = mknodTypeError(arg32(ctx.slots, 2));
    if (bad !== 0) return refuse(bad);
    if (decideCreate(ctx, 'mknodat', 0, 1) !== null) native.fsOp(FsOp.mknod, 2, 3);
  });
  add('symlink', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'symlink', CWD, 1) !== null) native.fsOp(FsOp.symlink, 0);
  });
  add('symlinkat', CREATE_CAPS, (ctx) => {
    if (decideCreate(ctx, 'symlinkat', 1, 2) !== null) native.fsOp(FsOp.symlink, 0);
  });
  // link() never follows the source; linkat() follows it with AT_SYMLINK_FOLLOW.
  add('link', LINK_CAPS, (ctx) => link(ctx, 'link', { dirfd: CWD, path: 0 }, { dirfd: CWD, path: 1 }, 0));
  add('linkat', LINK_CAPS, (ctx) => link(ctx, 'linkat', { dirfd: 0, path: 1 }, { dirfd: 2, path: 3 }, arg32(ctx.slots, 4)));
  return h;
}
