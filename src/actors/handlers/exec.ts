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
import { arg32, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, CWD, refuse, refusePath, resolveVisible, resolveFdArg } from './common.js';

const { ELOOP, ENOENT } = os.errno;
/** The kernel reads at most this much of a script for its `#!` line (BINPRM_BUF_SIZE). */
const BINPRM_BUF_SIZE = 256;
/** The kernel gives up after this many nested interpreters. */
const MAX_INTERPRETERS = 4;
const AT_FDCWD = -100;
/** openat2 resolve flags (linux/openat2.h). */
const Resolve2 = { noMagiclinks: 0x02, noSymlinks: 0x04 } as const;

/** The interpreter named by a `#!` line of the file at `path`, or null (not a script). */
export function interpreterOf(path: string): string | null {
  let fd: number;
  try {
    // Non-blocking: a FIFO named as a program must not stall the emulator. SAFETY: the path is
    // canonical: no symlink, no magic link is followed (a component swapped since the check
    // fails instead of leading tsyd elsewhere), and only a regular file is read.
    fd = native.openat2(Buffer.from(path, 'latin1'), fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW, 0, Resolve2.noSymlinks | Resolve2.noMagiclinks);
  } catch {
    return null; // unreadable (e.g. execute-only): the kernel cannot run it as a script either
  }
  try {
    if (!fstatSync(fd).isFile()) {
      native.close(fd);
      return null;
    }
  } catch {
    native.close(fd);
    return null;
  }
  const head = Buffer.alloc(BINPRM_BUF_SIZE);
  let n = 0;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } catch {
    n = 0;
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
