// The open family: open, openat, openat2, creat. Emulated: decided on the canonical path,
// then opened by tsyd and injected into the program (ADDFD + SEND).
import { constants as os } from 'node:os';
import { OFFLOAD_FULL, REFUSED_BLOCK_DEVICE, Resolve } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { entryOf, isHidden, Last, refusePath, resolveArg } from './common.js';
import { args, type PathArg } from './request.js';
import { cryptDirectory, isCryptPath, openCryptFile } from './crypt.js';

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_TRUNC = 0o1000;
const O_NOFOLLOW = 0o400000;
const O_TMPFILE = 0o20200000;
const O_PATH = 0o10000000;

const RESOLVE_NO_XDEV = 0x01;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_NO_SYMLINKS = 0x04;
const RESOLVE_BENEATH = 0x08;
const RESOLVE_IN_ROOT = 0x10;
const RESOLVE_CACHED = 0x20;
const __O_TMPFILE = 0o20000000;

const { EACCES, EAGAIN, EEXIST, EISDIR, ENOENT, EOPNOTSUPP, ESRCH } = os.errno;

// The kernel's VALID_OPEN_FLAGS: open/openat ignore other bits, openat2 refuses them.
const VALID_OPEN_FLAGS =
  O_ACCMODE | O_CREAT | O_EXCL | 0o400 /* O_NOCTTY */ | O_TRUNC | 0o2000 /* O_APPEND */ |
  0o4000 /* O_NONBLOCK */ | 0o10000 /* O_DSYNC */ | 0o20000 /* FASYNC */ | 0o40000 /* O_DIRECT */ |
  0o100000 /* O_LARGEFILE */ | 0o200000 /* O_DIRECTORY */ | O_NOFOLLOW | 0o1000000 /* O_NOATIME */ |
  0o2000000 /* O_CLOEXEC */ | 0o4000000 /* __O_SYNC */ | O_PATH | O_TMPFILE;
const O_PATH_FLAGS = 0o200000 | O_NOFOLLOW | O_PATH | 0o2000000;

/** open/openat flags as the kernel's build_open_how() sees them. */
function legacyOpenFlags(flags: number): number {
  flags &= VALID_OPEN_FLAGS;
  return flags & O_PATH ? flags & O_PATH_FLAGS : flags;
}

function isCreating(flags: number): boolean {
  return (flags & O_CREAT) !== 0 || (flags & O_TMPFILE) === O_TMPFILE;
}

/**
 * The capabilities an open with these flags needs besides create (which depends on whether the
 * file exists). O_CREAT alone writes nothing to an existing file: it is decided as create.
 */
export function openCapabilities(flags: number): { read: boolean; write: boolean } {
  // O_PATH opens no data, but is performed as an open for reading (addon/open.cc): decided as read.
  if (flags & O_PATH) return { read: true, write: false };
  const acc = flags & O_ACCMODE;
  const write = acc === O_WRONLY || acc === O_RDWR || acc === O_ACCMODE || (flags & O_TRUNC) !== 0 || (flags & O_TMPFILE) === O_TMPFILE;
  const read = acc === 0 || acc === O_RDWR || acc === O_ACCMODE;
  return { read, write };
}

/**
 * Decides and performs one open. `resolveExtra` carries openat2's RESOLVE_* choices.
 * Every path answers the request exactly once.
 */
function emulateOpen(ctx: EmulatorContext, sys: string, at: PathArg, flags: number, mode: number, resolveExtra: number): void {
  const { req } = ctx;
  const { read, write } = openCapabilities(flags);
  const checkRead = read && ctx.policy.isOn('read');
  const checkWrite = write && ctx.policy.isOn('write');
  const checkCreate = isCreating(flags) && ctx.policy.isOn('create');
  const checkHidden = ctx.policy.isOn('stat');
  const crypt = ctx.policy.crypt.on;
  if (!checkRead && !checkWrite && !checkCreate && !checkHidden && !crypt) {
    // SAFETY: no capability that applies is on, so no decision depends on the path the
    // program passed: letting the kernel run the call cannot be raced into a denial.
    req.continue();
    return;
  }
  let rflags = resolveExtra;
  // O_NOFOLLOW, and O_CREAT|O_EXCL (which never follows a trailing symlink), decide on
  // the link itself.
  if (flags & O_NOFOLLOW || (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) rflags |= Resolve.noFollow;
  // O_CREAT on "name/": the kernel looks no further than the directory (EISDIR).
  if (flags & O_CREAT) rflags |= Resolve.slashEntry;
  const path = resolveArg(ctx, sys, at, rflags);
  if (path === null) return;
  ctx.fault(path);
  if (flags & O_CREAT && entryOf(ctx).slash) {
    // SAFETY: EISDIR whatever the name is (a hidden one too, as if it did not exist), but the
    // directory it would be made in must be visible: a hidden one does not exist (ENOENT).
    const dir = path.slice(0, Math.max(1, path.lastIndexOf('/')));
    return req.fail(checkHidden && isHidden(ctx, sys, dir) ? ENOENT : EISDIR);
  }
  if (checkHidden && isHidden(ctx, sys, path)) return req.fail(ENOENT);
  // SAFETY: /proc/<pid> of a process outside the sandbox is never written, whatever the rules:
  // oom_score_adj, autogroup, comm, attr/*, coredump_filter of a same-uid neighbour (or of any
  // process, for root) would let the program reach past the sandbox.
  if ((write || isCreating(flags)) && req.foreignProc) {
    ctx.refuseAct(sys, `${path} (written: /proc of a process outside the sandbox)`, false);
    return req.fail(EACCES);
  }
  if (checkCreate) {
    const missing = req.last === Last.missing || (flags & O_TMPFILE) === O_TMPFILE;
    if (missing) {
      // A new file (or an O_TMPFILE in this directory): create decides.
      if (!ctx.allows('create', sys, path)) return refusePath(ctx, path);
    } else if (!ctx.policy.check('create', path)) {
      // SAFETY: the file exists now, so nothing is created — but it could be removed before
      // tsyd opens it: open it without O_CREAT so that a denied create can never happen.
      if (flags & O_EXCL) return req.fail(EEXIST);
      flags &= ~O_CREAT;
    }
  }
  if ((checkRead && !ctx.allows('read', sys, path)) || (checkWrite && !ctx.allows('write', sys, path))) {
    refusePath(ctx, path);
    return;
  }
  if (crypt && (flags & O_TMPFILE) === O_TMPFILE && cryptDirectory(ctx, path)) {
    // SAFETY: an O_TMPFILE in a crypt directory would write plaintext to the disk (and could be
    // linked in under a crypt name): not supported there, as on a file system without it.
    return req.fail(EOPNOTSUPP);
  }
  if (crypt && (flags & O_TMPFILE) !== O_TMPFILE && isCryptPath(ctx, path)) {
    if (openCryptFile(ctx, sys, path, flags, isCreating(flags) ? mode & 0o7777 : 0)) return;
  }
  // SAFETY: O_PATH too is performed by tsyd, never continued (the kernel would read the path
  // and open_how again, after the check): as an open for reading of the checked object, which
  // read (decided above) allows — ADDFD cannot send an O_PATH file (addon/open.cc).
  // An open that may wait for another process (a FIFO, a device, a lease) runs on a job thread
  // of the addon, never in this emulator; at the limit of such calls it is answered EAGAIN.
  const r = req.openInject(flags, isCreating(flags) ? mode & 0o7777 : 0);
  if (r === OFFLOAD_FULL) ctx.jobsExhausted(sys);
  // SAFETY: a block device is the raw file system below every rule: refused whatever the rules.
  if (r === REFUSED_BLOCK_DEVICE) ctx.refuseAct(sys, `the block device ${path} (raw access to a file system)`, false);
}

function openatResolveFlags(resolve: number): number {
  let r = 0;
  if (resolve & RESOLVE_NO_SYMLINKS) r |= Resolve.noSymlinks;
  if (resolve & RESOLVE_NO_MAGICLINKS) r |= Resolve.noMagiclinks;
  if (resolve & RESOLVE_BENEATH) r |= Resolve.beneath;
  if (resolve & RESOLVE_IN_ROOT) r |= Resolve.inRoot;
  if (resolve & RESOLVE_NO_XDEV) r |= Resolve.noXdev;
  return r;
}

/** open(path, flags, mode), openat(dirfd, path, flags, mode), creat(path, mode), openat2(dirfd, path, how, size). */
const OPEN = args('path', 'flags', 'mode');
const OPENAT = args('dirfd', 'path', 'flags', 'mode');
const CREAT = args('path', 'mode');
const OPENAT2 = args('dirfd', 'path', 'how', 'size');

export function openHandlers(): Map<string, HandlerSpec> {
  const caps = ['read', 'write', 'create', 'stat'] as const;
  const h = new Map<string, HandlerSpec>();
  h.set('open', { caps, handle: (ctx) => {
    emulateOpen(ctx, 'open', OPEN, legacyOpenFlags(ctx.req.int(OPEN.flags)), ctx.req.int(OPEN.mode), 0);
  } });
  h.set('openat', { caps, handle: (ctx) => {
    emulateOpen(ctx, 'openat', OPENAT, legacyOpenFlags(ctx.req.int(OPENAT.flags)), ctx.req.int(OPENAT.mode), 0);
  } });
  h.set('creat', { caps, handle: (ctx) => {
    emulateOpen(ctx, 'creat', CREAT, O_CREAT | O_WRONLY | O_TRUNC, ctx.req.int(CREAT.mode), 0);
  } });
  h.set('openat2', { caps, handle: (ctx) => {
    const { req } = ctx;
    const r = req.readOpenHow(OPENAT2.how, OPENAT2.size);
    if (r < 0) {
      if (r !== -ESRCH) req.fail(-r);
      return;
    }
    const flags = req.howFlags;
    // RESOLVE_CACHED: the kernel does not even try to create or truncate (EAGAIN); any other
    // open tsyd performs after its own walk, which has just brought every name into the cache.
    if (req.howResolve & RESOLVE_CACHED && flags & (O_TRUNC | O_CREAT | __O_TMPFILE)) return req.fail(EAGAIN);
    emulateOpen(ctx, 'openat2', OPENAT2, flags, req.howMode, openatResolveFlags(req.howResolve));
  } });
  return h;
}
