// The stat capability: the stat family, statx, access, readlink (emulated: tsyd performs the
// call on the checked path — or, for the fd forms, on its copy of the program's fd — and copies
// the result into the program), the metadata calls statfs, getxattr, listxattr (and the l
// forms), inotify_add_watch and name_to_handle_at (emulated alike), chdir and fchdir (checked,
// then continued: tsyd cannot change another process's cwd for it); getdents64 is read by tsyd
// with the hidden entries left out.
// Denied → ENOENT: the path does not exist for the program.
import { constants as os } from 'node:os';
import { Answer, FS_PENDING, FsOp, native, REFUSED_DIRECTORY_WATCH, Resolve, Slot, STAT_FD_ITSELF } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, AT_SYMLINK_NOFOLLOW, CWD, refuse, resolveArg, resolveFdArg, takeFdArg } from './common.js';
import { handleControl } from './control.js';

const { EINVAL, ENOENT, ENOSYS, ESRCH } = os.errno;

/**
 * Resolves the path argument and decides stat on it. Returns the canonical path, or null after
 * answering. An empty path with AT_EMPTY_PATH (glibc's fstat) names the dirfd: tsyd takes a copy
 * of it and decides on the copy's path (Slot.pathTaken); the op then acts on that copy.
 *
 * SAFETY: never continued. The kernel would read the path again, and a sibling thread can turn
 * "" into a hidden path between tsyd's read and the kernel's (its inode, size, mode, a link's
 * target). The fd form is decided like any fd: an object the program holds an fd to (an O_PATH
 * open raced into a hidden directory, an fd passed in) is hidden like its path, ENOENT. An
 * object without a path (pipe, socket, memfd, deleted file: /proc/<tgid>/fd/N) has no name
 * stat could hide: allowed.
 */
function decideStat(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, flags: number): string | null {
  if (handleControl(ctx, pathArg)) return null;
  const path = resolveArg(ctx, sys, dirfdArg, pathArg, flags & Resolve.emptyPath ? flags | Resolve.takeEmpty : flags);
  if (path === null) return null;
  ctx.fault(path);
  if (ctx.slots[Slot.pathTaken] === 1 && ctx.slots[Slot.pathMagic] === 1) return path;
  if (!ctx.allows('stat', sys, path)) {
    refuse(ENOENT);
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
 * made or removed changes nlink and mtime) and path, for one policy version; per emulator,
 * bounded. Accepted: a subdirectory renamed between a visible and a hidden name (by a process
 * outside the sandbox: the program cannot name hidden paths) within one timestamp tick of the
 * listing leaves the count off by one until the directory changes again.
 */
const hiddenSubdirs = new Map<string, number>();
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
  if (ctx.slots[Slot.pathMagic] !== 1 && ctx.policy.mayDenyChildren('stat', dir)) {
    if (hiddenVersion !== ctx.policy.version || hiddenSubdirs.size >= 1024) {
      hiddenSubdirs.clear();
      hiddenVersion = ctx.policy.version;
    }
    // The names are decided by path: the same directory elsewhere (a bind mount) is another key.
    const id = native.pendingIdentity();
    const key = id === '' ? '' : `${id}\0${dir}`;
    const known = key === '' ? undefined : hiddenSubdirs.get(key);
    if (known !== undefined) hidden = known;
    else {
      hidden = countHidden(ctx, dir, native.pendingSubdirs());
      if (key !== '' && hidden >= 0) hiddenSubdirs.set(key, hidden);
    }
  }
  native.finishStat(hidden);
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

function statHandler(sys: string, dirfdArg: number, pathArg: number, bufArg: number, flagsArg: number | null, follow: boolean) {
  return (ctx: EmulatorContext) => {
    const atFlags = flagsArg === null ? (follow ? 0 : AT_SYMLINK_NOFOLLOW) : arg32(ctx.slots, flagsArg);
    if (atFlags & ~FSTATAT_FLAGS) return refuse(EINVAL);
    const path = decideStat(ctx, sys, dirfdArg, pathArg, resolveFlags(atFlags, flagsArg !== null));
    if (path === null) return;
    const r = native.fsOp(FsOp.stat, bufArg, atFlags & AT_SYMLINK_NOFOLLOW ? 0 : 1, flagsArg ?? -1, holdDirs(ctx));
    finishDirectory(ctx, path, r);
  };
}

function fdHandler(sys: string) {
  return (ctx: EmulatorContext) => {
    const path = resolveFdArg(ctx, 0);
    if (path === null) return;
    // An object without a path (pipe, socket, memfd) has no name stat could hide.
    if (ctx.slots[Slot.pathMagic] !== 1 && !ctx.allows('stat', sys, path)) return refuse(ENOENT);
    // Checked, then continued: the kernel acts on the fd, which names the object checked
    // (a racing dup2 onto that fd number can swap it: an accepted, documented limit).
    native.respond(Answer.continue);
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
  const dir = takeFdArg(ctx, 0);
  if (dir === null) return;
  if (!ctx.allows('stat', 'getdents64', dir)) return refuse(ENOENT);
  for (;;) {
    const data = native.readDirectory(0, 2);
    if (typeof data === 'number') {
      if (data !== -ESRCH) refuse(-data);
      return;
    }
    const kept = data.length === 0 || ctx.audit ? data : visibleEntries(data, dir, (p) => ctx.policy.check('stat', p));
    // A chunk of hidden entries only is skipped: an empty answer would mean the end.
    if (kept.length > 0 || data.length === 0) return void native.answerBytes(1, kept);
  }
}

export function statHandlers(): Map<string, HandlerSpec> {
  const caps = ['stat'] as const;
  const h = new Map<string, HandlerSpec>();
  const add = (name: string, handle: (ctx: EmulatorContext) => void) => h.set(name, { caps, handle });
  add('stat', statHandler('stat', CWD, 0, 1, null, true));
  add('lstat', statHandler('lstat', CWD, 0, 1, null, false));
  add('newfstatat', statHandler('newfstatat', 0, 1, 2, 3, true));
  add('fstatat64', statHandler('fstatat64', 0, 1, 2, 3, true));
  add('statx', (ctx) => {
    const atFlags = arg32(ctx.slots, 2);
    const path = decideStat(ctx, 'statx', 0, 1, resolveFlags(atFlags, true));
    if (path !== null) finishDirectory(ctx, path, native.fsOp(FsOp.statx, 2, 3, 4, holdDirs(ctx)));
  });
  add('access', (ctx) => {
    if (decideStat(ctx, 'access', CWD, 0, 0) !== null) native.fsOp(FsOp.access, 1, -1);
  });
  add('faccessat', (ctx) => {
    if (decideStat(ctx, 'faccessat', 0, 1, 0) !== null) native.fsOp(FsOp.access, 2, -1);
  });
  add('faccessat2', (ctx) => {
    if (decideStat(ctx, 'faccessat2', 0, 1, resolveFlags(arg32(ctx.slots, 3))) !== null) native.fsOp(FsOp.access, 2, 3);
  });
  add('readlink', (ctx) => {
    if (decideStat(ctx, 'readlink', CWD, 0, Resolve.noFollow) !== null) native.fsOp(FsOp.readlink, 1, 2);
  });
  add('readlinkat', (ctx) => {
    // An empty path reads the link the dirfd is (an O_PATH|O_NOFOLLOW fd), flag or not.
    if (decideStat(ctx, 'readlinkat', 0, 1, Resolve.noFollow | Resolve.emptyPath) !== null) native.fsOp(FsOp.readlink, 2, 3);
  });
  add('chdir', (ctx) => {
    // Checked, then continued: only the kernel can change the program's cwd. A path swapped
    // after the check can move the cwd into a hidden directory; every later access from there
    // is still decided on its canonical path.
    if (decideStat(ctx, 'chdir', CWD, 0, 0) !== null) native.respond(Answer.continue);
  });
  add('fchdir', fdHandler('fchdir'));
  // Raw fstat (Go, static binaries; glibc's fstat is newfstatat): as newfstatat(fd, "", AT_EMPTY_PATH),
  // on tsyd's copy of the fd, the link count of a directory corrected as there.
  add('fstat', (ctx) => {
    const path = takeFdArg(ctx, 0);
    if (path === null) return;
    if (ctx.slots[Slot.pathMagic] !== 1 && !ctx.allows('stat', 'fstat', path)) return refuse(ENOENT);
    finishDirectory(ctx, path, native.fsOp(FsOp.stat, 1, 1, STAT_FD_ITSELF, holdDirs(ctx)));
  });
  // SAFETY: an fd of a hidden object says nothing of it (its file system, its attributes).
  for (const sys of ['fstatfs', 'fgetxattr', 'flistxattr']) add(sys, fdHandler(sys));
  // Metadata of a path that stat may hide: emulated on tsyd's O_PATH fd of the checked object
  // (SAFETY: continued, a path swapped after the check revealed a hidden file's file system,
  // xattrs, inode events or file handle).
  const IN_DONT_FOLLOW = 0x02000000;
  add('statfs', (ctx) => {
    if (decideStat(ctx, 'statfs', CWD, 0, 0) !== null) native.fsOp(FsOp.statfs, 1);
  });
  for (const [name, follow] of [['getxattr', 1], ['lgetxattr', 0]] as const) {
    add(name, (ctx) => {
      if (decideStat(ctx, name, CWD, 0, follow ? 0 : Resolve.noFollow) !== null) native.fsOp(FsOp.getxattr, 1, 2, 3, follow);
    });
  }
  for (const [name, follow] of [['listxattr', 1], ['llistxattr', 0]] as const) {
    add(name, (ctx) => {
      if (decideStat(ctx, name, CWD, 0, follow ? 0 : Resolve.noFollow) !== null) native.fsOp(FsOp.listxattr, 1, 2, follow);
    });
  }
  add('inotify_add_watch', (ctx) => {
    const flags = arg32(ctx.slots, 2) & IN_DONT_FOLLOW ? Resolve.noFollow : 0;
    const path = decideStat(ctx, 'inotify_add_watch', CWD, 1, flags);
    if (path === null) return;
    // SAFETY: events on a directory name its entries: a directory that may hold hidden ones is
    // not watched (EACCES, logged), files and other directories are.
    const refuseDirs = !ctx.audit && ctx.policy.mayDenyChildren('stat', path);
    const r = native.fsOp(FsOp.inotifyAddWatch, 0, 2, refuseDirs ? 1 : 0);
    if (r === REFUSED_DIRECTORY_WATCH) ctx.refuseAct('inotify_add_watch', `${path} (watched, its events would name entries stat hides)`, false);
  });
  add('name_to_handle_at', (ctx) => {
    const f = arg32(ctx.slots, 4);
    const flags = (f & AT_SYMLINK_FOLLOW ? 0 : Resolve.noFollow) | (f & AT_EMPTY_PATH ? Resolve.emptyPath : 0);
    if (decideStat(ctx, 'name_to_handle_at', 0, 1, flags) !== null) native.fsOp(FsOp.nameToHandle, 2, 3, 4);
  });
  // SAFETY: getxattrat, listxattrat (Linux 6.13) and file_getattr (6.17) would read a hidden
  // file's attributes; libc does not use them yet: refused with ENOSYS while stat is on, as
  // their write counterparts are (attributes.ts).
  for (const name of ['getxattrat', 'listxattrat', 'file_getattr']) add(name, () => refuse(ENOSYS));
  add('getdents64', listDirectory);
  // SAFETY: the old getdents (no d_type, unused by today's libc) would list hidden entries: it is
  // refused while stat is on (libc falls back to getdents64).
  add('getdents', () => refuse(ENOSYS));
  return h;
}
