// The open family: open, openat, openat2, creat. Emulated: decided on the canonical path,
// then opened by tsyd and injected into the program (ADDFD + SEND).
import { constants as os } from 'node:os';
import { Answer, native, OFFLOAD_FULL, REFUSED_BLOCK_DEVICE, Resolve, Slot } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, entryOf, isHidden, refusePath, resolveArg } from './common.js';

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

const { EACCES, EAGAIN, EEXIST, EISDIR, ENOENT, ESRCH } = os.errno;

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
function emulateOpen(
  ctx: EmulatorContext,
  sys: string,
  dirfdArg: number,
  pathArg: number,
  flags: number,
  mode: number,
  resolveExtra: number,
): void {
  const { read, write } = openCapabilities(flags);
  const checkRead = read && ctx.policy.isOn('read');
  const checkWrite = write && ctx.policy.isOn('write');
  const checkCreate = isCreating(flags) && ctx.policy.isOn('create');
  const checkHidden = ctx.policy.isOn('stat');
  if (!checkRead && !checkWrite && !checkCreate && !checkHidden) {
    // SAFETY: no capability that applies is on, so no decision depends on the path the
    // program passed: letting the kernel run the call cannot be raced into a denial.
    native.respond(Answer.continue);
    return;
  }
  let rflags = resolveExtra;
  // O_NOFOLLOW, and O_CREAT|O_EXCL (which never follows a trailing symlink), decide on
  // the link itself.
  if (flags & O_NOFOLLOW || (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) rflags |= Resolve.noFollow;
  // O_CREAT on "name/": the kernel looks no further than the directory (EISDIR).
  if (flags & O_CREAT) rflags |= Resolve.slashEntry;
  const path = resolveArg(ctx, sys, dirfdArg, pathArg, rflags);
  if (path === null) return;
  ctx.fault(path);
  if (flags & O_CREAT && entryOf(ctx).slash) {
    // SAFETY: EISDIR whatever the name is (a hidden one too, as if it did not exist), but the
    // directory it would be made in must be visible: a hidden one does not exist (ENOENT).
    const dir = path.slice(0, Math.max(1, path.lastIndexOf('/')));
    return void native.respond(Answer.error, checkHidden && isHidden(ctx, sys, dir) ? ENOENT : EISDIR);
  }
  if (checkHidden && isHidden(ctx, sys, path)) return void native.respond(Answer.error, ENOENT);
  // SAFETY: /proc/<pid> of a process outside the sandbox is never written, whatever the rules:
  // oom_score_adj, autogroup, comm, attr/*, coredump_filter of a same-uid neighbour (or of any
  // process, for root) would let the program reach past the sandbox.
  if ((write || isCreating(flags)) && ctx.slots[Slot.pathForeignProc] === 1) {
    ctx.refuseAct(sys, `${path} (written: /proc of a process outside the sandbox)`, false);
    return void native.respond(Answer.error, EACCES);
  }
  if (checkCreate) {
    const missing = ctx.slots[Slot.pathMissing] === 1 || (flags & O_TMPFILE) === O_TMPFILE;
    if (missing) {
      // A new file (or an O_TMPFILE in this directory): create decides.
      if (!ctx.allows('create', sys, path)) return refusePath(ctx, path);
    } else if (!ctx.policy.check('create', path)) {
      // SAFETY: the file exists now, so nothing is created — but it could be removed before
      // tsyd opens it: open it without O_CREAT so that a denied create can never happen.
      if (flags & O_EXCL) return void native.respond(Answer.error, EEXIST);
      flags &= ~O_CREAT;
    }
  }
  if ((checkRead && !ctx.allows('read', sys, path)) || (checkWrite && !ctx.allows('write', sys, path))) {
    refusePath(ctx, path);
    return;
  }
  // SAFETY: O_PATH too is performed by tsyd, never continued (the kernel would read the path
  // and open_how again, after the check): as an open for reading of the checked object, which
  // read (decided above) allows — ADDFD cannot send an O_PATH file (addon/open.cc).
  // An open that may wait for another process (a FIFO, a device, a lease) runs on a job thread
  // of the addon, never in this emulator; at the limit of such calls it is answered EAGAIN.
  const r = native.openInject(flags, isCreating(flags) ? mode & 0o7777 : 0);
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

export function openHandlers(): Map<string, HandlerSpec> {
  const caps = ['read', 'write', 'create', 'stat'] as const;
  const h = new Map<string, HandlerSpec>();
  h.set('open', { caps, handle: (ctx) => {
    const flags = legacyOpenFlags(arg32(ctx.slots, 1));
    emulateOpen(ctx, 'open', -1, 0, flags, arg32(ctx.slots, 2), 0);
  } });
  h.set('openat', { caps, handle: (ctx) => {
    const flags = legacyOpenFlags(arg32(ctx.slots, 2));
    emulateOpen(ctx, 'openat', 0, 1, flags, arg32(ctx.slots, 3), 0);
  } });
  h.set('creat', { caps, handle: (ctx) => {
    emulateOpen(ctx, 'creat', -1, 0, O_CREAT | O_WRONLY | O_TRUNC, arg32(ctx.slots, 1), 0);
  } });
  h.set('openat2', { caps, handle: (ctx) => {
    const r = native.readOpenHow(2, 3);
    if (r < 0) {
      if (r !== -ESRCH) native.respond(Answer.error, -r);
      return;
    }
    const flags = ctx.slots[Slot.howFlagsLo]!;
    const mode = ctx.slots[Slot.howMode]!;
    // RESOLVE_CACHED: the kernel does not even try to create or truncate (EAGAIN); any other
    // open tsyd performs after its own walk, which has just brought every name into the cache.
    if (ctx.slots[Slot.howResolveLo]! & RESOLVE_CACHED && flags & (O_TRUNC | O_CREAT | __O_TMPFILE)) {
      return void native.respond(Answer.error, EAGAIN);
    }
    const resolve = openatResolveFlags(ctx.slots[Slot.howResolveLo]!);
    emulateOpen(ctx, 'openat2', 0, 1, flags, mode, resolve);
  } });
  return h;
}
