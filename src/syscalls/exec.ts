// The exec capability: execve, execveat. Checked, then continued — the kernel alone can replace
// a process image. Decided on the canonical path of the binary and, for `#!` scripts, of each
// interpreter in the chain.
// SAFETY (accepted limit, README "Exec"): the program can swap the file or a path component
// between the check and the kernel's own lookup, so exec is a policy for what a program runs
// in good faith, not a barrier against a program racing its own exec. The read capability
// still guards every file the new image opens.
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { constants as os } from 'node:os';
import { native, Resolve } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { fromBytes } from '../sandbox/bytes.js';
import { AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, isHidden, refusePath, resolveVisible, resolveFdArg } from './common.js';
import { isCryptPath } from './crypt.js';
import { args, CWD, type PathArg } from './request.js';

const O_PATH = 0o10000000;

const { EACCES, ELOOP, ENOENT } = os.errno;
/** The kernel reads at most this much of a script for its `#!` line (BINPRM_BUF_SIZE). */
const BINPRM_BUF_SIZE = 256;
/** The kernel gives up after this many nested interpreters. */
const MAX_INTERPRETERS = 4;
const AT_FDCWD = -100;
/** openat2 resolve flags (linux/openat2.h). */
const Resolve2 = { noMagiclinks: 0x02, noSymlinks: 0x04 } as const;

/**
 * What the head of a file to be executed says: a `#!` script and its interpreter, an ELF program
 * and the interpreter (loader) its PT_INTERP names (null: static), another format, or unknown.
 */
export type Head =
  | { kind: 'script'; interpreter: string }
  | { kind: 'elf'; interpreter: string | null; class32: boolean }
  | { kind: 'other' }
  | { kind: 'unreadable'; why: string; errno?: number };

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian
const PT_INTERP = 3;

/** The PT_INTERP path of a 64-bit little-endian ELF file at fd (head: its first bytes), or null. */
function elfInterpreter(fd: number, head: Buffer): string | null {
  const phoff = Number(head.readBigUInt64LE(32));
  const phentsize = head.readUInt16LE(54);
  const phnum = head.readUInt16LE(56);
  if (phentsize < 56 || phnum === 0 || phnum > 256) return null;
  const ph = Buffer.alloc(phentsize * phnum);
  if (readSync(fd, ph, 0, ph.length, phoff) !== ph.length) return null;
  for (let i = 0; i < phnum; i++) {
    const at = i * phentsize;
    if (ph.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = Number(ph.readBigUInt64LE(at + 8));
    const size = Math.min(Number(ph.readBigUInt64LE(at + 32)), 4096);
    const name = Buffer.alloc(size);
    const n = readSync(fd, name, 0, size, offset);
    const end = name.indexOf(0);
    return name.toString('latin1', 0, end >= 0 && end < n ? end : n);
  }
  return null;
}

/**
 * Reads what the file at `path` would run. SAFETY: fail closed: the kernel reads the head of a
 * file it executes without read permission (an execute-only script) and despite a lease, so a
 * head tsyd cannot read may name any interpreter: the caller refuses the exec.
 */
export function headOf(path: string, magic = false): Head {
  let pin: number;
  try {
    // SAFETY: the path is canonical: no symlink, no magic link is followed (a component swapped
    // since the check fails instead of leading tsyd elsewhere). A magic path (/proc/<tgid>/fd/N
    // of the program's own memfd or deleted file, as the canonicaliser made it) is followed, to
    // the object the kernel's exec will read through the same link. Pinned with O_PATH: nothing
    // is opened before it is known to be a regular file (a device's open may act — a watchdog
    // starts — and under tsyd agent the container's device rules would not be asked).
    const resolve = magic ? 0 : Resolve2.noSymlinks | Resolve2.noMagiclinks;
    pin = native.openat2(Buffer.from(path, 'latin1'), O_PATH | (magic ? 0 : fsc.O_NOFOLLOW), 0, resolve);
  } catch (err) {
    const code = (err as { errno?: number }).errno;
    // Gone: the kernel's own lookup fails as well. Anything else (ELOOP of a swapped component): unknown.
    if (code === os.errno.ENOENT) return { kind: 'other' };
    return { kind: 'unreadable', why: `cannot read its head to check what it runs (errno ${code ?? '?'})`, errno: code };
  }
  let fd: number;
  try {
    // Not a regular file: the kernel refuses to execute it (EACCES).
    if (!fstatSync(pin).isFile()) return { kind: 'other' };
    // Non-blocking (a lease must not stall the emulator), through this process's own fd link:
    // the file pinned, nothing else. EACCES of an execute-only file, EWOULDBLOCK of a lease: unknown.
    fd = openSync(`/proc/self/fd/${pin}`, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    const code = os.errno[(err as NodeJS.ErrnoException).code as keyof typeof os.errno];
    return { kind: 'unreadable', why: `cannot read its head to check what it runs (errno ${code ?? '?'})`, errno: code };
  } finally {
    native.close(pin);
  }
  try {
    const head = Buffer.alloc(BINPRM_BUF_SIZE);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n >= 64 && head.readUInt32LE(0) === ELF_MAGIC) {
      // EI_CLASS: 1 = 32-bit, 2 = 64-bit.
      if (head[4] === 1) return { kind: 'elf', interpreter: null, class32: true };
      return { kind: 'elf', interpreter: head[4] === 2 && head[5] === 1 ? elfInterpreter(fd, head) : null, class32: false };
    }
    if (n < 2 || head[0] !== 0x23 || head[1] !== 0x21) return { kind: 'other' };
    let i = 2;
    while (i < n && (head[i] === 0x20 || head[i] === 0x09)) i++;
    let j = i;
    while (j < n && head[j] !== 0x20 && head[j] !== 0x09 && head[j] !== 0x0a && head[j] !== 0) j++;
    return j > i ? { kind: 'script', interpreter: head.toString('latin1', i, j) } : { kind: 'other' };
  } catch (err) {
    return { kind: 'unreadable', why: `cannot read its head (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    // SAFETY: closed by node:fs, which opened it: a worker thread's fs keeps the fds it opened and
    // closes them all when the thread ends — one closed behind its back would be closed again
    // then, by number, whatever holds that number by then (another container's listener).
    closeSync(fd);
  }
}

/** Whether the checked path is a symlink itself (not followed). In this thread's view (a container's: tsyd agent). */
function isLink(path: string): boolean {
  const mode = native.statPathMode(Buffer.from(path, 'latin1'), false);
  return mode >= 0 && (mode & fsc.S_IFMT) === fsc.S_IFLNK;
}

/** Whether the canonical path names something (not followed: canonical paths have no links but a magic one). */
function exists(path: string): boolean {
  return native.statPathMode(Buffer.from(path, 'latin1'), false) !== -os.errno.ENOENT;
}

/** Denies an exec for a reason of the file's head (one warn record), with `errno`. */
function refuseHead(ctx: EmulatorContext, sys: string, path: string, why: string, errno: number): void {
  if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'access', cap: 'exec', path: fromBytes(path), sys, pid: ctx.req.pid, why }, `denied exec of ${fromBytes(path)}: ${why}`);
  ctx.req.fail(errno);
}

/**
 * SAFETY: a crypt file is ciphertext on disk, and the kernel would load those bytes: never run
 * (EACCES, a warn record); its plaintext can be run from an fd of it (fexecve).
 */
function refuseCryptExec(ctx: EmulatorContext, sys: string, path: string): boolean {
  if (!isCryptPath(ctx, path)) return false;
  refuseHead(ctx, sys, path, 'a crypt file is encrypted on disk (run its plaintext from an open fd)', EACCES);
  return true;
}

function execute(ctx: EmulatorContext, sys: string, at: PathArg, flags: number): void {
  let rflags = flags & AT_SYMLINK_NOFOLLOW ? Resolve.noFollow : 0;
  if (flags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  let path = resolveVisible(ctx, sys, at, rflags);
  if (path === '') path = resolveFdArg(ctx, at.dirfd ?? CWD);
  if (path === null) return;
  ctx.fault(path);
  if (!ctx.allows('exec', sys, path)) return refusePath(ctx, path);
  if (refuseCryptExec(ctx, sys, path)) return;
  const tid = ctx.req.pid;
  let magic = ctx.req.magic;
  for (let depth = 0; ; depth++) {
    const head = headOf(path, magic);
    magic = false;
    if (head.kind === 'other') break;
    // AT_SYMLINK_NOFOLLOW and the checked path is a link: the kernel's answer, made here (never
    // continued: a link swapped in could lead anywhere).
    if (head.kind === 'unreadable' && head.errno === ELOOP && depth === 0 && flags & AT_SYMLINK_NOFOLLOW && isLink(path)) return ctx.req.fail(ELOOP);
    if (head.kind === 'unreadable') return refuseHead(ctx, sys, path, head.why, EACCES);
    // SAFETY: 32-bit programs make only calls the filter refuses, but the kernel gives one
    // without PT_GNU_STACK READ_IMPLIES_EXEC, and a far jump to 64-bit code then maps files
    // executable through PROT_READ: not run at all.
    if (head.kind === 'elf' && head.class32) return refuseHead(ctx, sys, path, '32-bit programs cannot run under tsyd', EACCES);
    if (head.interpreter === null) break;
    if (depth === MAX_INTERPRETERS) return ctx.req.fail(ELOOP);
    // The kernel opens the interpreter (a script's, or an ELF program's loader named by
    // PT_INTERP) itself, in the program's view (relative to its cwd), as bytes: no system call
    // tsyd could see. SAFETY: decided as exec here, and hidden means missing.
    const canonical = native.canonicalize(tid, Buffer.from(head.interpreter, 'latin1'), AT_FDCWD, 0);
    // A missing interpreter (a directory on the way, or the file) is the kernel's ENOENT, as
    // natively (`bad interpreter`, exit 127), with no denial: nothing was refused. Answered
    // here, never continued: a file made there meanwhile would run unchecked. SAFETY: any
    // other failure (a loop, tsyd's own /proc, a name too long) is refused likewise.
    if (typeof canonical === 'number') return ctx.req.fail(-canonical);
    path = canonical.toString('latin1');
    // SAFETY: hidden first: a path stat hides is missing for the program whether it exists or
    // not (README "Hidden means hidden"). Only a visible path is told missing from denied:
    // the program could stat it anyway, so its existence says nothing stat does not.
    if (isHidden(ctx, sys, path)) return ctx.req.fail(ENOENT);
    if (!exists(path)) return ctx.req.fail(ENOENT);
    if (!ctx.allows('exec', sys, path)) return refusePath(ctx, path);
    if (refuseCryptExec(ctx, sys, path)) return;
    // An ELF loader is not itself loaded through another (the kernel does not chain them).
    if (head.kind === 'elf') break;
  }
  ctx.req.continue();
}

const EXECVE = args('path', 'argv', 'envp');
const EXECVEAT = args('dirfd', 'path', 'argv', 'envp', 'flags');

export function execHandlers(): Map<string, HandlerSpec> {
  const caps = ['exec', 'stat'] as const;
  return new Map<string, HandlerSpec>([
    ['execve', { caps, handle: (ctx) => execute(ctx, 'execve', EXECVE, 0) }],
    ['execveat', { caps, handle: (ctx) => execute(ctx, 'execveat', EXECVEAT, ctx.req.int(EXECVEAT.flags)) }],
  ]);
}
