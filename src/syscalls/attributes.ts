// Attribute changes — chmod, chown, utimes, extended attributes — decided as `write`: they
// change the file as much as its contents do. Emulated on tsyd's own O_PATH fd of the checked
// object; the fd forms (fchmod, fchown, futimens, fsetxattr, fremovexattr, and AT_EMPTY_PATH)
// on tsyd's copy of the program's fd, decided on that copy's path.
// SAFETY: a file opened for reading must not have its mode, owner or times changed through
// that fd when write is denied (a setuid bit on a readable binary, for one).
import { constants as os } from 'node:os';
import { Answer, FsOp, native, Resolve, Slot } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, CWD, refuse, refusePath, resolveVisible, takeFdArg } from './common.js';

const { EFAULT, EINVAL, ENOSYS } = os.errno;
const UTIME_OMIT = BigInt(2 ** 30 - 2);
const AT_FDCWD = -100;
const Times = { timespec: 0, timeval: 1, utimbuf: 2 } as const;

/** Resolves the object (followed unless `nofollow`) and decides write; null after answering. */
function decide(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, atFlags: number): string | null {
  let rflags = atFlags & AT_SYMLINK_NOFOLLOW ? Resolve.noFollow : 0;
  if (atFlags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  const path = resolveVisible(ctx, sys, dirfdArg, pathArg, rflags);
  if (path === null) return null;
  if (path === '') return decideFd(ctx, sys, dirfdArg);
  ctx.fault(path);
  if (!ctx.allows('write', sys, path)) {
    refusePath(ctx, path);
    return null;
  }
  return path;
}

/** An fd form: decides write on tsyd's copy of the fd; the op then acts on that copy. */
function decideFd(ctx: EmulatorContext, sys: string, fdArg: number): string | null {
  const path = takeFdArg(ctx, fdArg);
  if (path === null) return null;
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

/**
 * utimensat's answer before it looks at anything else, as the kernel's: EFAULT when the times
 * cannot be read, 0 when both are UTIME_OMIT ("nothing to do, we must not even check the path");
 * null to go on. (tsyd reads the times again when it performs the call.)
 */
function utimensatShortcut(ctx: EmulatorContext, timesArg: number): number | null {
  if (pointerIsNull(ctx, timesArg)) return null;
  const addr = (ctx.slots[Slot.args + 2 * timesArg + 1]! >>> 0) * 2 ** 32 + (ctx.slots[Slot.args + 2 * timesArg]! >>> 0);
  const times = native.readMemory(ctx.slots[Slot.pid]!, addr, 32);
  if (times === null) return EFAULT;
  return times.readBigInt64LE(8) === UTIME_OMIT && times.readBigInt64LE(24) === UTIME_OMIT ? 0 : null;
}

export function attributeHandlers(): Map<string, HandlerSpec> {
  const caps = ['write', 'stat'] as const;
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
    const early = utimensatShortcut(ctx, 2);
    if (early !== null) return early === 0 ? native.respond(Answer.value, 0) : refuse(early);
    const f = flagsOk(ctx, 3, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f === null) return;
    // A NULL path is futimens(dirfd), which takes no flags; with AT_FDCWD it is a bad pointer.
    if (pointerIsNull(ctx, 1) && arg32(ctx.slots, 0) === AT_FDCWD) return refuse(EFAULT);
    if (pointerIsNull(ctx, 1) && f !== 0) return refuse(EINVAL);
    const path = pointerIsNull(ctx, 1) ? decideFd(ctx, 'utimensat', 0) : decide(ctx, 'utimensat', 0, 1, f);
    if (path !== null) native.fsOp(FsOp.utimes, pointerIsNull(ctx, 2) ? -1 : 2, Times.timespec);
  });
  add('fchmod', (ctx) => {
    if (decideFd(ctx, 'fchmod', 0) !== null) native.fsOp(FsOp.chmod, 1);
  });
  add('fchown', (ctx) => {
    if (decideFd(ctx, 'fchown', 0) !== null) native.fsOp(FsOp.chown, 1, 2);
  });
  add('fsetxattr', (ctx) => {
    if (decideFd(ctx, 'fsetxattr', 0) !== null) native.fsOp(FsOp.setxattr, 1, 2, 3, 4);
  });
  add('fremovexattr', (ctx) => {
    if (decideFd(ctx, 'fremovexattr', 0) !== null) native.fsOp(FsOp.removexattr, 1);
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
