// The create capability for new names: mkdir, mknod, symlink (the new link's path; its target
// is only text), link (the new path). Emulated: tsyd creates the name in the checked parent
// directory (opened without following anything), with the program's umask.
import { constants as os } from 'node:os';
import { FsOp, native, Resolve, Slot } from '../../native/addon.js';
import type { EmulatorContext, HandlerSpec } from '../emulator-context.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, CWD, refuse, refusePath, resolveArg, resolveFdArg } from './common.js';

const { EEXIST, EINVAL } = os.errno;

/** Resolves the new name (never followed) and decides create on it; null after answering. */
function decideCreate(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number): string | null {
  const path = resolveArg(ctx.pathBuf, dirfdArg, pathArg, Resolve.noFollow);
  if (path === null) return null;
  ctx.fault(path);
  if (ctx.slots[Slot.pathMissing] === 0 && !ctx.policy.check('create', path) && ctx.policy.check('stat', path)) {
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

/**
 * A hard link gives the new name the same access to the file as the old one: SAFETY: so the
 * source must be allowed for reading and writing wherever those capabilities are on —
 * otherwise linking a denied file into an allowed directory would bypass the rules.
 */
function decideLinkSource(ctx: EmulatorContext, sys: string, path: string): boolean {
  if (ctx.policy.isOn('read') && !ctx.allows('read', sys, path)) return false;
  if (ctx.policy.isOn('write') && !ctx.allows('write', sys, path)) return false;
  return true;
}

function link(ctx: EmulatorContext, sys: string, src: { dirfd: number; path: number }, dst: { dirfd: number; path: number }, flags: number): void {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return refuse(EINVAL);
  let rflags = flags & AT_SYMLINK_FOLLOW ? 0 : Resolve.noFollow;
  if (flags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  let source = resolveArg(ctx.pathBuf, src.dirfd, src.path, rflags);
  if (source === '') source = resolveFdArg(ctx.pathBuf, src.dirfd);
  if (source === null) return;
  if (!decideLinkSource(ctx, sys, source)) return refusePath(ctx, source);
  native.savePath();
  if (decideCreate(ctx, sys, dst.dirfd, dst.path) === null) return;
  native.fsOp(FsOp.link, flags & (AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) ? 1 : 0);
}

export function createHandlers(): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, caps: HandlerSpec['caps'], handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('mkdir', ['create'], (ctx) => {
    if (decideCreate(ctx, 'mkdir', CWD, 0) !== null) native.fsOp(FsOp.mkdir, 1);
  });
  add('mkdirat', ['create'], (ctx) => {
    if (decideCreate(ctx, 'mkdirat', 0, 1) !== null) native.fsOp(FsOp.mkdir, 2);
  });
  add('mknod', ['create'], (ctx) => {
    if (decideCreate(ctx, 'mknod', CWD, 0) !== null) native.fsOp(FsOp.mknod, 1, 2);
  });
  add('mknodat', ['create'], (ctx) => {
    if (decideCreate(ctx, 'mknodat', 0, 1) !== null) native.fsOp(FsOp.mknod, 2, 3);
  });
  add('symlink', ['create'], (ctx) => {
    if (decideCreate(ctx, 'symlink', CWD, 1) !== null) native.fsOp(FsOp.symlink, 0);
  });
  add('symlinkat', ['create'], (ctx) => {
    if (decideCreate(ctx, 'symlinkat', 1, 2) !== null) native.fsOp(FsOp.symlink, 0);
  });
  // link() never follows the source; linkat() follows it with AT_SYMLINK_FOLLOW.
  add('link', ['create', 'read', 'write'], (ctx) => link(ctx, 'link', { dirfd: CWD, path: 0 }, { dirfd: CWD, path: 1 }, 0));
  add('linkat', ['create', 'read', 'write'], (ctx) => link(ctx, 'linkat', { dirfd: 0, path: 1 }, { dirfd: 2, path: 3 }, arg32(ctx.slots, 4)));
  return h;
}
