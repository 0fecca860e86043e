// The only importer of the compiled addon: loads it, types it, and maps its errors.
import { createRequire } from 'node:module';
import { SystemCallError, TsydError } from '../errors.js';
import { layoutMismatches } from '../shared/slot.js';

/** The longest canonical path, its NUL included (addon/common.h kMaxPathLen): longer than PATH_MAX. */
export const MAX_PATH_LEN = 32 * 1024;
/** Where a deleted file's former path is put in the path buffer (Slot.pathDecideLen). */
export const DECIDE_AS_OFFSET = MAX_PATH_LEN;
/** Where the directories a resolution left through ".." are put in the path buffer (Slot.pathLeftLen). */
export const LEFT_OFFSET = 2 * MAX_PATH_LEN;
/** Marks a symlink followed in the pathLeftLen list (addon/common.h kLeftLink). */
export const LEFT_LINK = '\x01';
/** Where sockInfo() puts the socket's own address bytes in the path buffer (addon/net.cc kLocalOff). */
export const LOCAL_ADDR_OFFSET = 4 * MAX_PATH_LEN;
export const PATH_BUF_SIZE = LOCAL_ADDR_OFFSET + 4096;

/** Flags of resolvePath()/canonicalize() (addon/path.cc ResolveFlag). */
export const Resolve = {
  noFollow: 1,
  beneath: 2,
  inRoot: 4,
  noSymlinks: 8,
  noMagiclinks: 16,
  /** AT_EMPTY_PATH: an empty path names the dirfd itself; resolvePath() then returns 0. */
  emptyPath: 32,
  noXdev: 64,
  /** With emptyPath: an empty path takes a copy of the dirfd (cwd for AT_FDCWD); its path is returned (Slot.pathTaken). */
  takeEmpty: 128,
  /** With emptyPath: a NULL path pointer is empty too (newfstatat, statx: Linux 6.11); NULL is passed on to the kernel. */
  nullEmpty: 256,
  /**
   * A trailing slash does not make the last component followed (nor must it be a directory): the
   * call makes or removes that entry (mkdir, unlink, rename, open O_CREAT); Slot.pathSlash tells.
   */
  slashEntry: 512,
  /** The control route is open (lock:off): a raw path naming /dev/tsyd(/...) returns CONTROL_ROUTE_HIT, unresolved. */
  controlRoute: 1024,
} as const;

/** resolvePath(Resolve.controlRoute)'s answer for a raw path that names the control route (addon/path.cc). */
export const CONTROL_ROUTE_HIT = -4096;

/** Bits of Slot.pathSlash after resolvePath(Resolve.slashEntry). */
export const EntryBits = { endsInSlash: 1, isDir: 2 } as const;

/** fsOp() operations (addon/fsops.cc FsOp); the numbers after `op` are request argument indexes. */
export const FsOp = {
  stat: 0,
  statx: 1,
  access: 2,
  readlink: 3,
  truncate: 4,
  mkdir: 5,
  mknod: 6,
  symlink: 7,
  unlink: 8,
  link: 9,
  rename: 10,
  chmod: 11,
  chown: 12,
  utimes: 13,
  setxattr: 14,
  removexattr: 15,
  statfs: 16,
  getxattr: 17,
  listxattr: 18,
  inotifyAddWatch: 19,
  nameToHandle: 20,
} as const;

/** fsOp(stat|statx) with "hold a directory back": the result is not answered yet (finishStat()). */
export const FS_PENDING = 0x7ffffff0;
/** fsOp(FsOp.stat, …)'s flags argument for raw fstat(fd): the fd itself (addon kStatFdItself). */
export const STAT_FD_ITSELF = -2;

/** What readSockaddr()/readMsgName() found (addon/net.cc SockKind). */
export const SockKind = {
  none: 0,
  inet: 1,
  unixPath: 2,
  abstract: 3,
  unnamed: 4,
  unspec: 5,
  netlink: 6,
  other: 7,
  short: 8,
} as const;

/** netOp() and readSockaddr() operations (addon/net.cc NetOp). */
export const NetOp = { connect: 0, bind: 1, sendto: 2, sendmsg: 3, listen: 4 } as const;

/** netOp()/netSettle() flags (addon/net.cc NetFlag). */
export const NetFlag = { noAnswer: 1, bindLoopback: 2, postCheck: 4 } as const;

/** netOp(): the socket's own address changed during the call; nothing answered, call netSettle(). */
export const NET_RECHECK = -100000;
/** readControl() / ipOptions(): a control message or IP option that routes data elsewhere (not answered). */
export const NET_REFUSED_ROUTE = 1;

/** Results of ops that may hand their call to a job thread (addon/offload.cc). */
export const OFFLOADED = -1000;
export const OFFLOAD_FULL = -1001;
/** The data the waiting calls hold would pass MAX_WAITING_KIB: answered EAGAIN. */
export const OFFLOAD_MEMORY = -1003;
/** What all waiting calls of a sandbox may hold of the program's data (KiB; addon/common.h kMaxWaitingKib). */
export const MAX_WAITING_KIB = 64 * 1024;
/** openInject(): a block device, never opened for the program (answered EACCES). */
export const REFUSED_BLOCK_DEVICE = -1002;
/** fsOp(inotifyAddWatch, …, 1): a directory whose entries may be hidden, not watched (answered EACCES). */
export const REFUSED_DIRECTORY_WATCH = -1010;

/** recv() results besides -errno. */
export const Recv = { none: 0, got: 1, woken: 2, hangup: 3, gotExhausted: 4 } as const;

/** respond() kinds. */
export const Answer = { continue: 0, error: 1, value: 2 } as const;

export interface SpawnRequest {
  file: string;
  argv: string[];
  env: string[];
  cwd?: string;
  /** fds for the program's 0, 1, 2; -1 inherits tsyd's. */
  stdio: [number, number, number];
  filter: Buffer;
  /** Capabilities the program loses for good (src/confine/capabilities.ts). */
  dropCapabilities?: number[];
  /** When to hand the controlling terminal to the program's group, if tsyd's group has it: 0 never, 1 always, 2 when the program's stdin is that terminal. */
  foreground?: 0 | 1 | 2;
  /** The value the filter uses for the reaper's pid (replaced by it in the program). */
  reaperPlaceholder?: number;
}

export interface Spawned {
  pid: number;
  pidfd: number;
  /** The program's parent: a child subreaper that reports the program's end, stops, continues. */
  reaperPid: number;
  reaperPidfd: number;
  /** The reaper's reports (watchChild reads them) and tsyd's release (releaseReaper). */
  controlFd: number;
  notifyFd: number;
  statusFd: number;
}

/** watchChild events. */
export const ChildEvent = { exec: 0, ended: 1, stopped: 2, continued: 3, reaperEnded: 4 } as const;

/** A buffer to encrypt onto `name` in dirFd (tmpFd: an O_TMPFILE beside it), or why none could be made. */
export type CryptWriteBack = { name: string; handle: number; plainFd: number; dirFd: number; tmpFd: number; seq: number; err?: undefined; lost?: undefined } | { name: string; err: number; lost?: boolean; stage?: string; stray?: string };

/** cryptCollect()'s modes (addon/crypt-files.cc). */
export const CryptCollect = { due: 0, pruneIdle: 1, all: 2, forget: 3 } as const;

export interface Addon {
  arch: 'x86_64' | 'aarch64';
  /** AUDIT_ARCH_* of the native ABI: the only one tsyd run's filter lets reach a handler (addon/filter.cc kArch). */
  auditArch: number;
  syscalls: Record<string, number>;
  buildFilter(notify: number[], deny: Array<[number, number]>, fallbackErrno?: number): Buffer;
  spawn(req: SpawnRequest): Spawned;
  /** Tells the reaper that the program's leftovers are gone: it exits. 0 or -errno. */
  releaseReaper(controlFd: number): number;
  /** The addon's slot table (addon/common.h SlotWord) by the names of src/shared/slot.ts, and `words`. */
  slotLayout: Readonly<Record<string, number>>;
  /** `slot`: the emulator's slot (src/shared/slot.ts); `counts`: the pool's control words; the addon counts busy from recv to the answer. */
  bindBuffers(slot: Int32Array, path: Uint8Array, counts?: Int32Array): void;
  /** The current request stops counting as busy (no-op if its answer already did). */
  endRequest(): void;
  recv(notifyFd: number, wakeFd: number, timeoutMs: number): number;
  respond(kind: number, value?: number): number;
  idValid(): boolean;
  setNotifyFlags(notifyFd: number, flags: number): void;
  /** This thread's requests come from below this reaper: its /proc entries are refused like tsyd's. */
  setReaperPid(pid: number): void;
  /**
   * SafeSetID: this thread takes the credentials of program thread `tid` when they differ from
   * tsyd's (1), or keeps its own (0); -errno when it cannot (ESRCH: gone; EPERM). endRequest()
   * returns it to tsyd's credentials (or tsyd exits 101).
   */
  followCaller(tid: number): number;
  /** Test only (TSYD_FAULT=setid-return-fails): the return to tsyd's credentials counts as failed (exit 101). */
  setFailCredentialReturn(on: boolean): void;
  /** Removes capabilities from this thread's effective set (CAP_SYS_PTRACE stays permitted, raised only towards the caller). */
  lowerThreadCapabilities(caps: number[]): void;
  readMemory(tid: number, addr: number, len: number): Buffer | null;
  resolvePath(dirfdArg: number, pathArg: number, flags: number): number;
  canonicalize(tid: number, path: string, dirfd?: number, flags?: number): string | number;
  /** Raw bytes in, raw bytes out (no UTF-8 round trip). */
  canonicalize(tid: number, path: Buffer, dirfd?: number, flags?: number): Buffer | number;
  /** The path of the program's fd (or cwd) into the path buffer; pathless objects as /proc/<tgid>/fd/N (magic). */
  resolveFd(fdArg: number): number;
  /** The raw path argument into the path buffer (the /dev/tsyd control route only): length or -errno. */
  readPathArg(pathArg: number): number;
  /** Keeps the path just resolved as the first path of a two-path call (link, rename). */
  savePath(): void;
  /** Performs a file system op on the checked path(s) and answers the request: result or -ESRCH (or FS_PENDING). */
  fsOp(op: number, a?: number, b?: number, c?: number, d?: number): number;
  /** Answers a directory's stat held back by fsOp (FS_PENDING), `hidden` subdirectories (-1: unknown) out of its nlink. */
  finishStat(hidden: number): number;
  /** The names of the held-back directory's subdirectories, NUL-terminated one after the other, or -errno. */
  pendingSubdirs(): Buffer | number;
  /** "dev:ino:nlink:mtime:ctime" of the held-back directory ('' when the result lacks one of them). */
  pendingIdentity(): string;
  /** Copies the program's fd (pidfd_getfd) for this request and writes the copy's path into the path buffer. */
  takeFd(fdArg: number): number;
  /** getdents64 on a copy of the program's fd (offset shared): linux_dirent64 records, or -errno. */
  readDirectory(fdArg: number, countArg: number): Buffer | number;
  /** Writes `data` into the program at argument bufArg and answers with its length (or the error). */
  answerBytes(bufArg: number, data: Buffer): number;
  /** Reads and classifies a sockaddr argument (op: NetOp): a SockKind, or -errno. */
  readSockaddr(addrArg: number, lenArg: number, op: number): number;
  /**
   * The IPC sockets of this process (dev, ino pairs; none: no argument): a connect or send whose
   * UNIX path opens to one of these identities (st_dev, st_ino) is refused with EACCES.
   */
  guardSocket(...ids: bigint[]): void;
  /** SO_PEERCRED's uid of a connected UNIX socket, or -errno (the IPC worker's clients). */
  peerUid(fd: number): number;
  /** SO_PEERCRED's pid of a connected UNIX socket (a client's: the listener's), 0 if none, or -errno. */
  peerPid(fd: number): number;
  /**
   * Takes up to `max` connections queued on the listening socket `listenFd`: [fd, uid, ...] with
   * each one's SO_PEERCRED uid (-errno when unreadable); empty when none waits.
   */
  acceptPeers(listenFd: number, max: number): Int32Array;
  /** A UNIX stream socket bound to exactly `address`'s bytes (a path; or a NUL and an abstract name), a path's file created with `mode`: fd or -errno. */
  bindUnixSocket(address: Buffer, mode: number): number;
  /** The same for sendmsg's msg_name (index -1) or sendmmsg's entry `index`: a SockKind, or -errno. */
  readMsgName(msgArg: number, index: number): number;
  /**
   * Performs connect/bind/sendto/sendmsg/listen on tsyd's copy of the socket with the checked
   * address (and control data) and answers (unless NetFlag.noAnswer): the result, -ESRCH when
   * the caller is gone, or NET_RECHECK (not answered) when the socket got bound during the call.
   */
  netOp(op: number, flags?: number): number;
  /** Ends a NET_RECHECK: not allowed → the kernel's bind is undone (listen: EACCES). Answers unless noAnswer. */
  netSettle(allowed: boolean, flags?: number): number;
  /** SO_TYPE of the program's socket (arg 0, tsyd's copy kept for the request) and its own address in the local slots, or -errno. */
  sockInfo(): number;
  /**
   * 1 when the kernel may perform the current request itself (CONTINUE): the caller is the
   * sandbox's only task, its socket (arg 0) is the one tsyd looked at, and (addrArg ≥ 0) the
   * address readSockaddr() read at args[addrArg] is unchanged and cannot change (addon/alone.cc).
   * 0 when not, -ESRCH when the caller is gone.
   */
  callerAlone(addrArg: number): number;
  /**
   * The user namespace (mapping only tsyd's uid and gid) in which an unprivileged tsyd binds a
   * UNIX socket under the program's own name (addon/unixbind.cc): made on the first call, which
   * must come before setDumpable(false). Its fd, -EEXIST when tsyd needs none, else -errno.
   */
  makeBindUserNs(): number;
  /** Reads, checks and copies the control data of the last readMsgName(): 0, -errno or NET_REFUSED_ROUTE. */
  readControl(): number;
  /** setsockopt(IP_OPTIONS) performed with the checked options and answered, or NET_REFUSED_ROUTE (not answered). */
  ipOptions(): number;
  readOpenHow(howArg: number, sizeArg: number): number;
  /** The pid tsyd's copy of the program's fd (takeFd) signals: a pidfd's (-1: ended), a /proc/<pid> directory's; -EBADF otherwise. */
  takenFdPid(): number;
  /** pidfd_send_signal on tsyd's copy, with the program's siginfo (argument infoArg, may be NULL); answers. */
  pidfdSignalTaken(sig: number, infoArg: number, flags: number): number;
  /** F_SETOWN_EX on tsyd's copy with the checked owner; answers. */
  fcntlOwnerTaken(type: number, pid: number): number;
  /** ioctl(request) on tsyd's copy with tsyd's copy of the argument; answers. */
  ioctlTaken(request: number, data: Buffer): number;
  /** RLIMIT_CORE of `pid` set to 0/0, the old limit written to argument oldArg (-1: none); answers. */
  noCoreLimit(pid: number, oldArg: number): number;
  /** The fd number in the program, -errno, OFFLOADED (a job thread answers) or OFFLOAD_FULL (answered EAGAIN). */
  openInject(flags: number, mode: number): number;
  /** The job table of this sandbox (WorkerData.jobs()), for calls run on job threads. */
  bindJobs(table: Int32Array): void;
  /** This emulator has served its sandbox: fd copies, socket state, job queue and cached pidfds are dropped (addon/addon.cc). */
  leaveSandbox(): void;
  /** Test only (TSYD_FAULT=inline-blocking): calls that may block stay on this emulator thread. */
  setInlineBlocking(on: boolean): void;
  /** Test only (TSYD_FAULT=slow-job-pickup): idle job threads take a job handed to them 200 ms late. */
  setSlowJobPickup(on: boolean): void;
  /** openat2 of an absolute path; one longer than PATH_MAX is reached in steps, none following a symlink. */
  openat2(path: string | Buffer, flags: number, mode?: number, resolve?: number): number;
  /** kind: ChildEvent; exec: a = errno (0: ok), b = stage; ended/reaperEnded: a = code or -1, b = signal; stopped: a = signal. */
  watchChild(reaperPidfd: number, statusFd: number, controlFd: number, cb: (kind: number, a: number, b: number, syscall: string) => void): void;
  pidfdSendSignal(pidfd: number, signal: number): number;
  pidfdOpen(pid: number): number;
  /**
   * If the controlling terminal's foreground group is `from` (0: ours), makes it `to` (0: ours):
   * 1 done, 0 not ours to move (or no terminal), -errno.
   */
  terminalForeground(from: number, to: number): number;
  eventfd(): number;
  eventfdWrite(fd: number): number;
  close(fd: number): number;
  gettid(): number;
  tgkill(tgid: number, tid: number, signal: number): number;
  unshare(flags: number): void;
  umask(mask: number): number;
  setDumpable(on: boolean): void;
  closeRange(first: number, last: number, flags?: number): void;
  pipe2(): [number, number];
  installInterruptHandler(): void;
  // Crypt (addon/crypt.cc, the format: docs/crypt-format.md). Handles are process-wide.
  /** Derives the keys of a 32-byte key (HKDF-SHA256) and wipes `key` (zero-filled): a handle ≥ 0, or -errno. */
  cryptKeyLoad(key: Buffer): number;
  /** Forgets a key (its derived keys are wiped once no operation uses them): 0 or -EBADF. */
  cryptKeyDrop(handle: number): number;
  /** The whole crypt file srcFd (pread) → plaintext in dstFd (offset 0, truncated): its size, -EBADMSG (bad magic, version, tag, truncation) or -errno. */
  cryptDecrypt(handle: number, srcFd: number, dstFd: number): number;
  /** The whole plaintext srcFd (pread) → dstFd as the format, fresh random IV: the bytes written or -errno. */
  cryptEncrypt(handle: number, srcFd: number, dstFd: number): number;
  /** `tsyd crypt`: a fresh memfd (close-on-exec), or -errno. */
  cryptMemfd(): number;
  /** `tsyd crypt`: all of srcFd (from offset 0; a pipe to its end) to dstFd at its position, in the kernel: bytes copied or -errno. */
  cryptCopy(srcFd: number, dstFd: number): number;
  /**
   * Starts tsyd_aes (addon/aes.cc), one per fd table (the monitor's: per sandbox), confined by
   * `filter` before it reports itself started: 0, or -errno (EBUSY: one runs; a failed load's errno).
   */
  aesStart(options?: AesStartOptions): number;
  /**
   * Queues a write-back: its id (≥ 0; the worker then owns the job's fds) or -errno (ESRCH: no
   * worker in this fd table). SAFETY: open the job's fds natively, not with fs.open in a Worker
   * (Node closes a Worker's fs.open fds when it exits: the number could name another file by
   * the time the job runs).
   */
  aesSubmit(job: AesJob): number;
  /** Jobs queued or running in this fd table's worker. */
  aesPending(): number;
  /** The plaintext bytes the jobs queued or running hold (their size when submitted). */
  aesPendingBytes(): number;
  /** True once no more than `atMost` (default 0) jobs are queued or running, holding no more than `atMostBytes` (or only the running one is left); false after timeoutMs. */
  aesDrain(timeoutMs: number, atMost?: number, atMostBytes?: number): boolean;
  /** Writes every queued job, then joins the thread: its last events, or undefined when none runs. */
  aesStop(): AesReport | undefined;
  /** What the worker did since the last call, or undefined when none runs. */
  aesEvents(): AesReport | undefined;
  setThreadName(name: string): void;
  /** how: 0 block, 1 unblock; the calling thread only. */
  threadSignalMask(how: 0 | 1, signals: number[]): void;
  loadThreadFilter(bpf: Uint8Array): void;
  /** -errno of execve("", NULL, NULL): -ENOENT allowed, -EPERM refused by a filter. */
  probeExecve(): number;
  waitReadable(fd: number, timeoutMs: number): number;
  writeByte(fd: number, byte: number): number;
  /** The byte, -1 at EOF, or -1000-errno. */
  readByte(fd: number): number;
  idValidFor(notifyFd: number, idLo: number, idHi: number): boolean;
  /** Creates the interrupter thread tsyd_int (addon/interrupter.cc), one per thread that asks. */
  startInterrupter(options: InterrupterOptions): void;
  /** What the interrupter did since the last call, or undefined when none runs. */
  interrupterEvents(): InterrupterReport | undefined;
  /** Ends and joins the interrupter thread: its last events, or undefined when none runs. */
  stopInterrupter(): InterrupterReport | undefined;
  respondFor(notifyFd: number, idLo: number, idHi: number, errno: number): number;
  exitNow(code: number): never;
  // Crypt sandboxing's buffers (addon/crypt-files.cc): one registry per process.
  /**
   * Opens the checked path (the path buffer) as a crypt file for the current request and injects
   * its plaintext buffer: the program's fd, CRYPT_NOT_REGULAR (nothing answered: not a regular
   * file), or -errno (answered; -EBADMSG: the file does not verify).
   */
  cryptOpenInject(handle: number, flags: number, mode: number, tmpDir: string | undefined): number;
  /** The write-backs whose buffers' last writer went (CryptCollect: also idle snapshots dropped, or at the end every buffer). */
  cryptCollect(how: number, handle?: number): CryptWriteBack[];
  /** A write-back done on this thread (encrypt, fsync, link, rename; the job's fds closed): 0 or -errno. */
  cryptWriteBackNow(job: CryptWriteBack & { err?: undefined }): number;
  /**
   * Before the name `path` goes or another file takes it: its buffers are forgotten (0), or
   * -EBUSY (renaming) while the program writes it; `unlinking`: its writers' buffer is dropped.
   */
  cryptForget(handle: number, path: Buffer, unlinking: boolean): number;
  /** Why this thread's last crypt open was refused for a write-back that could not land (then forgotten), or undefined (addon/crypt-writeback-check.cc). */
  cryptRefusal(): string | undefined;
  /** truncate(path, args[lengthArg]) of the checked crypt file, through its buffer: 0 or -errno (answered). */
  cryptTruncate(handle: number, lengthArg: number, tmpDir: string | undefined): number;
  /** A copy of the committed buffer of the crypt file whose stat is held back (FS_PENDING), -EISDIR (not a file), or -errno. */
  cryptStatBuffer(handle: number, tmpDir: string | undefined): number;
  /** Answers a regular file's stat held back with the identity and size of tsyd's `fd` (unchanged: fd < 0). */
  finishStatAs(fd: number): number;
  /** What the registry holds now. */
  cryptBuffers(): { entries: number; live: number; writers: number; retrying: number };
  /** How many buffers' names (their crypt file's identity) the registry holds: those of buffers still open somewhere. */
  cryptBufferNames(): number;
  /** The jobs cryptCollect returned not yet handed to the AES worker (`done`: one more was). */
  cryptHanded(done?: boolean): number;
  /** A write-back may be due: a close event not yet read, a job not yet handed on (addon/crypt-files.cc). */
  cryptDue(): boolean;
  CRYPT_NOT_REGULAR: number;
  /** tsyd agent (addon/agent.cc): [n, fd...] of one non-blocking recvmsg into buf, or [-errno]. */
  recvFds(fd: number, buf: Buffer): number[];
  /** 1 when the fd reports POLLHUP/POLLERR now (a listener no process uses any more), 0, -errno. */
  hungUp(fd: number): number;
  /** This thread decides in a container's view (its root fd; its own pid namespace); -1: tsyd's. */
  setViewRoot(fd: number, ownPidNs: boolean): void;
  /** "DEV:INO" of /proc/PID/exe (CAP_SYS_PTRACE raised for it when needed), or -errno. */
  exeIdentity(pid: number): string | number;
  /** "DEV:INO" of /proc/PID/ENTRY (exe or root; ns/pid: its link, "pid:[INO]"; CAP_SYS_PTRACE raised for it when needed), or -errno. */
  procIdentity(pid: number, entry: 'exe' | 'root' | 'ns/pid'): string | number;
  /** The uid owning the user namespace of PID (NS_GET_OWNER_UID), or -errno. */
  userNsOwner(pid: number): number;
  /** st_mode of a canonical path in this thread's view, or -errno. */
  statPathMode(path: Buffer, follow: boolean): number;
}

/** aesStart(): the worker's own seccomp filter (absent: unconfined, TSYD_SKIP_SCMP); probe: test only. */
export interface AesStartOptions {
  filter?: Uint8Array;
  /** Test only: once confined, the thread tries an open and a socket and reports their errnos (op 'probe'). */
  probe?: boolean;
  /** Test only (TSYD_FAULT=slow-aes): each job starts this many ms late. */
  slowJobMs?: number;
}

/**
 * One write-back: plainFd (memfd or O_TMPFILE: the plaintext) is encrypted into tmpFd (an
 * O_TMPFILE the caller opened in dirFd: the worker opens nothing), fsynced, linked into dirFd
 * under a temporary name and renamed onto `name` (one entry name, no '/').
 */
export interface AesJob {
  handle: number;
  plainFd: number;
  dirFd: number;
  name: string;
  tmpFd: number;
  /** cryptCollect's order of the jobs: a job of the same file still queued is replaced by the newer of the two (absent: never replaced). */
  seq?: number;
}

export type AesEvent =
  | { op: 'written'; id: number; name: string; bytes: number }
  | { op: 'failed'; id: number; name: string; errno: number; stage: 'encrypt' | 'fsync' | 'link' | 'rename' | 'fsync_dir' }
  | { op: 'probe'; openErrno: number; socketErrno: number };

/** What tsyd_aes did: its filter's load errno (0: loaded or none), its write-backs. */
export interface AesReport {
  confineErrno: number;
  events: AesEvent[];
  /** Events past the 1024 kept between two drains. */
  dropped: number;
}

/** The interrupter thread's words and duties (word indexes in `words`, the whole shared buffer). */
export interface InterrupterOptions {
  words: Int32Array;
  shouldExitWord: number;
  tidWord: number;
  slotsAt: number;
  maxEmulators: number;
  jobsAt: number;
  maxJobs: number;
  notifyFd: number;
  /** Written 42 once the thread is confined, then closed (the thread owns it once started). */
  handshakeFd: number;
  /** Its own seccomp filter, loaded before the handshake; absent: unconfined (TSYD_SKIP_SCMP). */
  filter?: Uint8Array;
  cycleMs: number;
  /** The emulator machine's code for `busy`. */
  busyState: number;
}

/** One SIGALRM of the interrupter's: to the emulator of slot / the job thread of entry `index`. */
export interface InterrupterEvent {
  op: 'free_stuck_receiver' | 'interrupt_emulator' | 'interrupt_job';
  index: number;
  thread: number;
  /** The program's thread whose call was cut short (0 for a stuck receiver). */
  pid: number;
  why: string;
}

/** What the interrupter did: its filter's load errno (0: loaded or none), its SIGALRMs. */
export interface InterrupterReport {
  confineErrno: number;
  events: InterrupterEvent[];
  /** SIGALRMs sent past the events kept between two drains. */
  dropped: number;
}

function load(): Addon {
  const require = createRequire(import.meta.url);
  let addon: Addon;
  try {
    // dist/src/native/addon.js → <root>/build/Release/tsyd.node
    addon = require('../../../build/Release/tsyd.node') as Addon;
  } catch (cause) {
    throw new TsydError(
      'ENOADDON',
      'tsyd: the native addon is not built (build/Release/tsyd.node; installed with --ignore-scripts?): run `npm rebuild tsyd` where tsyd is installed, or `npm install` in a tsyd checkout',
      { cause },
    );
  }
  // SAFETY: an addon that writes a word where JS reads another would feed decisions with the
  // wrong numbers (a path length taken for a flag): nothing runs with one.
  if (addon.slotLayout === undefined) {
    throw new TsydError('EADDONLAYOUT', 'tsyd: the native addon (build/Release/tsyd.node) is older than this checkout (it tells no slot layout): run `npm install`');
  }
  const mismatches = layoutMismatches(addon.slotLayout);
  if (mismatches.length > 0) {
    throw new TsydError(
      'EADDONLAYOUT',
      `tsyd: the native addon (build/Release/tsyd.node) and src/shared/slot.ts disagree on the emulator slot (${mismatches.join('; ')}): fix the one that is wrong, then run \`npm install\``,
    );
  }
  return addon;
}

export const native: Addon = load();

/** Turns an addon exception ({errno, syscall}) into a SystemCallError; others pass through. */
export function systemError(err: unknown, path?: string): unknown {
  const e = err as { errno?: number; syscall?: string };
  if (e && typeof e.errno === 'number' && typeof e.syscall === 'string') {
    return new SystemCallError(e.syscall, e.errno, { path, cause: err });
  }
  return err;
}

/** Runs an addon call, rethrowing its failure as a SystemCallError. */
export function sys<T>(fn: () => T, path?: string): T {
  try {
    return fn();
  } catch (err) {
    throw systemError(err, path);
  }
}
