// The request an emulator handles now: the call's number, its caller and raw arguments (the
// words the addon's recv() wrote into the emulator's slot), and the addon's operations on it as
// methods. Handlers name arguments by position descriptors (`args()`), never by bare indexes,
// and read no slot word themselves. One Request per emulator thread, begun anew for each
// notification: the hot path allocates nothing for it.
// The addon acts only on the notification this object stands for (the id words of the slot):
// an op after the answer, or on another request, throws after answering EACCES where it can
// (addon/common.h CurrentRequest), which the emulator logs as a handler failure.
import { Answer, DECIDE_AS_OFFSET, LEFT_OFFSET, native } from '../native/addon.js';
import { Slot } from '../shared/slot.js';
import { NetRequest } from './net-request.js';

/** No dirfd argument: a path is relative to the cwd (and resolveFd() names the cwd). */
export const CWD = -1;

/**
 * The positions of a call's arguments by name, given once per call:
 * `args('dirfd', 'path', 'flags', 'mode')` is openat's `{ dirfd: 0, path: 1, flags: 2, mode: 3 }`.
 */
export function args<const N extends readonly string[]>(...names: N): { readonly [K in N[number]]: number } {
  const positions: Record<string, number> = {};
  names.forEach((name, i) => (positions[name] = i));
  return Object.freeze(positions) as { readonly [K in N[number]]: number };
}

/** A path argument and the dirfd argument it is relative to (none: the cwd). */
export interface PathArg {
  readonly path: number;
  readonly dirfd?: number;
}

export class Request {
  /** The system call number. */
  nr = 0;
  /** The caller's thread id (in tsyd's pid namespace). */
  pid = 0;
  /** AUDIT_ARCH_* of the call (its ABI: see abi.ts). */
  arch = 0;
  /** The socket operations on this request. */
  readonly net: NetRequest;

  constructor(
    private readonly slot: Int32Array,
    private readonly pathBuf: Buffer,
  ) {
    this.net = new NetRequest(slot, pathBuf);
  }

  /** Takes up the notification recv() just wrote into the slot. */
  begin(): void {
    this.nr = this.slot[Slot.nr]!;
    this.pid = this.slot[Slot.pid]!;
    this.arch = this.slot[Slot.arch]!;
  }

  // --- arguments ---

  /** Argument i as a signed 32-bit int (fds, flags, modes). */
  int(i: number): number {
    return this.slot[Slot.args + 2 * i]!;
  }

  /** Argument i as an unsigned 32-bit int. */
  uint(i: number): number {
    return this.slot[Slot.args + 2 * i]! >>> 0;
  }

  /** Argument i as a 64-bit address (exact below 2^53, which user addresses are). */
  address(i: number): number {
    return (this.slot[Slot.args + 2 * i + 1]! >>> 0) * 2 ** 32 + (this.slot[Slot.args + 2 * i]! >>> 0);
  }

  /** Argument i as an unsigned 64-bit BigInt. */
  big(i: number): bigint {
    return (BigInt(this.slot[Slot.args + 2 * i + 1]! >>> 0) << 32n) | BigInt(this.slot[Slot.args + 2 * i]! >>> 0);
  }

  /** Argument i is a NULL pointer (all 64 bits zero). */
  isNull(i: number): boolean {
    return this.slot[Slot.args + 2 * i] === 0 && this.slot[Slot.args + 2 * i + 1] === 0;
  }

  /** `len` bytes of the caller's memory at pointer argument i, or null when unreadable. Check idValid() after. */
  readMemory(i: number, len: number): Buffer | null {
    return native.readMemory(this.pid, this.address(i), len);
  }

  // --- answers ---

  /** Lets the kernel run the call (CONTINUE). SAFETY: only where no decision depends on memory the program can change. */
  continue(): void {
    native.respond(Answer.continue);
  }

  /** Answers -errno. */
  fail(errno: number): void {
    native.respond(Answer.error, errno);
  }

  /** Answers the value `value`. */
  succeed(value: number): void {
    native.respond(Answer.value, value);
  }

  /** Whether the caller still waits for the answer (its tid still names it). */
  idValid(): boolean {
    return native.idValid();
  }

  // --- paths (into the path buffer) ---

  /** Canonicalises path argument `at` (relative to its dirfd) into the path buffer: its length, or -errno (Resolve flags). */
  resolvePath(at: PathArg, flags: number): number {
    return native.resolvePath(at.dirfd ?? CWD, at.path, flags);
  }

  /** The path of the caller's fd argument `fdArg` (CWD: its cwd): length, or -errno. */
  resolveFd(fdArg: number): number {
    return native.resolveFd(fdArg);
  }

  /** Copies the caller's fd argument `fdArg` for this request (ops then act on the copy): the copy's path length, or -errno. */
  takeFd(fdArg: number): number {
    return native.takeFd(fdArg);
  }

  /** The raw path argument (the /dev/tsyd control route only, never a decision): length, or -errno. */
  readPathArg(pathArg: number): number {
    return native.readPathArg(pathArg);
  }

  /** Keeps the path just resolved as the first path of a two-path call (link, rename). */
  savePath(): void {
    native.savePath();
  }

  /** The first `len` bytes of the path buffer as a byte string. */
  pathText(len: number): string {
    return this.pathBuf.toString('latin1', 0, len);
  }

  /** The path a checked magic link to a deleted file is decided by (the path it had), or null. */
  decideAs(): string | null {
    const len = this.slot[Slot.pathDecideLen]!;
    return len > 0 ? this.pathBuf.toString('latin1', DECIDE_AS_OFFSET, DECIDE_AS_OFFSET + len) : null;
  }

  /** The directories the last resolution left through "..", and the symlinks it followed (LEFT_LINK first); null: none. */
  leftPaths(): string[] | null {
    const len = this.slot[Slot.pathLeftLen]!;
    return len > 0 ? this.pathBuf.toString('latin1', LEFT_OFFSET, LEFT_OFFSET + len).split('\0') : null;
  }

  /** After a failed resolution: the path the walk stopped at and its part that exists, or null. */
  failedAt(): { at: string; reached: string } | null {
    const len = this.slot[Slot.pathFailLen]!;
    if (len <= 0) return null;
    const at = this.pathBuf.toString('latin1', 0, len);
    return { at, reached: at.slice(0, this.slot[Slot.pathFailOut]!) };
  }

  /** The path resolved is a /proc magic link to the caller's own fd (an object without a path). */
  get magic(): boolean {
    return this.slot[Slot.pathMagic] === 1;
  }

  /** What the last component of the path resolved is (common.ts Last). */
  get last(): number {
    return this.slot[Slot.pathMissing]!;
  }

  /** The empty path named the dirfd, and tsyd took a copy of it (ops act on the copy). */
  get taken(): boolean {
    return this.slot[Slot.pathTaken] === 1;
  }

  /** The path is below /proc/<pid> of a process outside the sandbox. */
  get foreignProc(): boolean {
    return this.slot[Slot.pathForeignProc] === 1;
  }

  /** resolvePath(slashEntry): the EntryBits of the path's trailing slash and last component. */
  get slash(): number {
    return this.slot[Slot.pathSlash]!;
  }

  // --- file system ops on the checked path(s); each answers ---

  /** Performs `op` (FsOp; the rest: argument positions or flags, -1 none: addon/fsops.cc) and answers: result, -ESRCH, or FS_PENDING. */
  fsOp(op: number, a = -1, b = -1, c = -1, d = -1): number {
    return native.fsOp(op, a, b, c, d);
  }

  /** Answers a directory's stat held back by fsOp (FS_PENDING), `hidden` subdirectories (-1: unknown) out of its nlink. */
  finishStat(hidden: number): number {
    return native.finishStat(hidden);
  }

  /** The held-back directory's subdirectory names, NUL-terminated one after the other, or -errno. */
  pendingSubdirs(): Buffer | number {
    return native.pendingSubdirs();
  }

  /** "dev:ino:nlink:mtime:ctime" of the held-back directory ('' when unknown). */
  pendingIdentity(): string {
    return native.pendingIdentity();
  }

  /** getdents64 on tsyd's copy of fd argument `fdArg`, at most argument `countArg` bytes: the records, or -errno. */
  readDirectory(fdArg: number, countArg: number): Buffer | number {
    return native.readDirectory(fdArg, countArg);
  }

  /** Writes `data` at pointer argument `bufArg` and answers its length (or the error). */
  answerBytes(bufArg: number, data: Buffer): number {
    return native.answerBytes(bufArg, data);
  }

  /** Opens the checked path for the caller and injects the fd (answers): fd, -errno, OFFLOADED... */
  openInject(flags: number, mode: number): number {
    return native.openInject(flags, mode);
  }

  /** Reads openat2's struct open_how (argument howArg, its size at sizeArg): 0, or -errno. */
  readOpenHow(howArg: number, sizeArg: number): number {
    return native.readOpenHow(howArg, sizeArg);
  }

  /** readOpenHow()'s flags (low 32 bits: every flag open knows). */
  get howFlags(): number {
    return this.slot[Slot.howFlagsLo]!;
  }

  /** readOpenHow()'s mode. */
  get howMode(): number {
    return this.slot[Slot.howMode]!;
  }

  /** readOpenHow()'s resolve (low 32 bits: every RESOLVE_ flag). */
  get howResolve(): number {
    return this.slot[Slot.howResolveLo]!;
  }

  // --- process ops on tsyd's copy of the caller's fd (takeFd); each answers ---

  /** The pid tsyd's copy of the fd signals (a pidfd's, -1: ended; a /proc/<pid> directory's), -EBADF otherwise. */
  takenFdPid(): number {
    return native.takenFdPid();
  }

  /** pidfd_send_signal on the copy with the siginfo at argument infoArg (may be NULL). */
  pidfdSignalTaken(sig: number, infoArg: number, flags: number): number {
    return native.pidfdSignalTaken(sig, infoArg, flags);
  }

  /** F_SETOWN_EX on the copy with the checked owner. */
  fcntlOwnerTaken(type: number, pid: number): number {
    return native.fcntlOwnerTaken(type, pid);
  }

  /** ioctl(request) on the copy with tsyd's copy of its argument. */
  ioctlTaken(request: number, data: Buffer): number {
    return native.ioctlTaken(request, data);
  }

  /** RLIMIT_CORE of `pid` set to 0/0, the old limit written at pointer argument oldArg (-1: none). */
  noCoreLimit(pid: number, oldArg: number): number {
    return native.noCoreLimit(pid, oldArg);
  }
}
