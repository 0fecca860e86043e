// Exec means exec: mapping a file executable (mmap with PROT_EXEC, mprotect/pkey_mprotect
// adding PROT_EXEC to a file mapping) runs the file's code, as execve does — so the exec
// capability decides it, on the file's canonical path. Without it `ld.so ./denied` (the
// loader maps the binary itself) would run what execve may not. The filter stops only calls
// that can: anonymous and non-executable mappings never reach tsyd.
// Checked, then continued: tsyd cannot map memory into the program. SAFETY (accepted limit,
// README "Exec"): the program can swap the fd (dup2) or remap the range (MAP_FIXED) between the
// check and the kernel's call. Either way it needs the denied file open, that is readable: and
// readable code can always be copied into anonymous executable memory (JITs need it), so exec
// denial binds files a program runs as files; deny read as well for code that must never run.
import { readFileSync } from 'node:fs';
import { constants as os } from 'node:os';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { refusePath, takeFdArg } from './common.js';
import { args } from './request.js';

const { EACCES } = os.errno;

const MMAP = args('addr', 'len', 'prot', 'flags', 'fd', 'off');

/** mmap(addr, len, prot, flags, fd, off): only file mappings with PROT_EXEC stop here. */
function mapExecutable(ctx: EmulatorContext): void {
  const path = takeFdArg(ctx, MMAP.fd);
  if (path === null) return;
  if (!ctx.allows('exec', 'mmap', path)) return refusePath(ctx, path);
  ctx.req.continue();
}

/** A VMA of /proc/PID/maps: its range and the file behind it ('' for anonymous memory). */
interface Vma {
  start: bigint;
  end: bigint;
  file: string;
  inode: string;
  dev: string;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ (\S+) (\d+) *(.*)$/;

/** The mappings of a /proc/PID/maps text that overlap [start, end). */
export function mappingsIn(maps: string, start: bigint, end: bigint): Vma[] {
  const out: Vma[] = [];
  for (const line of maps.split('\n')) {
    const m = MAPS_LINE.exec(line);
    if (!m) continue;
    const lo = BigInt(`0x${m[1]}`);
    const hi = BigInt(`0x${m[2]}`);
    if (hi <= start || lo >= end) continue;
    out.push({ start: lo, end: hi, dev: m[3]!, inode: m[4]!, file: m[5]! });
  }
  return out;
}

/**
 * Shared anonymous memory (mmap MAP_SHARED|MAP_ANONYMOUS, SysV shm) lives on the kernel's
 * internal shmem mount (device 00:01) and /proc shows it as "/dev/zero (deleted)" or
 * "/SYSV<key> (deleted)": no file anyone can name, so it is anonymous memory here too.
 */
function isSharedAnonymous(vma: Vma): boolean {
  return vma.dev === '00:01' && (vma.file === '/dev/zero (deleted)' || /^\/SYSV[0-9a-f]{8} \(deleted\)$/.test(vma.file));
}

/** The name a mapping's file is decided by: the path, a deleted file by the path it had. */
function decidedName(file: string): string {
  const unescaped = file.replace(/\\012/g, '\n');
  return unescaped.endsWith(' (deleted)') && unescaped.startsWith('/') ? unescaped.slice(0, -' (deleted)'.length) : unescaped;
}

const MPROTECT = args('addr', 'len', 'prot');

/** mprotect/pkey_mprotect(addr, len, prot, ...) adding PROT_EXEC: each file mapping in the range is decided. */
function protectExecutable(sys: string) {
  return (ctx: EmulatorContext): void => {
    const { req } = ctx;
    const addr = req.big(MPROTECT.addr);
    const len = req.big(MPROTECT.len);
    let maps: string;
    try {
      maps = readFileSync(`/proc/${req.pid}/maps`, 'latin1');
    } catch {
      return req.fail(EACCES);
    }
    // SAFETY: the tid may have been reused if the caller died while we read.
    if (!req.idValid()) return;
    for (const vma of mappingsIn(maps, addr, addr + len)) {
      // Anonymous memory ([heap], [stack], JIT pages, a name of [brackets]) has no file.
      if (vma.inode === '0' || !vma.file.startsWith('/') || isSharedAnonymous(vma)) continue;
      const path = decidedName(vma.file);
      // maps was read as latin1: the path is already the byte string rules match.
      if (!ctx.allows('exec', sys, path)) return refusePath(ctx, path);
    }
    req.continue();
  };
}

export function memoryHandlers(): Map<string, HandlerSpec> {
  const caps = ['exec'] as const;
  return new Map<string, HandlerSpec>([
    ['mmap', { caps, handle: mapExecutable }],
    ['mprotect', { caps, handle: protectExecutable('mprotect') }],
    ['pkey_mprotect', { caps, handle: protectExecutable('pkey_mprotect') }],
  ]);
}
