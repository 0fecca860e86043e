// Attribute changes — chmod, chown, utimes, extended attributes — decided as `write`: they
// change the file as much as its contents do. Emulated on tsyd's own O_PATH fd of the checked
// object. The *at forms with an fd and no path (futimens, fchmod, fchown, fsetxattr) act on
// an fd the program opened through a checked open: not intercepted.
import { constants as os } from 'node:os';
import { Answer, FsOp, native, Resolve, Slot } from '../../native/addon.js';
import type { EmulatorContext, HandlerSpec } from '../emulator-context.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, CWD, refuse, refusePath, resolveArg } from './common.js';

const { EINVAL, ENOSYS } = os.errno;
const Times = { timespec: 0, timeval: 1, utimbuf: 2 } as const;

/** Resolves the object (followed unless `nofollow`) and decides write; null after answering. */
function decide(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, atFlags: number): string | null {
  let rflags = atFlags & AT_SYMLINK_NOFOLLOW ? Resolve.noFollow : 0;
  if (atFlags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  const path = resolveArg(ctx.pathBuf, dirfdArg, pathArg, rflags);
  if (path === null) return null;
  if (path === '') {
    // An fd the program holds, named with AT_EMPTY_PATH: as fchmod/fchown, not decided.
    native.respond(Answer.continue);
    return null;
  }
  ctx.fault(path);
  if (!ctx.allows('write', sys, path)) {
    refusePath(ctx, path);
    return null;
  }
  return path;
}

function flagsOk(ctx: EmulatorContext, flagsArg: number, known: number): number | null {
  const f = arg32(ctx.slots, flagsArg);
  if (f & ~known) {
    refuse(EINVAL);
    return null;
  }
  return f;
}

function pointerIsNull(ctx: EmulatorContext, i: number): boolean {
  return ctx.slots[Slot.args + 2 * i] === 0 && ctx.slots[Slot.args + 2 * i + 1] === 0;
}

export function attributeHandlers(): Map<string, HandlerSpec> {
  const caps = ['write'] as const;
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('chmod', (ctx) => {
    if (decide(ctx, 'chmod', CWD, 0, 0) !== null) native.fsOp(FsOp.chmod, 1);
  });
  add('fchmodat', (ctx) => {
    if (decide(ctx, 'fchmodat', 0, 1, 0) !== null) native.fsOp(FsOp.chmod, 2);
  });
  add('fchmodat2', (ctx) => {
    const f = flagsOk(ctx, 3, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f !== null && decide(ctx, 'fchmodat2', 0, 1, f) !== null) native.fsOp(FsOp.chmod, 2);
  });
  add('chown', (ctx) => {
    if (decide(ctx, 'chown', CWD, 0, 0) !== null) native.fsOp(FsOp.chown, 1, 2);
  });
  add('lchown', (ctx) => {
    if (decide(ctx, 'lchown', CWD, 0, AT_SYMLINK_NOFOLLOW) !== null) native.fsOp(FsOp.chown, 1, 2);
  });
  add('fchownat', (ctx) => {
    const f = flagsOk(ctx, 4, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f !== null && decide(ctx, 'fchownat', 0, 1, f) !== null) native.fsOp(FsOp.chown, 2, 3);
  });
  add('utime', (ctx) => {
    if (decide(ctx, 'utime', CWD, 0, 0) !== null) native.fsOp(FsOp.utimes, pointerIsNull(ctx, 1) ? -1 : 1, Times.utimbuf);
  });
  add('utimes', (ctx) => {
    if (decide(ctx, 'utimes', CWD, 0, 0) !== null) native.fsOp(FsOp.utimes, pointerIsNull(ctx, 1) ? -1 : 1, Times.timeval);
  });
  add('futimesat', (ctx) => {
    if (decide(ctx, 'futimesat', 0, 1, 0) !== null) native.fsOp(FsOp.utimes, pointerIsNull(ctx, 2) ? -1 : 2, Times.timeval);
  });
  add('utimensat', (ctx) => {
    const f = flagsOk(ctx, 3, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f === null) return;
    // A NULL path is futimens(dirfd): an fd the program holds.
    if (pointerIsNull(ctx, 1)) return void native.respond(Answer.continue);
    if (decide(ctx, 'utimensat', 0, 1, f) !== null) native.fsOp(FsOp.utimes, pointerIsNull(ctx, 2) ? -1 : 2, Times.timespec);
  });
  for (const [name, nofollow] of [['setxattr', false], ['lsetxattr', true]] as const) {
    add(name, (ctx) => {
      if (decide(ctx, name, CWD, 0, nofollow ? AT_SYMLINK_NOFOLLOW : 0) !== null) native.fsOp(FsOp.setxattr, 1, 2, 3, 4);
    });
  }
  for (const [name, nofollow] of [['removexattr', false], ['lremovexattr', true]] as const) {
    add(name, (ctx) => {
      if (decide(ctx, name, CWD, 0, nofollow ? AT_SYMLINK_NOFOLLOW : 0) !== null) native.fsOp(FsOp.removexattr, 1);
    });
  }
  // SAFETY: the newest *xattrat calls (Linux 6.13) are not emulated yet: refused with ENOSYS,
  // which libc answers by falling back to the calls above, instead of slipping past `write`.
  for (const name of ['setxattrat', 'removexattrat', 'file_setattr']) add(name, () => refuse(ENOSYS));
  return h;
}
