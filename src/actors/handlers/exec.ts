// The exec capability: execve, execveat. Checked, then continued — the kernel alone can replace
// a process image. Decided on the canonical path of the binary and, for `#!` scripts, of each
// interpreter in the chain.
// SAFETY (accepted limit, README "Exec"): the program can swap the file or a path component
// between the check and the kernel's own lookup, so exec is a policy for what a program runs
// in good faith, not a barrier against a program racing its own exec. The read capability
// still guards every file the new image opens.
import { constants as fsc, fstatSync, readSync } from 'node:fs';
import { constants as os } from 'node:os';
import { Answer, native, Resolve, Slot } from '../../native/addon.js';
import type { EmulatorContext, HandlerSpec } from '../emulator-context.js';
import { fromBytes } from '../../sandbox/bytes.js';
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, CWD, refuse, refusePath, resolveVisible, resolveFdArg } from './common.js';

const { EACCES, ELOOP, ENOENT } = os.errno;
/** The kernel reads at most this much of a script for its `#!` line (BINPRM_BUF_SIZE). */
const BINPRM_BUF_SIZE = 256;
/** The kernel gives up after this many nested interpreters. */
const MAX_INTERPRETERS = 4;
const AT_FDCWD = -100;
/** openat2 resolve flags (linux/openat2.h). */
const Resolve2 = { noMagiclinks: 0x02, noSymlinks: 0x04 } as const;

/** What the head of a file to be executed says: a `#!` interpreter, not a script, or unknown. */
export type Interpreter = string | null | { unreadable: string };

/**
 * The interpreter named by a `#!` line of the file at `path`, null (not a script), or
 * `{unreadable}` when tsyd cannot read the file's head. SAFETY: fail closed: the kernel reads the
 * head of a file it executes without read permission (an execute-only script) and despite a
 * lease, so a head tsyd cannot read may name any interpreter: the caller refuses the exec.
 */
export function interpreterOf(path: string): Interpreter {
  let fd: number;
  try {
    // Non-blocking: a FIFO named as a program must not stall the emulator. SAFETY: the path is
    // canonical: no symlink, no magic link is followed (a component swapped since the check
    // fails instead of leading tsyd elsewhere), and only a regular file is read.
    fd = native.openat2(Buffer.from(path, 'latin1'), fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW, 0, Resolve2.noSymlinks | Resolve2.noMagiclinks);
  } catch (err) {
    const code = (err as { errno?: number }).errno;
    // Gone: the kernel's own lookup fails as well. Anything else (EACCES of an execute-only
    // file, EWOULDBLOCK of a lease, ELOOP of a swapped component): unknown.
    if (code === os.errno.ENOENT) return null;
    return { unreadable: `cannot read its head to check a #! interpreter (errno ${code ?? '?'})` };
  }
  try {
    // Not a regular file: the kernel refuses to execute it (EACCES).
    if (!fstatSync(fd).isFile()) {
      native.close(fd);
      return null;
    }
  } catch {
    native.close(fd);
    return { unreadable: 'cannot stat it' };
  }
  const head = Buffer.alloc(BINPRM_BUF_SIZE);
  let n = 0;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } catch (err) {
    return { unreadable: `cannot read its head (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    native.close(fd);
  }
  if (n < 2 || head[0] !== 0x23 || head[1] !== 0x21) return null;
  let i = 2;
  while (i < n && (head[i] === 0x20 || head[i] === 0x09)) i++;
  let j = i;
  while (j < n && head[j] !== 0x20 && head[j] !== 0x09 && head[j] !== 0x0a && head[j] !== 0) j++;
  return j > i ? head.toString('latin1', i, j) : null;
}

function execute(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, flags: number): void {
  let rflags = flags & AT_SYMLINK_NOFOLLOW ? Resolve.noFollow : 0;
  if (flags & AT_EMPTY_PATH) rflags |= Resolve.emptyPath;
  let path = resolveVisible(ctx, sys, dirfdArg, pathArg, rflags);
  if (path === '') path = resolveFdArg(ctx, dirfdArg);
  if (path === null) return;
  ctx.fault(path);
  if (!ctx.allows('exec', sys, path)) return refusePath(ctx, path);
  const tid = ctx.slots[Slot.pid]!;
  for (let depth = 0; ; depth++) {
    const interp = interpreterOf(path);
    if (interp === null) break;
    if (typeof interp !== 'string') {
      ctx.log.warn({ ctx: 'access', cap: 'exec', path: fromBytes(path), sys, pid: ctx.slots[Slot.pid], why: interp.unreadable }, `denied exec of ${fromBytes(path)}: ${interp.unreadable}`);
      return refuse(EACCES);
    }
    if (depth === MAX_INTERPRETERS) return refuse(ELOOP);
    // The kernel resolves the interpreter in the program's view (relative to its cwd), as bytes.
    const canonical = native.canonicalize(tid, Buffer.from(interp, 'latin1'), AT_FDCWD, 0);
    if (typeof canonical === 'number') {
      // A missing interpreter fails in the kernel too (ENOENT): let it say so. SAFETY: any other
      // failure (a loop, tsyd's own /proc, a name too long) is refused: never continued unchecked.
      if (canonical === -ENOENT) break;
      return refuse(-canonical);
    }
    path = canonical.toString('latin1');
    if (!ctx.allows('exec', sys, path)) return refusePath(ctx, path);
  }
  native.respond(Answer.continue);
}

export function execHandlers(): Map<string, HandlerSpec> {
  const caps = ['exec', 'stat'] as const;
  return new Map<string, HandlerSpec>([
    ['execve', { caps, handle: (ctx) => execute(ctx, 'execve', CWD, 0, 0) }],
    ['execveat', { caps, handle: (ctx) => execute(ctx, 'execveat', 0, 1, arg32(ctx.slots, 4)) }],
  ]);
}
