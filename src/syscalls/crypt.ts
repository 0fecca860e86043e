// What the program's calls do to crypt files (Crypt sandboxing, README "Crypt sandboxing"):
// opens get a plaintext buffer (addon/crypt-files.cc); the calls that would hand out or change
// the ciphertext on disk by name are refused (fail closed).
import { lstatSync } from 'node:fs';
import { constants as os } from 'node:os';
import { native } from '../native/addon.js';
import { fromBytes } from '../sandbox/bytes.js';
import { drainWriteBacks, submitWriteBacks } from '../actors/crypt-writeback.js';
import { drainAes } from '../actors/aes.js';
import type { EmulatorContext } from './context.js';

const { EACCES, EBADMSG, EISDIR, ESRCH, EXDEV } = os.errno;
const O_PATH = 0o10000000;
const O_ACCMODE = 0o3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;
const O_CLOEXEC = 0o2000000;
const O_DIRECTORY = 0o200000;

/** Is `path` (canonical) a crypt file? Only while Crypt is on. */
export function isCryptPath(ctx: EmulatorContext, path: string): boolean {
  return ctx.policy.crypt.on && ctx.policy.crypt.encrypts(path);
}

/** Is the directory `dir`, or a file directly in it, a crypt path? (O_TMPFILE: its file may get any name there.) */
export function cryptDirectory(ctx: EmulatorContext, dir: string): boolean {
  return isCryptPath(ctx, dir) || isCryptPath(ctx, `${dir === '/' ? '' : dir}/x`);
}

/**
 * Opens the checked crypt file `path` for the program (its plaintext buffer), after the policy
 * allowed the open. True when answered; false: not a regular file, open it as any other.
 * O_PATH gets a read-only snapshot of the plaintext, as a reader (SAFETY: never the ciphertext).
 */
export function openCryptFile(ctx: EmulatorContext, sys: string, path: string, flags: number, mode: number): boolean {
  const crypt = ctx.crypt;
  // SAFETY: Crypt on without a key's handle here (a caller's bug): no plaintext, no ciphertext.
  if (crypt === undefined) {
    ctx.req.fail(EACCES);
    return true;
  }
  // O_PATH is served as a read of the snapshot; O_DIRECTORY stays, so that the open fails with
  // ENOTDIR as natively (cp and mv probe a target with O_PATH|O_DIRECTORY: a success made them
  // take a crypt file for a directory; found by an attack).
  if (flags & O_PATH) flags = flags & (O_CLOEXEC | O_DIRECTORY);
  if ((flags & O_ACCMODE) !== O_RDONLY || flags & O_TRUNC) awaitWriteBackRoom();
  const r = native.cryptOpenInject(crypt.handle, flags, mode, crypt.tmp);
  if (r === native.CRYPT_NOT_REGULAR) return false;
  afterCryptOp(ctx, sys, path, r);
  return true;
}

/**
 * Write-backs queued or running in the AES worker above which a writer's open waits for it: each
 * holds its plaintext buffer (a file's whole content) and three fds; one per file at most, so
 * this bounds a program that writes many files faster than they are encrypted.
 */
const AES_QUEUE_LIMIT = 256;
/**
 * The plaintext bytes those write-backs may hold above which a writer's open waits too: a count
 * alone let 256 large files (400 x 8 MiB: 2.5 GB of memfds) wait in memory.
 */
const AES_QUEUE_BYTES = 256 << 20;
/** How long such an open waits (on its emulator thread) before it goes on anyway. */
const AES_ROOM_WAIT_MS = 30_000;

/** Back-pressure before a writer's open: waits while the AES worker holds more than AES_QUEUE_LIMIT jobs or AES_QUEUE_BYTES of plaintext (never fails the open). */
function awaitWriteBackRoom(): void {
  if (native.aesPending() > AES_QUEUE_LIMIT || native.aesPendingBytes() > AES_QUEUE_BYTES) drainAes(AES_ROOM_WAIT_MS, AES_QUEUE_LIMIT, AES_QUEUE_BYTES);
}

/** One warn record for a file that does not verify, or a writer refused; the write-backs due go on. */
function afterCryptOp(ctx: EmulatorContext, sys: string, path: string, r: number): void {
  if (r === -EBADMSG) {
    const name = fromBytes(path);
    if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'crypt', op: 'decrypt', sys, path: name, pid: ctx.req.pid, err: EBADMSG }, `the crypt file ${name} does not verify (tampered, truncated or another key): EBADMSG`);
  }
  // A writer tsyd could not write back (README "Crypt sandboxing": refused up front).
  const reason = r < 0 && r !== -EBADMSG ? native.cryptRefusal() : undefined;
  if (reason !== undefined) {
    const name = fromBytes(path);
    if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'crypt', op: 'write_back_refused', sys, path: name, pid: ctx.req.pid, err: -r, reason }, `the crypt file ${name} cannot be opened for writing (or created): its write-back could not land (${reason})`);
  }
  if (r !== -ESRCH) submitWriteBacks(ctx.log);
}

/**
 * Before a name is removed (`unlinking`) or another file takes it (the target of a rename): the
 * buffers of `path` are forgotten and every write-back already due lands first, so that none
 * brings the old name back or overwrites the new file. False after answering (EBUSY: renaming
 * a crypt file the program still writes).
 */
export function settleCryptName(ctx: EmulatorContext, path: string, unlinking: boolean): boolean {
  if (ctx.crypt === undefined || !isCryptPath(ctx, path)) return true;
  const r = native.cryptForget(ctx.crypt.handle, Buffer.from(path, 'latin1'), unlinking);
  if (r < 0) {
    ctx.req.fail(-r);
    return false;
  }
  submitWriteBacks(ctx.log);
  drainWriteBacks(WRITE_BACK_WAIT_MS);
  return true;
}

/**
 * Before a change of a crypt file's attributes by name (chmod, chown, utimes, xattrs): the
 * write-backs due land first, so that none replaces the inode changed (the next write-back
 * takes the file's mode as it is then).
 */
export function settleCryptWrites(ctx: EmulatorContext, path: string): void {
  if (ctx.crypt === undefined || !isCryptPath(ctx, path)) return;
  submitWriteBacks(ctx.log);
  drainWriteBacks(WRITE_BACK_WAIT_MS);
}

/**
 * Before a stat of a directory that holds crypt files (by name or fd): the write-backs due land
 * first. Each one links a file in the directory and renames it onto its name, which changes the
 * directory's times: tar, which compares a directory's ctime before and after reading its files,
 * said "file changed as we read it" when the files just written were written back meanwhile.
 */
export function settleCryptDirectory(ctx: EmulatorContext, path: string): void {
  if (ctx.crypt === undefined || !ctx.policy.crypt.on || !cryptDirectory(ctx, path)) return;
  // Nothing due (a close not yet read, a job not yet handed on) nor running: nothing to wait for.
  if (!native.cryptDue() && native.aesPending() === 0) return;
  if (lstatSync(Buffer.from(path, 'latin1'), { throwIfNoEntry: false })?.isDirectory() !== true) return;
  submitWriteBacks(ctx.log);
  drainWriteBacks(WRITE_BACK_WAIT_MS);
}

/** How long an unlink or rename of a crypt file waits for the write-backs due (then goes on). */
const WRITE_BACK_WAIT_MS = 30_000;

/**
 * A rename or link that would move a file in or out of Crypt sandboxing: EXDEV (answered, true).
 * SAFETY: a crypt file under a plain name would hand out its ciphertext as the file's content,
 * a plain file under a crypt name would be plaintext on disk where the rules say encrypted (and
 * a hard link between two crypt names would be split by the next write-back). EXDEV makes `mv`
 * copy, which reads and writes through opens: the content is decrypted and encrypted as it should.
 */
export function refuseCryptMove(ctx: EmulatorContext, source: string, target: string, link: boolean): boolean {
  if (!ctx.policy.crypt.on) return false;
  const from = isCryptPath(ctx, source);
  const to = isCryptPath(ctx, target);
  // A directory's files keep their bytes: every name below must be decided alike.
  if (from === to && !(link && from) && ctx.policy.crypt.sameBelow(source, target)) return false;
  ctx.req.fail(EXDEV);
  return true;
}

/** truncate(path, length) of a crypt file: through its buffer (true: answered). */
export function truncateCryptFile(ctx: EmulatorContext, path: string, lengthArg: number): boolean {
  if (!isCryptPath(ctx, path)) return false;
  if (ctx.crypt === undefined) {
    ctx.req.fail(EACCES);
    return true;
  }
  afterCryptOp(ctx, 'truncate', path, native.cryptTruncate(ctx.crypt.handle, lengthArg, ctx.crypt.tmp));
  return true;
}

/** fsOp(stat|statx)'s hold bit for a regular file (addon/fsops.cc kHoldFiles) when `path` is a crypt file. */
export function holdCryptFile(ctx: EmulatorContext, path: string): number {
  return isCryptPath(ctx, path) ? HOLD_FILES : 0;
}
const HOLD_FILES = 2;

/**
 * Answers the held-back stat of a crypt file by name with its plaintext's size and the file's one
 * identity, which fstat of any open of it shows too (vim, cp, mv, sqlite compare them). A
 * file that does not verify shows its size on disk. False: what is held is a directory.
 */
export function finishCryptStat(ctx: EmulatorContext): boolean {
  if (ctx.crypt === undefined) return false;
  const fd = native.cryptStatBuffer(ctx.crypt.handle, ctx.crypt.tmp);
  if (fd === -EISDIR) return false;
  native.finishStatAs(fd);
  if (fd >= 0) native.close(fd);
  return true;
}
