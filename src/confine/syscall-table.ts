// Every system call the program's filter accepts, classified: allowed, decided by tsyd (it stops
// in the kernel and an emulator answers), or refused with an errno — each with the reason. A call
// missing here (a call newer than this table, or a number no kernel has) is refused with ENOSYS
// by the filter. `tsyd export syscalls` prints this table; test/confine/syscall-table.test.ts fails
// when the kernel headers know a call that is not classified.
//
// Argument rules: some calls are decided on their register arguments in the filter itself (the
// kernel reads registers once: what the filter saw is what the call does). Rules apply in order;
// the first that matches gives the outcome; otherwise the class's outcome applies. A rule never
// looks at the program's memory.
import type { Capability } from '../sandbox/rules.js';

export type Errno = 'EPERM' | 'ENOSYS' | 'EBUSY';

/** A test on the low 32 bits of argument `arg` (what the kernel uses of an int), or of all 64 bits. */
export type ArgTest =
  | { arg: number; op: 'eq' | 'ne'; value: number }
  /** Some bit of `value` set / no bit of `value` set. */
  | { arg: number; op: 'any' | 'none'; value: number }
  /** The whole 64-bit argument is zero (a NULL pointer) / is not. */
  | { arg: number; op: 'null' | 'nonnull' }
  /** Equal to tsyd's pid, or the reaper's pid (filled in when the program starts). */
  | { arg: number; op: 'tsyd' | 'reaper' };

export type Outcome =
  | { action: 'allow' }
  | { action: 'errno'; errno: Errno }
  /**
   * Stop in the kernel for tsyd's handler. `caps`: notify only when one of them is on (or while
   * the policy can change, lock:off); absent: the handler's own capabilities; [] always.
   */
  | { action: 'notify'; caps?: readonly Capability[] };

export interface ArgRule {
  /** All tests must hold. */
  when: readonly ArgTest[];
  then: Outcome;
  why: string;
}

export type SyscallClass = 'allowed' | 'decided' | 'refused';

export interface Entry {
  class: SyscallClass;
  why: string;
  /** refused: the errno. */
  errno?: Errno;
  rules?: readonly ArgRule[];
}

const allowed = (why: string, rules?: ArgRule[]): Entry => ({ class: 'allowed', why, ...(rules ? { rules } : {}) });
const decided = (why: string, rules?: ArgRule[]): Entry => ({ class: 'decided', why, ...(rules ? { rules } : {}) });
const refused = (errno: Errno, why: string): Entry => ({ class: 'refused', errno, why });

const ALLOW: Outcome = { action: 'allow' };
const NOTIFY: Outcome = { action: 'notify' };
const NOTIFY_ALWAYS: Outcome = { action: 'notify', caps: [] };
const EPERM: Outcome = { action: 'errno', errno: 'EPERM' };
const rule = (when: ArgTest[], then: Outcome, why: string): ArgRule => ({ when, then, why });
const eq = (arg: number, value: number): ArgTest => ({ arg, op: 'eq', value });
const any = (arg: number, value: number): ArgTest => ({ arg, op: 'any', value });
const none = (arg: number, value: number): ArgTest => ({ arg, op: 'none', value });

// Constants the rules test (x86_64 and aarch64 share them).
const PROT_EXEC = 0x4;
const MAP_ANONYMOUS = 0x20;
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3;
const CLONE_NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
const READ_IMPLIES_EXEC = 0x0400000;
const PR_SET_MM = 35;
const RLIMIT_CORE = 4;
const RLIMIT_NICE = 13;
const RLIMIT_RTPRIO = 14;
/** Raising them gives what CAP_SYS_NICE (dropped: nothing may starve tsyd) would: refused whatever the value. */
const PRIORITY_LIMITS = 'RLIMIT_NICE and RLIMIT_RTPRIO: raised (with CAP_SYS_RESOURCE) they give real-time or top priority without CAP_SYS_NICE, which tsyd drops';
const PRIO_USER = 2;
const IOPRIO_WHO_USER = 3;
const F_SETOWN = 8;
const F_SETOWN_EX = 15;
const PIDFD_THREAD = 0o200;
/**
 * The setsockopt (level, name) pairs that change where data goes, decided as net/connect (the
 * net handler refuses routing headers and source routes); every other option is the program's.
 * IP_OPTIONS may carry a source route; IPv6 routing headers (RFC 3542 IPV6_RTHDR, RFC 2292's
 * IPV6_2292RTHDR and IPV6_2292PKTOPTIONS) send elsewhere; SCTP bindx/connectx bind and connect.
 */
export const SETSOCKOPT_DECIDED: ReadonlyArray<readonly [level: number, name: number, what: string]> = [
  [0, 4, 'IP_OPTIONS'],
  [41, 57, 'IPV6_RTHDR'],
  [41, 5, 'IPV6_2292RTHDR'],
  [41, 6, 'IPV6_2292PKTOPTIONS'],
  [132, 100, 'SCTP_SOCKOPT_BINDX_ADD'],
  [132, 107, 'SCTP_SOCKOPT_CONNECTX_OLD'],
  [132, 110, 'SCTP_SOCKOPT_CONNECTX'],
];
/** ioctl request numbers (asm-generic/ioctls.h, linux/fs.h, linux/userfaultfd.h, linux/sockios.h). */
export const IOCTL = {
  TIOCSTI: 0x5412,
  TIOCLINUX: 0x541c,
  TIOCSCTTY: 0x540e,
  TIOCCONS: 0x541d,
  USERFAULTFD_IOC_NEW: 0xaa00,
  FS_IOC_SETFLAGS: 0x40086602,
  FS_IOC32_SETFLAGS: 0x40046602,
  FS_IOC_FSSETXATTR: 0x401c5820,
  FS_IOC_SETVERSION: 0x40087602,
  FS_IOC32_SETVERSION: 0x40047602,
  FS_IOC_SETFSLABEL: 0x41009432,
  EXT4_IOC_SETVERSION: 0x40086604,
  EXT4_IOC32_SETVERSION: 0x40046604,
  FIFREEZE: 0xc0045877,
  FITHAW: 0xc0045878,
  FS_IOC_SHUTDOWN: 0x8004587d,
  TIOCVHANGUP: 0x5437,
  FIOSETOWN: 0x8901,
  SIOCSPGRP: 0x8902,
} as const;

const OPEN = 'open family: read, write and create decide the canonical path (stat hides); tsyd opens it and injects the fd';
const STAT = 'stat: decided on the canonical path (a hidden path does not exist); performed by tsyd';
const WRITE = 'write: an attribute change decided on the canonical path; performed by tsyd on what it checked';
const CREATE = 'create: decided on the new canonical path; performed by tsyd in the checked parent';
const DELETE = 'delete: decided on the canonical path; performed by tsyd in the checked parent';
const MOVE = 'delete of the source, create of the target; the object may not gain by its new name';
const NET = 'net: the address is read once, decided, and the call performed by tsyd on a copy of the socket';
const CREDS = 'credentials: only calls that keep the ids, or move them along declared transits (setuid+SRC:DST), go on; tsyd then acts with them';
const FD_IO = 'I/O on an fd the program holds (every path and address it reached was decided)';
const FD_META = 'the metadata of an fd the program holds: stat decides its path (an fd of a hidden object is hidden too)';
const OWN = "acts on the calling process or thread only";
const INFO = 'reads information the program may have';
const MEM = "the program's own memory";
const TIME = 'clocks and timers';
const SYNC = 'waiting and synchronisation within the program';
const SYSV =
  'SysV IPC: keyed objects of the IPC namespace (not paths), access by their modes as natively (README: known limit)';
const NEVER = 'not implemented by Linux (removed or never wired up)';
const MOUNTS = 'changes the mounts and so the paths tsyd decides on';
const KERNEL = 'reaches around every rule through the kernel itself (privileged)';
const HOST = "changes the whole machine's state (privileged)";
const PTRACE_GATED = "needs ptrace access to the target: tsyd is non-dumpable and the program has no CAP_SYS_PTRACE";
const SIGNALS =
  'signals: never to tsyd, its threads or its reaper (stops for tsyd when the target may be one; refused EPERM and logged)';
const SCHED = "changes another task's scheduling or limits: never tsyd's (stops for tsyd unless the caller names itself)";

/** Signals to a pid: tsyd, the reaper and tsyd's group are refused; other pids may be tsyd's threads. */
const killRules = (pidArg: number): ArgRule[] => [
  rule([eq(pidArg, 0)], ALLOW, "the caller's own process group (never tsyd's: the program has its own)"),
];

export const SYSCALLS: Readonly<Record<string, Entry>> = {
  // --- file descriptors and I/O -----------------------------------------------------------
  read: allowed(FD_IO), write: allowed(FD_IO), readv: allowed(FD_IO), writev: allowed(FD_IO),
  pread64: allowed(FD_IO), pwrite64: allowed(FD_IO), preadv: allowed(FD_IO), pwritev: allowed(FD_IO),
  preadv2: allowed(FD_IO), pwritev2: allowed(FD_IO), lseek: allowed(FD_IO), close: allowed(FD_IO),
  close_range: allowed(FD_IO), dup: allowed(FD_IO), dup2: allowed(FD_IO), dup3: allowed(FD_IO),
  fsync: allowed(FD_IO), fdatasync: allowed(FD_IO), sync_file_range: allowed(FD_IO), syncfs: allowed(FD_IO),
  sync: allowed('flushes caches, writes nothing new'), ftruncate: allowed(`${FD_IO}; the kernel requires a writable fd`),
  fallocate: allowed(`${FD_IO}; the kernel requires a writable fd`), flock: allowed(FD_IO),
  readahead: allowed(FD_IO), fadvise64: allowed(FD_IO), sendfile: allowed(FD_IO), splice: allowed(FD_IO),
  tee: allowed(FD_IO), vmsplice: allowed(FD_IO), copy_file_range: allowed(FD_IO), cachestat: allowed(FD_IO),
  pipe: allowed('a new pipe'), pipe2: allowed('a new pipe'),
  fstat: decided(FD_META), fstatfs: decided(FD_META), fgetxattr: decided(FD_META), flistxattr: decided(FD_META),
  getcwd: allowed(INFO),
  fcntl: allowed(FD_IO, [
    rule([eq(1, F_SETOWN), { arg: 2, op: 'ne', value: 0 }], NOTIFY_ALWAYS, 'F_SETOWN: SIGIO/SIGURG must never go to tsyd (its pid, threads or group)'),
    rule([eq(1, F_SETOWN_EX)], NOTIFY_ALWAYS, 'F_SETOWN_EX: the owner is in memory: tsyd sets it on the file itself, never tsyd as owner'),
  ]),
  ioctl: allowed('device and socket controls on an fd the program holds', [
    rule([eq(1, IOCTL.TIOCSTI)], EPERM, 'TIOCSTI types input into a terminal the user shares (runs commands outside the sandbox)'),
    rule([eq(1, IOCTL.TIOCLINUX)], EPERM, 'TIOCLINUX can paste into the console (input injection)'),
    rule([eq(1, IOCTL.TIOCSCTTY), { arg: 2, op: 'ne', value: 0 }], EPERM, "TIOCSCTTY with force would steal the user's terminal from its session"),
    rule([eq(1, IOCTL.TIOCCONS)], EPERM, 'TIOCCONS redirects the console (privileged)'),
    rule([eq(1, IOCTL.USERFAULTFD_IOC_NEW)], EPERM, "/dev/userfaultfd: memory that stalls tsyd's reads of the program (as the userfaultfd call)"),
    rule([eq(1, IOCTL.FS_IOC_SETFSLABEL)], EPERM, "renames a whole file system (privileged)"),
    rule([eq(1, IOCTL.FIFREEZE)], EPERM, 'freezes a whole file system: every writer on the machine waits (privileged)'),
    rule([eq(1, IOCTL.FITHAW)], EPERM, 'thaws a frozen file system (privileged)'),
    rule([eq(1, IOCTL.FS_IOC_SHUTDOWN)], EPERM, 'shuts a whole file system down (privileged; also XFS_IOC_GOINGDOWN)'),
    rule([eq(1, IOCTL.TIOCVHANGUP)], EPERM, 'hangs up the terminal the user shares (as vhangup)'),
    rule([eq(1, IOCTL.FS_IOC_SETFLAGS)], { action: 'notify', caps: ['write'] }, 'inode flags (append-only, immutable, ...) change the file: decided as write, like chmod'),
    rule([eq(1, IOCTL.FS_IOC32_SETFLAGS)], { action: 'notify', caps: ['write'] }, 'inode flags: decided as write'),
    rule([eq(1, IOCTL.FS_IOC_FSSETXATTR)], { action: 'notify', caps: ['write'] }, 'inode attributes (project, flags): decided as write'),
    rule([eq(1, IOCTL.FS_IOC_SETVERSION)], { action: 'notify', caps: ['write'] }, 'the inode generation: decided as write'),
    rule([eq(1, IOCTL.FS_IOC32_SETVERSION)], { action: 'notify', caps: ['write'] }, 'the inode generation: decided as write'),
    rule([eq(1, IOCTL.EXT4_IOC_SETVERSION)], { action: 'notify', caps: ['write'] }, "ext4's name for the inode generation: decided as write"),
    rule([eq(1, IOCTL.EXT4_IOC32_SETVERSION)], { action: 'notify', caps: ['write'] }, "ext4's name for the inode generation: decided as write"),
    rule([eq(1, IOCTL.FIOSETOWN)], NOTIFY_ALWAYS, 'the SIGIO owner is in memory: set by tsyd on the file itself, never tsyd'),
    rule([eq(1, IOCTL.SIOCSPGRP)], NOTIFY_ALWAYS, 'the SIGIO owner is in memory: set by tsyd on the file itself, never tsyd'),
  ]),
  // --- polling, events, waiting -------------------------------------------------------------
  poll: allowed(SYNC), ppoll: allowed(SYNC), select: allowed(SYNC), pselect6: allowed(SYNC),
  epoll_create: allowed(SYNC), epoll_create1: allowed(SYNC), epoll_ctl: allowed(SYNC), epoll_wait: allowed(SYNC),
  epoll_pwait: allowed(SYNC), epoll_pwait2: allowed(SYNC), eventfd: allowed(SYNC), eventfd2: allowed(SYNC),
  signalfd: allowed(SYNC), signalfd4: allowed(SYNC), timerfd_create: allowed(TIME), timerfd_settime: allowed(TIME),
  timerfd_gettime: allowed(TIME), futex: allowed(SYNC), futex_waitv: allowed(SYNC), futex_wake: allowed(SYNC),
  futex_wait: allowed(SYNC), futex_requeue: allowed(SYNC), set_robust_list: allowed(OWN),
  get_robust_list: allowed(PTRACE_GATED), membarrier: allowed(SYNC), rseq: allowed(OWN),
  inotify_init: allowed(SYNC), inotify_init1: allowed(SYNC), inotify_rm_watch: allowed(SYNC),
  fanotify_mark: allowed('needs a fanotify fd, which fanotify_init never gives'),
  io_setup: allowed('AIO on fds the program holds'), io_destroy: allowed('AIO on fds the program holds'),
  io_getevents: allowed('AIO on fds the program holds'), io_pgetevents: allowed('AIO on fds the program holds'),
  io_submit: allowed('AIO on fds the program holds (reads, writes, fsync, poll: no paths)'),
  io_cancel: allowed('AIO on fds the program holds'),
  io_uring_setup: refused('ENOSYS', 'io_uring opens files and sockets inside the kernel, unseen by seccomp'),
  io_uring_enter: refused('ENOSYS', 'io_uring opens files and sockets inside the kernel, unseen by seccomp'),
  io_uring_register: refused('ENOSYS', 'io_uring opens files and sockets inside the kernel, unseen by seccomp'),
  // --- memory ---------------------------------------------------------------------------
  brk: allowed(MEM), munmap: allowed(MEM), mremap: allowed(`${MEM} (a mapping keeps its protection)`),
  msync: allowed(MEM), mincore: allowed(MEM), madvise: allowed(MEM), mlock: allowed(MEM), mlock2: allowed(MEM),
  munlock: allowed(MEM), mlockall: allowed(MEM), munlockall: allowed(MEM), mbind: allowed(MEM),
  set_mempolicy: allowed(MEM), get_mempolicy: allowed(MEM), set_mempolicy_home_node: allowed(MEM),
  remap_file_pages: allowed(`${MEM} (pages of the mapping's own file, its own protection)`),
  pkey_alloc: allowed(MEM), pkey_free: allowed(MEM), memfd_create: allowed('anonymous memory files (executing one is decided by exec)'),
  memfd_secret: allowed(MEM), mseal: allowed(MEM), map_shadow_stack: allowed(MEM),
  migrate_pages: allowed(PTRACE_GATED), move_pages: allowed(PTRACE_GATED), process_madvise: allowed(PTRACE_GATED),
  process_mrelease: allowed('only for a process already being killed'),
  mmap: decided('a file mapped executable runs its code: decided as exec of the file (the loader trick)', [
    rule([none(2, PROT_EXEC)], ALLOW, 'not executable'),
    rule([any(3, MAP_ANONYMOUS)], ALLOW, 'anonymous memory (JITs): no file'),
  ]),
  mprotect: decided('making a file mapping executable runs its code: decided as exec of the file', [
    rule([none(2, PROT_EXEC)], ALLOW, 'not made executable'),
  ]),
  pkey_mprotect: decided('as mprotect', [rule([none(2, PROT_EXEC)], ALLOW, 'not made executable')]),
  // --- processes, threads, signals -------------------------------------------------------
  clone: allowed('new threads and processes run under the same filter', [
    rule([any(0, CLONE_NEW_NAMESPACES)], EPERM, 'new namespaces change the view tsyd decides on (mounts, pids, users)'),
  ]),
  clone3: refused('ENOSYS', 'its flags (namespaces) are in memory the filter cannot read; libc falls back to clone'),
  fork: allowed('a new process under the same filter'), vfork: allowed('a new process under the same filter'),
  execve: decided('exec: the binary and every #! interpreter are decided'),
  execveat: decided('exec: the binary and every #! interpreter are decided'),
  exit: allowed(OWN), exit_group: allowed(OWN), wait4: allowed(OWN), waitid: allowed(OWN),
  set_tid_address: allowed(OWN), restart_syscall: allowed(OWN), arch_prctl: allowed(OWN),
  set_thread_area: allowed(OWN), get_thread_area: allowed(OWN),
  modify_ldt: allowed("the process's own x86 segment descriptors (Wine, 16-bit code)"),
  prctl: allowed(OWN, [rule([eq(0, PR_SET_MM)], EPERM, "PR_SET_MM rewrites the process's exe link and memory layout (privileged)")]),
  personality: allowed(OWN, [
    rule([{ arg: 0, op: 'eq', value: 0xffffffff }], ALLOW, 'a query'),
    rule([any(0, READ_IMPLIES_EXEC)], EPERM, 'READ_IMPLIES_EXEC makes every readable mapping executable (around the exec decision of mmap)'),
  ]),
  seccomp: allowed('the program may confine itself further', [
    rule([eq(0, SECCOMP_SET_MODE_FILTER), any(1, SECCOMP_FILTER_FLAG_NEW_LISTENER)], { action: 'errno', errno: 'EBUSY' },
      "a listener of its own would answer its calls once tsyd's is gone (EBUSY: tsyd's filter has the listener)"),
  ]),
  rt_sigaction: allowed(OWN), rt_sigprocmask: allowed(OWN), rt_sigreturn: allowed(OWN), rt_sigpending: allowed(OWN),
  rt_sigtimedwait: allowed(OWN), rt_sigsuspend: allowed(OWN), sigaltstack: allowed(OWN), pause: allowed(OWN),
  kill: decided(SIGNALS, killRules(0)),
  tkill: decided(SIGNALS),
  tgkill: decided(SIGNALS, [
    rule([{ arg: 0, op: 'tsyd' }], NOTIFY_ALWAYS, "tsyd's own threads"),
    rule([{ arg: 0, op: 'reaper' }], NOTIFY_ALWAYS, "the reaper"),
    rule([], ALLOW, 'the thread group is not tsyd: the kernel checks the thread belongs to it'),
  ]),
  rt_sigqueueinfo: decided(SIGNALS),
  rt_tgsigqueueinfo: decided(SIGNALS, [
    rule([{ arg: 0, op: 'tsyd' }], NOTIFY_ALWAYS, "tsyd's own threads"),
    rule([{ arg: 0, op: 'reaper' }], NOTIFY_ALWAYS, 'the reaper'),
    rule([], ALLOW, 'the thread group is not tsyd: the kernel checks the thread belongs to it'),
  ]),
  pidfd_open: decided('a pidfd of tsyd, a thread of tsyd or the reaper would signal it', [
    rule([{ arg: 0, op: 'tsyd' }], NOTIFY_ALWAYS, 'tsyd'),
    rule([{ arg: 0, op: 'reaper' }], NOTIFY_ALWAYS, 'the reaper'),
    rule([any(1, PIDFD_THREAD)], NOTIFY_ALWAYS, 'a thread: may be one of tsyd'),
    rule([], ALLOW, 'a process that is not tsyd (a thread of tsyd needs PIDFD_THREAD)'),
  ]),
  pidfd_send_signal: decided(`${SIGNALS}; a /proc/<pid> directory fd works as a pidfd too`),
  pidfd_getfd: refused('EPERM', "takes fds out of other processes (tsyd's listener)"),
  ptrace: refused('EPERM', 'a tracer can rewrite a checked call and read or write other processes'),
  process_vm_readv: refused('EPERM', "reads other processes' memory"),
  process_vm_writev: refused('EPERM', "writes other processes' memory"),
  kcmp: refused('EPERM', 'probes other processes'),
  getpid: allowed(INFO), getppid: allowed(INFO), gettid: allowed(INFO), getpgrp: allowed(INFO), getpgid: allowed(INFO),
  getsid: allowed(INFO), setsid: allowed('a new session: away from tsyd'),
  setpgid: decided("joining tsyd's process group would let kill(0) reach tsyd", [
    rule([eq(1, 0)], ALLOW, 'a new group of its own'),
  ]),
  getuid: allowed(INFO), geteuid: allowed(INFO), getgid: allowed(INFO), getegid: allowed(INFO),
  getresuid: allowed(INFO), getresgid: allowed(INFO), getgroups: allowed(INFO), capget: allowed(INFO),
  setuid: decided(CREDS),
  setgid: decided(CREDS), setreuid: decided(CREDS), setregid: decided(CREDS),
  setresuid: decided(CREDS), setresgid: decided(CREDS), setfsuid: decided(CREDS), setfsgid: decided(CREDS),
  setgroups: decided(CREDS),
  capset: decided(CREDS),
  getrlimit: allowed(INFO), getrusage: allowed(INFO), times: allowed(INFO), getpriority: allowed(INFO),
  setrlimit: allowed(OWN, [
    rule([eq(0, RLIMIT_CORE)], NOTIFY_ALWAYS, 'core dumps stay off: a dump writes the memory into a file in the cwd'),
    rule([eq(0, RLIMIT_NICE)], EPERM, PRIORITY_LIMITS),
    rule([eq(0, RLIMIT_RTPRIO)], EPERM, PRIORITY_LIMITS),
  ]),
  prlimit64: decided(SCHED, [
    rule([eq(0, 0), { arg: 2, op: 'null' }], ALLOW, 'a query of the caller'),
    rule([eq(1, RLIMIT_NICE), { arg: 2, op: 'ne', value: 0 }], EPERM, PRIORITY_LIMITS),
    rule([eq(1, RLIMIT_RTPRIO), { arg: 2, op: 'ne', value: 0 }], EPERM, PRIORITY_LIMITS),
    rule([eq(0, 0), { arg: 1, op: 'ne', value: RLIMIT_CORE }], ALLOW, 'the caller, not its core limit'),
  ]),
  setpriority: decided(SCHED, [rule([eq(1, 0), { arg: 0, op: 'ne', value: PRIO_USER }], ALLOW, 'the caller')]),
  ioprio_set: decided(SCHED, [rule([eq(1, 0), { arg: 0, op: 'ne', value: IOPRIO_WHO_USER }], ALLOW, 'the caller')]),
  ioprio_get: allowed(INFO),
  sched_setaffinity: decided(SCHED, [rule([eq(0, 0)], ALLOW, 'the caller')]),
  sched_setparam: decided(SCHED, [rule([eq(0, 0)], ALLOW, 'the caller')]),
  sched_setscheduler: decided(SCHED, [rule([eq(0, 0)], ALLOW, 'the caller')]),
  sched_setattr: decided(SCHED, [rule([eq(0, 0)], ALLOW, 'the caller')]),
  sched_getaffinity: allowed(INFO), sched_getparam: allowed(INFO), sched_getscheduler: allowed(INFO),
  sched_getattr: allowed(INFO), sched_get_priority_max: allowed(INFO), sched_get_priority_min: allowed(INFO),
  sched_rr_get_interval: allowed(INFO), sched_yield: allowed(OWN), getcpu: allowed(INFO),
  uname: allowed(INFO), sysinfo: allowed(INFO), umask: allowed(OWN), getrandom: allowed(INFO),
  // --- time -----------------------------------------------------------------------------
  nanosleep: allowed(TIME), clock_nanosleep: allowed(TIME), clock_gettime: allowed(TIME), clock_getres: allowed(TIME),
  gettimeofday: allowed(TIME), time: allowed(TIME), alarm: allowed(TIME), getitimer: allowed(TIME),
  setitimer: allowed(TIME), timer_create: allowed(TIME), timer_settime: allowed(TIME), timer_gettime: allowed(TIME),
  timer_getoverrun: allowed(TIME), timer_delete: allowed(TIME),
  settimeofday: refused('EPERM', "sets the machine's clock"), clock_settime: refused('EPERM', "sets the machine's clock"),
  adjtimex: refused('EPERM', "adjusts the machine's clock (its argument, in memory, says whether it only reads)"),
  clock_adjtime: refused('EPERM', "adjusts the machine's clock (its argument, in memory, says whether it only reads)"),
  // --- paths: decided by the file capabilities --------------------------------------------
  open: decided(OPEN), openat: decided(OPEN),
  openat2: decided(OPEN), creat: decided(OPEN),
  stat: decided(STAT), lstat: decided(STAT), newfstatat: decided(STAT), statx: decided(STAT),
  access: decided(STAT), faccessat: decided(STAT), faccessat2: decided(STAT),
  readlink: decided(STAT), readlinkat: decided(STAT), statfs: decided(STAT),
  getxattr: decided(STAT), lgetxattr: decided(STAT), listxattr: decided(STAT), llistxattr: decided(STAT),
  getxattrat: decided(STAT), listxattrat: decided(STAT), file_getattr: decided(STAT),
  inotify_add_watch: decided(STAT), name_to_handle_at: decided(STAT),
  chdir: decided(STAT), fchdir: decided(STAT), getdents: decided(`${STAT}; hidden entries are left out of listings`), getdents64: decided(`${STAT}; hidden entries are left out of listings`),
  truncate: decided(WRITE), chmod: decided(WRITE), fchmod: decided(WRITE), fchmodat: decided(WRITE),
  fchmodat2: decided(WRITE), chown: decided(WRITE), fchown: decided(WRITE), lchown: decided(WRITE),
  fchownat: decided(WRITE), utime: decided(WRITE), utimes: decided(WRITE), futimesat: decided(WRITE),
  utimensat: decided(WRITE), setxattr: decided(WRITE), lsetxattr: decided(WRITE), fsetxattr: decided(WRITE),
  removexattr: decided(WRITE), lremovexattr: decided(WRITE), fremovexattr: decided(WRITE),
  setxattrat: decided(WRITE), removexattrat: decided(WRITE), file_setattr: decided(WRITE),
  mkdir: decided(CREATE), mkdirat: decided(CREATE), mknod: decided(CREATE), mknodat: decided(CREATE),
  symlink: decided(CREATE), symlinkat: decided(CREATE), link: decided(CREATE), linkat: decided(CREATE),
  unlink: decided(DELETE), unlinkat: decided(DELETE), rmdir: decided(DELETE),
  rename: decided(MOVE), renameat: decided(MOVE), renameat2: decided(MOVE),
  open_by_handle_at: refused('EPERM', 'opens files without a path'),
  uselib: refused('ENOSYS', 'maps a library executable without exec decision (no libc uses it)'),
  ustat: allowed('file system statistics of a device number'), sysfs: allowed('file system type names'),
  quotactl: refused('EPERM', 'quota control names a device by path (an existence oracle) and changes quotas (privileged)'),
  quotactl_fd: refused('EPERM', 'quota control (privileged)'),
  acct: refused('EPERM', 'writes accounting records into a file the policy does not decide (privileged)'),
  // --- network ---------------------------------------------------------------------------
  socket: allowed('a new socket (what it reaches is decided at connect, bind, send)'),
  socketpair: allowed('a new socket pair'),
  connect: decided(`${NET} (net/connect; stat: a hidden UNIX path)`), bind: decided(`${NET} (net/bind; stat: a hidden UNIX path)`), sendto: decided(`${NET} (net/connect; stat: a hidden UNIX path)`),
  sendmsg: decided(`${NET} (net/connect; stat: a hidden UNIX path)`), sendmmsg: decided(`${NET} (net/connect; stat: a hidden UNIX path)`),
  listen: decided('net/bind: listening on an unbound socket binds it'),
  accept: allowed(FD_IO), accept4: allowed(FD_IO), recvfrom: allowed(FD_IO), recvmsg: allowed(FD_IO),
  recvmmsg: allowed(FD_IO), shutdown: allowed(FD_IO), getsockname: allowed(FD_IO), getpeername: allowed(FD_IO),
  getsockopt: allowed(FD_IO),
  setsockopt: decided('options that change where data goes (source routes, routing headers, SCTP bindx/connectx) are decided as net/connect', [
    ...SETSOCKOPT_DECIDED.map(([level, name, what]) => rule([eq(1, level), eq(2, name)], { action: 'notify', caps: ['net/connect'] }, what)),
    rule([], ALLOW, 'other options do not change the destination'),
  ]),
  // --- IPC ------------------------------------------------------------------------------
  shmget: allowed(SYSV), shmat: allowed(SYSV), shmdt: allowed(SYSV), shmctl: allowed(SYSV),
  semget: allowed(SYSV), semop: allowed(SYSV), semtimedop: allowed(SYSV), semctl: allowed(SYSV),
  msgget: allowed(SYSV), msgsnd: allowed(SYSV), msgrcv: allowed(SYSV), msgctl: allowed(SYSV),
  mq_open: refused('ENOSYS', 'POSIX message queues are named outside the file system: no path rule decides them'),
  mq_unlink: refused('ENOSYS', 'POSIX message queues are named outside the file system: no path rule decides them'),
  mq_timedsend: allowed(FD_IO), mq_timedreceive: allowed(FD_IO), mq_notify: allowed(FD_IO), mq_getsetattr: allowed(FD_IO),
  add_key: refused('ENOSYS', "kernel keyrings hold the user's credentials outside the file policy"),
  request_key: refused('ENOSYS', "kernel keyrings hold the user's credentials outside the file policy"),
  keyctl: refused('ENOSYS', "kernel keyrings hold the user's credentials outside the file policy"),
  // --- security modules ------------------------------------------------------------------
  landlock_create_ruleset: refused('ENOSYS', 'tsyd opens files for the program: a Landlock domain of the program would not bind them (the ABI query answers: no Landlock)'),
  landlock_add_rule: refused('ENOSYS', 'see landlock_create_ruleset'),
  landlock_restrict_self: refused('ENOSYS', 'see landlock_create_ruleset'),
  lsm_get_self_attr: allowed(INFO), lsm_list_modules: allowed(INFO), lsm_set_self_attr: allowed(OWN),
  // --- the machine, the kernel, mounts, namespaces ---------------------------------------
  mount: refused('EPERM', MOUNTS), umount2: refused('EPERM', MOUNTS), open_tree: refused('EPERM', MOUNTS),
  open_tree_attr: refused('EPERM', `${MOUNTS}; its O_PATH fd reaches hidden files`), move_mount: refused('EPERM', MOUNTS),
  fsopen: refused('EPERM', MOUNTS), fsconfig: refused('EPERM', MOUNTS), fsmount: refused('EPERM', MOUNTS),
  fspick: refused('EPERM', MOUNTS), mount_setattr: refused('EPERM', MOUNTS),
  statmount: refused('ENOSYS', 'mount details by id, without a path decision (tools read /proc/self/mountinfo)'),
  listmount: refused('ENOSYS', 'mount details by id, without a path decision (tools read /proc/self/mountinfo)'),
  chroot: refused('EPERM', 'changes the root paths are resolved in'), pivot_root: refused('EPERM', 'changes the root paths are resolved in'),
  unshare: refused('EPERM', 'new namespaces change the view tsyd decides on'),
  setns: refused('EPERM', 'other namespaces change the view tsyd decides on'),
  bpf: refused('EPERM', KERNEL), perf_event_open: refused('EPERM', 'reads other processes and the kernel'),
  fanotify_init: refused('EPERM', 'hands out fds of files without a path decision'),
  userfaultfd: refused('EPERM', "memory that stalls tsyd's reads of the program's arguments"),
  init_module: refused('EPERM', KERNEL), finit_module: refused('EPERM', KERNEL), delete_module: refused('EPERM', KERNEL),
  kexec_load: refused('EPERM', 'replaces the kernel'), kexec_file_load: refused('EPERM', 'replaces the kernel'),
  iopl: refused('EPERM', 'raw hardware access'), ioperm: refused('EPERM', 'raw hardware access'),
  reboot: refused('EPERM', HOST), swapon: refused('EPERM', `${HOST}; a hidden path would answer differently`),
  swapoff: refused('EPERM', HOST), sethostname: refused('EPERM', HOST), setdomainname: refused('EPERM', HOST),
  vhangup: refused('EPERM', 'hangs up the terminal the user shares'),
  syslog: decided('reads the kernel log: decided as a read of /dev/kmsg', [
    rule([eq(0, 3)], NOTIFY, 'SYSLOG_ACTION_READ_ALL'),
    rule([eq(0, 10)], ALLOW, 'SYSLOG_ACTION_SIZE_BUFFER'),
    rule([], EPERM, 'clears, consumes or reconfigures the kernel log'),
  ]),
  lookup_dcookie: refused('ENOSYS', NEVER),
  // --- never implemented / removed --------------------------------------------------------
  _sysctl: refused('ENOSYS', NEVER), nfsservctl: refused('ENOSYS', NEVER), create_module: refused('ENOSYS', NEVER),
  get_kernel_syms: refused('ENOSYS', NEVER), query_module: refused('ENOSYS', NEVER), getpmsg: refused('ENOSYS', NEVER),
  putpmsg: refused('ENOSYS', NEVER), afs_syscall: refused('ENOSYS', NEVER), tuxcall: refused('ENOSYS', NEVER),
  security: refused('ENOSYS', NEVER), vserver: refused('ENOSYS', NEVER), epoll_ctl_old: refused('ENOSYS', NEVER),
  epoll_wait_old: refused('ENOSYS', NEVER),
};
