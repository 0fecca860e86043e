// Attribute changes — chmod, chown, utimes, extended attributes — decided as `write`: they
// change the file as much as its contents do. Emulated on tsyd's own O_PATH fd of the checked
// object; the fd forms (fchmod, fchown, futimens, fsetxattr, fremovexattr, and AT_EMPTY_PATH)
// on tsyd's copy of the program's fd, decided on that copy's path.
// SAFETY: a file opened for reading must not have its mode, owner or times changed through
// that fd when write is denied (a setuid bit on a readable binary, for one).
import { constants as os } from 'node:os';
import { FsOp, Resolve } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, refusePath, resolveVisible, takeFdArg } from './common.js';
import { args, CWD, type PathArg } from './request.js';
import { settleCryptWrites } from './crypt.js';

const { EFAULT, EINVAL, ENOSYS } = os.errno;
const UTIME_OMIT = BigInt(2 ** 30 - 2);
const AT_FDCWD = -100;
const Times = { timespec: 0, timeval: 1, utimbuf: 2 } as const;

const CHMOD = args('path', 'mode');
const FCHMODAT = args('dirfd', 'path', 'mode', 'flags');
const CHOWN = args('path', 'owner', 'group');
const FCHOWNAT = args('dirfd', 'path', 'owner', 'group', 'flags');
const UTIME = args('path', 'times');
const FUTIMESAT = args('dirfd', 'path', 'times');
const UTIMENSAT = args('dirfd', 'path', 'times', 'flags');
const FCHMOD = args('fd', 'mode');
const FCHOWN = args('fd', 'owner', 'group');
const SETXATTR = args('path', 'name', 'value', 'size', 'flags');
const FSETXATTR = args('fd', 'name', 'value', 'size', 'flags');
const REMOVEXATTR = args('path', 'name');
const FREMOVEXATTR = args('fd', 'name');

/** Resolves the object (followed unless `nofollow`) and decides write; null after answering. */
function decide(ctx: EmulatorContext, sys: string, at: PathArg, atFlags: number): string | null {
  let rflags = atFlags & AT_SYMLINK_NOFOLLOW ? Resolve.noFollow : 0;
  if (atFlags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  const path = resolveVisible(ctx, sys, at, rflags);
  if (path === null) return null;
  if (path === '') return decideFd(ctx, sys, at.dirfd ?? CWD);
  ctx.fault(path);
  if (!ctx.allows('write', sys, path)) {
    refusePath(ctx, path);
    return null;
  }
  // A crypt file's write-backs in flight land first: each puts a new inode under the name.
  settleCryptWrites(ctx, path);
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

/** The AT_ flags argument when it holds only `known` bits; null after answering EINVAL. */
function flagsOk(ctx: EmulatorContext, flagsArg: number, known: number): number | null {
  const f = ctx.req.int(flagsArg);
  if (f & ~known) {
    ctx.req.fail(EINVAL);
    return null;
  }
  return f;
}

/**
 * utimensat's answer before it looks at anything else, as the kernel's: EFAULT when the times
 * cannot be read, 0 when both are UTIME_OMIT ("nothing to do, we must not even check the path");
 * null to go on. (tsyd reads the times again when it performs the call.)
 */
function utimensatShortcut(ctx: EmulatorContext, timesArg: number): number | null {
  if (ctx.req.isNull(timesArg)) return null;
  const times = ctx.req.readMemory(timesArg, 32);
  if (times === null) return EFAULT;
  return times.readBigInt64LE(8) === UTIME_OMIT && times.readBigInt64LE(24) === UTIME_OMIT ? 0 : null;
}

/** fsOp(utimes)'s times argument: its position, or -1 for NULL (now). */
function timesOf(ctx: EmulatorContext, timesArg: number): number {
  return ctx.req.isNull(timesArg) ? -1 : timesArg;
}

export function attributeHandlers(): Map<string, HandlerSpec> {
  const caps = ['write', 'stat'] as const;
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('chmod', (ctx) => {
    if (decide(ctx, 'chmod', CHMOD, 0) !== null) ctx.req.fsOp(FsOp.chmod, CHMOD.mode);
  });
  add('fchmodat', (ctx) => {
    if (decide(ctx, 'fchmodat', FCHMODAT, 0) !== null) ctx.req.fsOp(FsOp.chmod, FCHMODAT.mode);
  });
  add('fchmodat2', (ctx) => {
    const f = flagsOk(ctx, FCHMODAT.flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f !== null && decide(ctx, 'fchmodat2', FCHMODAT, f) !== null) ctx.req.fsOp(FsOp.chmod, FCHMODAT.mode);
  });
  add('chown', (ctx) => {
    if (decide(ctx, 'chown', CHOWN, 0) !== null) ctx.req.fsOp(FsOp.chown, CHOWN.owner, CHOWN.group);
  });
  add('lchown', (ctx) => {
    if (decide(ctx, 'lchown', CHOWN, AT_SYMLINK_NOFOLLOW) !== null) ctx.req.fsOp(FsOp.chown, CHOWN.owner, CHOWN.group);
  });
  add('fchownat', (ctx) => {
    const f = flagsOk(ctx, FCHOWNAT.flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f !== null && decide(ctx, 'fchownat', FCHOWNAT, f) !== null) ctx.req.fsOp(FsOp.chown, FCHOWNAT.owner, FCHOWNAT.group);
  });
  add('utime', (ctx) => {
    if (decide(ctx, 'utime', UTIME, 0) !== null) ctx.req.fsOp(FsOp.utimes, timesOf(ctx, UTIME.times), Times.utimbuf);
  });
  add('utimes', (ctx) => {
    if (decide(ctx, 'utimes', UTIME, 0) !== null) ctx.req.fsOp(FsOp.utimes, timesOf(ctx, UTIME.times), Times.timeval);
  });
  add('futimesat', (ctx) => {
    if (decide(ctx, 'futimesat', FUTIMESAT, 0) !== null) ctx.req.fsOp(FsOp.utimes, timesOf(ctx, FUTIMESAT.times), Times.timeval);
  });
  add('utimensat', (ctx) => {
    const { req } = ctx;
    const early = utimensatShortcut(ctx, UTIMENSAT.times);
    if (early !== null) return early === 0 ? req.succeed(0) : req.fail(early);
    const f = flagsOk(ctx, UTIMENSAT.flags, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH);
    if (f === null) return;
    // A NULL path is futimens(dirfd), which takes no flags; with AT_FDCWD it is a bad pointer.
    const noPath = req.isNull(UTIMENSAT.path);
    if (noPath && req.int(UTIMENSAT.dirfd) === AT_FDCWD) return req.fail(EFAULT);
    if (noPath && f !== 0) return req.fail(EINVAL);
    const path = noPath ? decideFd(ctx, 'utimensat', UTIMENSAT.dirfd) : decide(ctx, 'utimensat', UTIMENSAT, f);
    if (path !== null) req.fsOp(FsOp.utimes, timesOf(ctx, UTIMENSAT.times), Times.timespec);
  });
  add('fchmod', (ctx) => {
    if (decideFd(ctx, 'fchmod', FCHMOD.fd) !== null) ctx.req.fsOp(FsOp.chmod, FCHMOD.mode);
  });
  add('fchown', (ctx) => {
    if (decideFd(ctx, 'fchown', FCHOWN.fd) !== null) ctx.req.fsOp(FsOp.chown, FCHOWN.owner, FCHOWN.group);
  });
  add('fsetxattr', (ctx) => {
    const a = FSETXATTR;
    if (decideFd(ctx, 'fsetxattr', a.fd) !== null) ctx.req.fsOp(FsOp.setxattr, a.name, a.value, a.size, a.flags);
  });
  add('fremovexattr', (ctx) => {
    if (decideFd(ctx, 'fremovexattr', FREMOVEXATTR.fd) !== null) ctx.req.fsOp(FsOp.removexattr, FREMOVEXATTR.name);
  });
  for (const [name, nofollow] of [['setxattr', false], ['lsetxattr', true]] as const) {
    add(name, (ctx) => {
      const a = SETXATTR;
      if (decide(ctx, name, a, nofollow ? AT_SYMLINK_NOFOLLOW : 0) !== null) ctx.req.fsOp(FsOp.setxattr, a.name, a.value, a.size, a.flags);
    });
  }
  for (const [name, nofollow] of [['removexattr', false], ['lremovexattr', true]] as const) {
    add(name, (ctx) => {
      if (decide(ctx, name, REMOVEXATTR, nofollow ? AT_SYMLINK_NOFOLLOW : 0) !== null) ctx.req.fsOp(FsOp.removexattr, REMOVEXATTR.name);
    });
  }
  // SAFETY: the newest *xattrat calls (Linux 6.13) are not emulated yet: refused with ENOSYS,
  // which libc answers by falling back to the calls above, instead of slipping past `write`.
  for (const name of ['setxattrat', 'removexattrat', 'file_setattr']) add(name, (ctx) => ctx.req.fail(ENOSYS));
  return h;
}
