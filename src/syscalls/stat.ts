// The stat capability: the stat family, statx, access, readlink (emulated: tsyd performs the
// call on the checked path — or, for the fd forms, on its copy of the program's fd — and copies
// the result into the program), the metadata calls statfs, getxattr, listxattr (and the l
// forms), inotify_add_watch and name_to_handle_at (emulated alike), chdir and fchdir (checked,
// then continued: tsyd cannot change another process's cwd for it); getdents64 is read by tsyd
// with the hidden entries left out.
// Denied → ENOENT: the path does not exist for the program.
import { constants as os } from 'node:os';
import { FS_PENDING, FsOp, REFUSED_DIRECTORY_WATCH, Resolve, STAT_FD_ITSELF } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, ON_CONTROL_ROUTE, resolveArg, resolveFdArg, takeFdArg } from './common.js';
import { handleControl } from './control.js';
import { finishCryptStat, holdCryptFile, settleCryptDirectory } from './crypt.js';
import { args, type PathArg } from './request.js';

const { EINVAL, ENOENT, ENOSYS, ESRCH } = os.errno;

/**
 * Resolves the path argument and decides stat on it. Returns the canonical path, or null after
 * answering. An empty path with AT_EMPTY_PATH (glibc's fstat) names the dirfd: tsyd takes a copy
 * of it and decides on the copy's path (req.taken); the op then acts on that copy.
 *
 * SAFETY: never continued. The kernel would read the path again, and a sibling thread can turn
 * "" into a hidden path between tsyd's read and the kernel's (its inode, size, mode, a link's
 * target). The fd form is decided like any fd: an object the program holds an fd to (an O_PATH
 * open raced into a hidden directory, an fd passed in) is hidden like its path, ENOENT. An
 * object without a path (pipe, socket, memfd, deleted file: /proc/<tgid>/fd/N) has no name
 * stat could hide: allowed.
 */
function decideStat(ctx: EmulatorContext, sys: string, at: PathArg, flags: number): string | null {
  const resolve = flags & Resolve.emptyPath ? flags | Resolve.takeEmpty : flags;
  // While the control route is open the resolution itself tells a raw path naming /dev/tsyd
  // (one read of the path for every other call, not two).
  let path = resolveArg(ctx, sys, at, ctx.control.open() ? resolve | Resolve.controlRoute : resolve);
  if (path === ON_CONTROL_ROUTE) {
    if (handleControl(ctx, at.path)) return null;
    // Changed since by a sibling thread: an ordinary path now, resolved as one.
    path = resolveArg(ctx, sys, at, resolve);
  }
  if (path === null) return null;
  ctx.fault(path);
  if (ctx.req.taken && ctx.req.magic) return path;
  if (!ctx.allows('stat', sys, path)) {
    ctx.req.fail(ENOENT);
    return null;
  }
  return path;
}

/** Resolve flags for AT_* flags; `nullOk`: a NULL path with AT_EMPTY_PATH is empty (newfstatat, statx). */
function resolveFlags(atFlags: number, nullOk = false): number {
  let r = 0;
  if (atFlags & AT_SYMLINK_NOFOLLOW) r |= Resolve.noFollow;
  if (atFlags & AT_EMPTY_PATH) r |= Resolve.emptyPath | (nullOk ? Resolve.nullEmpty : 0);
  return r;
}

/**
 * fsOp's last argument for stat and statx: 1 holds a directory's result back (FS_PENDING) so that
 * finishDirectory() can take hidden subdirectories out of its link count. Only when stat can
 * hide anything at all: otherwise a directory costs nothing more than a file.
 */
function holdDirs(ctx: EmulatorContext): number {
  return !ctx.audit && ctx.policy.deniesAny('stat') ? 1 : 0;
}

/**
 * Hidden subdirectories counted per directory state ("dev:ino:nlink:mtime:ctime": a subdirectory
 * made or removed changes nlink and mtime) and path, for one policy (object and version); per
 * emulator, bounded. SAFETY: the policy object is part of the key, not only its version: a warm
 * emulator serves sandbox after sandbox, each with a policy of its own whose version starts
 * alike — keyed by version alone, one sandbox's counts (what its policy hides) reached the next. Accepted: a subdirectory renamed between a visible and a hidden name (by a process
 * outside the sandbox: the program cannot name hidden paths) within one timestamp tick of the
 * listing leaves the count off by one until the directory changes again.
 */
const hiddenSubdirs = new Map<string, number>();
let hiddenPolicy: object | undefined;
let hiddenVersion = -1;

/**
 * Answers a directory's stat held back by fsOp: st_nlink is 2 + the number of subdirectories
 * (on most file systems), so hidden subdirectories would show through it.
 * SAFETY: they are counted out (listed on tsyd's fd of the directory, d_type) where the policy
 * can hide a direct child of this directory at all; elsewhere the count is the kernel's.
 */
function finishDirectory(ctx: EmulatorContext, dir: string, r: number): void {
  if (r !== FS_PENDING) return;
  let hidden = 0;
  if (!ctx.req.magic && ctx.policy.mayDenyChildren('stat', dir)) {
    if (hiddenPolicy !== ctx.policy || hiddenVersion !== ctx.policy.version || hiddenSubdirs.size >= 1024) {
      hiddenSubdirs.clear();
      hiddenPolicy = ctx.policy;
      hiddenVersion = ctx.policy.version;
    }
    // The names are decided by path: the same directory elsewhere (a bind mount) is another key.
    const id = ctx.req.pendingIdentity();
    const key = id === '' ? '' : `${id}\0${dir}`;
    const known = key === '' ? undefined : hiddenSubdirs.get(key);
    if (known !== undefined) hidden = known;
    else {
      hidden = countHidden(ctx, dir, ctx.req.pendingSubdirs());
      if (key !== '' && hidden >= 0) hiddenSubdirs.set(key, hidden);
    }
  }
  ctx.req.finishStat(hidden);
}

/** A held-back stat: a crypt file's (its plaintext buffer's identity and size), or a directory's. */
function finishHeld(ctx: EmulatorContext, path: string, r: number): void {
  if (r === FS_PENDING && finishCryptStat(ctx)) return;
  finishDirectory(ctx, path, r);
}

/** How many of the NUL-terminated subdirectory names stat hides; -1 when they could not be listed. */
function countHidden(ctx: EmulatorContext, dir: string, names: Buffer | number): number {
  if (typeof names === 'number') return -1;
  let hidden = 0;
  const prefix = dir === '/' ? '/' : `${dir}/`;
  for (let at = 0; at < names.length; ) {
    const end = names.indexOf(0, at);
    if (!ctx.policy.check('stat', prefix + names.toString('latin1', at, end))) hidden++;
    at = end + 1;
  }
  return hidden;
}

/** The AT_ flags newfstatat knows (the kernel's vfs_statx: AT_STATX_SYNC_TYPE too); others: EINVAL. */
const FSTATAT_FLAGS = AT_SYMLINK_NOFOLLOW | 0x800 /* AT_NO_AUTOMOUNT */ | AT_EMPTY_PATH | 0x6000 /* AT_STATX_SYNC_TYPE */;

/** The stat family: stat/lstat(path, buf), newfstatat/fstatat64(dirfd, path, buf, flags). */
interface StatArgs extends PathArg {
  readonly buf: number;
  readonly flags?: number;
}
const STAT: StatArgs = args('path', 'buf');
const FSTATAT: StatArgs = args('dirfd', 'path', 'buf', 'flags');
const FSTAT = args('fd', 'buf');
const STATX = args('dirfd', 'path', 'flags', 'mask', 'statxbuf');
const ACCESS = args('path', 'mode');
const FACCESSAT = args('dirfd', 'path', 'mode', 'flags');
const READLINK = args('path', 'buf', 'size');
const READLINKAT = args('dirfd', 'path', 'buf', 'size');
const CHDIR = args('path');
const STATFS = args('path', 'buf');
const GETXATTR = args('path', 'name', 'value', 'size');
const LISTXATTR = args('path', 'list', 'size');
const INOTIFY_ADD_WATCH = args('fd', 'path', 'mask');
const INOTIFY_PATH: PathArg = { path: INOTIFY_ADD_WATCH.path };
const NAME_TO_HANDLE_AT = args('dirfd', 'path', 'handle', 'mount_id', 'flags');
const GETDENTS64 = args('fd', 'dirp', 'count');
/** fchdir, fstatfs, fgetxattr, flistxattr: the fd comes first. */
const FD_FIRST = args('fd');
/** fsOp(access)'s flags position when the call has none. */
const NO_FLAGS = -1;

function statHandler(sys: string, a: StatArgs, follow: boolean) {
  return (ctx: EmulatorContext) => {
    const atFlags = a.flags === undefined ? (follow ? 0 : AT_SYMLINK_NOFOLLOW) : ctx.req.int(a.flags);
    if (atFlags & ~FSTATAT_FLAGS) return ctx.req.fail(EINVAL);
    const path = decideStat(ctx, sys, a, resolveFlags(atFlags, a.flags !== undefined));
    if (path === null) return;
    settleCryptDirectory(ctx, path);
    const r = ctx.req.fsOp(FsOp.stat, a.buf, atFlags & AT_SYMLINK_NOFOLLOW ? 0 : 1, a.flags ?? NO_FLAGS, holdDirs(ctx) | holdCryptFile(ctx, path));
    finishHeld(ctx, path, r);
  };
}

function fdHandler(sys: string) {
  return (ctx: EmulatorContext) => {
    const path = resolveFdArg(ctx, FD_FIRST.fd);
    if (path === null) return;
    // An object without a path (pipe, socket, memfd) has no name stat could hide.
    if (!ctx.req.magic && !ctx.allows('stat', sys, path)) return ctx.req.fail(ENOENT);
    // Checked, then continued: the kernel acts on the fd, which names the object checked
    // (a racing dup2 onto that fd number can swap it: an accepted, documented limit).
    ctx.req.continue();
  };
}

/** The records of a getdents64 buffer whose entries stat lets the program see. */
export function visibleEntries(data: Buffer, dir: string, visible: (path: string) => boolean): Buffer {
  const parts: Buffer[] = [];
  const prefix = dir === '/' ? '/' : `${dir}/`;
  for (let at = 0; at + 19 < data.length; ) {
    const reclen = data.readUInt16LE(at + 16);
    if (reclen === 0 || at + reclen > data.length) break;
    const nameEnd = data.indexOf(0, at + 19);
    const name = data.toString('latin1', at + 19, nameEnd < 0 || nameEnd > at + reclen ? at + reclen : nameEnd);
    if (name === '.' || name === '..' || visible(prefix + name)) parts.push(data.subarray(at, at + reclen));
    at += reclen;
  }
  return Buffer.concat(parts);
}

/**
 * getdents64: decided on the directory, then read by tsyd (on a copy of the program's fd, whose
 * offset it shares) so that entries hidden by stat are left out: a hidden path does not exist
 * for the program, not even in a listing. Hidden entries are not logged (the program did not
 * ask for them).
 */
function listDirectory(ctx: EmulatorContext): void {
  // Decided on tsyd's copy of the fd, and read from that copy: a racing dup2 changes nothing.
  const dir = takeFdArg(ctx, GETDENTS64.fd);
  if (dir === null) return;
  if (!ctx.allows('stat', 'getdents64', dir)) return ctx.req.fail(ENOENT);
  // SAFETY: where no rule can hide a direct child of `dir` (mayDenyChildren: exact for `none`,
  // true when unsure) every entry is visible: the records go to the program as read, not
  // decided one by one. Still read by tsyd on its copy of the fd, never continued: a sibling
  // thread's dup2 onto the fd number between this check and the kernel's call would list
  // another directory (one with hidden entries). Asked now, under the policy of now: an fd
  // opened before a rule was added (lock:off), or a directory renamed since, is decided by
  // where it is now (the path of tsyd's copy), a bind mount by the path the fd was opened by.
  const filter = !ctx.audit && ctx.policy.mayDenyChildren('stat', dir);
  for (;;) {
    const data = ctx.req.readDirectory(GETDENTS64.fd, GETDENTS64.count);
    if (typeof data === 'number') {
      if (data !== -ESRCH) ctx.req.fail(-data);
      return;
    }
    const kept = data.length === 0 || !filter ? data : visibleEntries(data, dir, (p) => ctx.policy.check('stat', p));
    // A chunk of hidden entries only is skipped: an empty answer would mean the end.
    if (kept.length > 0 || data.length === 0) return void ctx.req.answerBytes(GETDENTS64.dirp, kept);
  }
}

export function statHandlers(): Map<string, HandlerSpec> {
  const caps = ['stat'] as const;
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('stat', statHandler('stat', STAT, true));
  add('lstat', statHandler('lstat', STAT, false));
  add('newfstatat', statHandler('newfstatat', FSTATAT, true));
  add('fstatat64', statHandler('fstatat64', FSTATAT, true));
  add('statx', (ctx) => {
    const path = decideStat(ctx, 'statx', STATX, resolveFlags(ctx.req.int(STATX.flags), true));
    if (path !== null) settleCryptDirectory(ctx, path);
    if (path !== null) finishHeld(ctx, path, ctx.req.fsOp(FsOp.statx, STATX.flags, STATX.mask, STATX.statxbuf, holdDirs(ctx) | holdCryptFile(ctx, path)));
  });
  add('access', (ctx) => {
    if (decideStat(ctx, 'access', ACCESS, 0) !== null) ctx.req.fsOp(FsOp.access, ACCESS.mode, NO_FLAGS);
  });
  add('faccessat', (ctx) => {
    if (decideStat(ctx, 'faccessat', FACCESSAT, 0) !== null) ctx.req.fsOp(FsOp.access, FACCESSAT.mode, NO_FLAGS);
  });
  add('faccessat2', (ctx) => {
    const flags = resolveFlags(ctx.req.int(FACCESSAT.flags));
    if (decideStat(ctx, 'faccessat2', FACCESSAT, flags) !== null) ctx.req.fsOp(FsOp.access, FACCESSAT.mode, FACCESSAT.flags);
  });
  add('readlink', (ctx) => {
    if (decideStat(ctx, 'readlink', READLINK, Resolve.noFollow) !== null) ctx.req.fsOp(FsOp.readlink, READLINK.buf, READLINK.size);
  });
  add('readlinkat', (ctx) => {
    // An empty path reads the link the dirfd is (an O_PATH|O_NOFOLLOW fd), flag or not.
    const a = READLINKAT;
    if (decideStat(ctx, 'readlinkat', a, Resolve.noFollow | Resolve.emptyPath) !== null) ctx.req.fsOp(FsOp.readlink, a.buf, a.size);
  });
  add('chdir', (ctx) => {
    // Checked, then continued: only the kernel can change the program's cwd. A path swapped
    // after the check can move the cwd into a hidden directory; every later access from there
    // is still decided on its canonical path.
    if (decideStat(ctx, 'chdir', CHDIR, 0) !== null) ctx.req.continue();
  });
  add('fchdir', fdHandler('fchdir'));
  // Raw fstat (Go, static binaries; glibc's fstat is newfstatat): as newfstatat(fd, "", AT_EMPTY_PATH),
  // on tsyd's copy of the fd, the link count of a directory corrected as there.
  add('fstat', (ctx) => {
    const path = takeFdArg(ctx, FSTAT.fd);
    if (path === null) return;
    if (!ctx.req.magic && !ctx.allows('stat', 'fstat', path)) return ctx.req.fail(ENOENT);
    settleCryptDirectory(ctx, path);
    finishDirectory(ctx, path, ctx.req.fsOp(FsOp.stat, FSTAT.buf, 1, STAT_FD_ITSELF, holdDirs(ctx)));
  });
  // SAFETY: an fd of a hidden object says nothing of it (its file system, its attributes).
  for (const sys of ['fstatfs', 'fgetxattr', 'flistxattr']) add(sys, fdHandler(sys));
  // Metadata of a path that stat may hide: emulated on tsyd's O_PATH fd of the checked object
  // (SAFETY: continued, a path swapped after the check revealed a hidden file's file system,
  // xattrs, inode events or file handle).
  const IN_DONT_FOLLOW = 0x02000000;
  add('statfs', (ctx) => {
    if (decideStat(ctx, 'statfs', STATFS, 0) !== null) ctx.req.fsOp(FsOp.statfs, STATFS.buf);
  });
  for (const [name, follow] of [['getxattr', 1], ['lgetxattr', 0]] as const) {
    add(name, (ctx) => {
      const a = GETXATTR;
      if (decideStat(ctx, name, a, follow ? 0 : Resolve.noFollow) !== null) ctx.req.fsOp(FsOp.getxattr, a.name, a.value, a.size, follow);
    });
  }
  for (const [name, follow] of [['listxattr', 1], ['llistxattr', 0]] as const) {
    add(name, (ctx) => {
      const a = LISTXATTR;
      if (decideStat(ctx, name, a, follow ? 0 : Resolve.noFollow) !== null) ctx.req.fsOp(FsOp.listxattr, a.list, a.size, follow);
    });
  }
  add('inotify_add_watch', (ctx) => {
    const a = INOTIFY_ADD_WATCH;
    const flags = ctx.req.int(a.mask) & IN_DONT_FOLLOW ? Resolve.noFollow : 0;
    const path = decideStat(ctx, 'inotify_add_watch', INOTIFY_PATH, flags);
    if (path === null) return;
    // SAFETY: events on a directory name its entries: a directory that may hold hidden ones is
    // not watched (EACCES, logged), files and other directories are.
    const refuseDirs = !ctx.audit && ctx.policy.mayDenyChildren('stat', path);
    const r = ctx.req.fsOp(FsOp.inotifyAddWatch, a.fd, a.mask, refuseDirs ? 1 : 0);
    if (r === REFUSED_DIRECTORY_WATCH) ctx.refuseAct('inotify_add_watch', `${path} (watched, its events would name entries stat hides)`, false);
  });
  add('name_to_handle_at', (ctx) => {
    const a = NAME_TO_HANDLE_AT;
    const f = ctx.req.int(a.flags);
    const flags = (f & AT_SYMLINK_FOLLOW ? 0 : Resolve.noFollow) | (f & AT_EMPTY_PATH ? Resolve.emptyPath : 0);
    if (decideStat(ctx, 'name_to_handle_at', a, flags) !== null) ctx.req.fsOp(FsOp.nameToHandle, a.handle, a.mount_id, a.flags);
  });
  // SAFETY: getxattrat, listxattrat (Linux 6.13) and file_getattr (6.17) would read a hidden
  // file's attributes; libc does not use them yet: refused with ENOSYS while stat is on, as
  // their write counterparts are (attributes.ts).
  for (const name of ['getxattrat', 'listxattrat', 'file_getattr']) add(name, (ctx) => ctx.req.fail(ENOSYS));
  add('getdents64', listDirectory);
  // SAFETY: the old getdents (no d_type, unused by today's libc) would list hidden entries: it is
  // refused while stat is on (libc falls back to getdents64).
  add('getdents', (ctx) => ctx.req.fail(ENOSYS));
  return h;
}
