// Containment of the process tree: the program never signals, limits, reschedules or otherwise
// acts on tsyd (its pid, any of its threads, its process group) or on the reaper (the
// program's parent, which dies with tsyd and takes the program along). The filter stops these
// calls only when the target may be one of them — never when the caller names itself — and
// they are decided on their register arguments: refused (EPERM, one record), or continued.
// Where the target is in the program's memory (F_SETOWN_EX, FIOSETOWN, pidfd_send_signal's fd),
// tsyd reads it once, decides, and performs the call itself on a copy of the program's fd.
// SAFETY: a continued call acts on the pid the kernel finds when it runs. A pid that is free
// when tsyd looks could be taken by a thread tsyd starts meanwhile (the program can make it start
// one, and guess its pid: found by the fuzzer) — so a call on a pid that does not exist is
// answered ESRCH by tsyd itself, as the kernel would, and never continued. A pid that exists is
// not tsyd's; for it to become tsyd's it would have to end and its number come round again (the
// whole pid space) within the microseconds before the kernel acts.
// Audit mode never lets these through: they are not policy rules, they keep tsyd alive.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants as os } from 'node:os';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { takeFdArg } from './common.js';
import { args } from './request.js';
import { statFields } from '../proc/proc-tree.js';

const { EFAULT } = os.errno;
const PRIO_PROCESS = 0;
const PRIO_PGRP = 1;
const PRIO_USER = 2;
const IOPRIO_WHO_PROCESS = 1;
const IOPRIO_WHO_PGRP = 2;
const IOPRIO_WHO_USER = 3;
const F_SETOWN = 8;
const F_SETOWN_EX = 15;
const F_OWNER_PGRP = 2;
const PIDFD_SIGNAL_PROCESS_GROUP = 4;
const RLIMIT_CORE = 4;

const cont = (ctx: EmulatorContext) => ctx.req.continue();

const KILL = args('pid', 'sig');
const TKILL = args('pid', 'sig');
const TGKILL = args('pid', 'tid', 'sig');
const RT_SIGQUEUEINFO = args('pid', 'sig', 'info');
const RT_TGSIGQUEUEINFO = args('pid', 'tid', 'sig', 'info');
/** pidfd_open and sched_*: the pid comes first. */
const PID_FIRST = args('pid');
const PIDFD_SEND_SIGNAL = args('pidfd', 'sig', 'info', 'flags');
const SETPGID = args('pid', 'pgid');
const PRLIMIT64 = args('pid', 'resource', 'new', 'old');
const SETRLIMIT = args('resource', 'rlim');
/** setpriority(which, who, prio), ioprio_set(which, who, ioprio). */
const PRIORITY = args('which', 'who');
const FCNTL = args('fd', 'cmd', 'arg');
export const IOCTL_ARGS = args('fd', 'request', 'arg');
/** coreLimit(): no argument for the old limit (setrlimit). */
const NO_OLD = -1;

/** The process group of `pid`, from /proc/PID/stat (undefined when it is gone). */
function groupOf(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[2]) : undefined;
}

/** How many of a process's threads are looked at for tsyd's names (tsyd_mon starts early). */
const THREADS_LOOKED_AT = 256;

/**
 * A process of another tsyd: its reaper, or a process with a thread named as tsyd names its
 * own (tsyd_mon, tsyd_emu, tsyd_int, tsyd_blk). Another sandbox's program would die with it.
 * A process of this sandbox is never one (a tsyd the program runs itself is the program's).
 */
function isAnotherSupervisor(ctx: EmulatorContext, pid: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  const named = tids.slice(0, THREADS_LOOKED_AT).some((tid) => {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1');
      return comm.startsWith('tsyd_');
    } catch {
      return false;
    }
  });
  return named && !ctx.inSandbox(pid);
}

const { ESRCH } = os.errno;

/**
 * A process group of tsyd: its own or this sandbox's reaper's, or one led by another sandbox's
 * tsyd or reaper. SAFETY: a reaper leads a group of its own; killing that group (kill -9 -REAPER)
 * from a concurrent sandbox of the same host killed the other sandbox's reaper and left its
 * processes running unwatched (found by an attack on concurrent library sandboxes).
 */
function isSupervisorGroupAnywhere(ctx: EmulatorContext, pgid: number): boolean {
  return ctx.isSupervisorGroup(pgid) || (pgid > 0 && isAnotherSupervisor(ctx, pgid));
}

/**
 * Answers a call aimed at pid `pid` (> 0) that must not go on: refused when it is tsyd's (EPERM,
 * a record), ESRCH when no such process or thread exists (see SAFETY above). True when answered.
 */
function stopsAt(ctx: EmulatorContext, sys: string, pid: number, what = `pid ${pid}`): boolean {
  // The order matters: a thread tsyd starts between the two looks would pass "not tsyd's" if that
  // were asked first; asked after "exists", it either existed already (and is seen as tsyd's) or
  // did not (ESRCH).
  if (!existsSync(`/proc/${pid}`)) {
    ctx.req.fail(ESRCH);
    return true;
  }
  if (ctx.isSupervisor(pid)) {
    ctx.refuseAct(sys, what);
    return true;
  }
  if (isAnotherSupervisor(ctx, pid)) {
    ctx.refuseAct(sys, `${what} (another sandbox's tsyd)`);
    return true;
  }
  return false;
}

/** Answers a signal-style owner (pid > 0, -pgrp < 0) that must not be set; true when answered. */
function ownerStops(ctx: EmulatorContext, sys: string, owner: number): boolean {
  if (owner > 0) return stopsAt(ctx, sys, owner, `SIGIO to pid ${owner}`);
  if (owner < 0 && isSupervisorGroupAnywhere(ctx, -owner)) {
    ctx.refuseAct(sys, `SIGIO to process group ${-owner}`);
    return true;
  }
  return false;
}

/** Reads `len` bytes at pointer argument `arg` of the request; null after answering. */
export function readArg(ctx: EmulatorContext, arg: number, len: number): Buffer | null {
  const data = ctx.req.readMemory(arg, len);
  // SAFETY: the tid names the caller only while its request is valid.
  if (!ctx.req.idValid()) return null;
  if (data === null) {
    ctx.req.fail(EFAULT);
    return null;
  }
  return data;
}

/** Signal 0 sends nothing: it asks whether the process exists (the reaper, the parent, does). */
const probe = (ctx: EmulatorContext, sigArg: number) => ctx.req.int(sigArg) === 0;

function kill(ctx: EmulatorContext): void {
  const pid = ctx.req.int(KILL.pid);
  if (probe(ctx, KILL.sig)) return cont(ctx);
  if (pid === -1) return ctx.refuseAct('kill', 'every process (kill -1)');
  if (pid < -1 && isSupervisorGroupAnywhere(ctx, -pid)) return ctx.refuseAct('kill', `process group ${-pid}`);
  if (pid > 0 && stopsAt(ctx, 'kill', pid)) return;
  cont(ctx);
}

/** Calls whose first argument is a pid or tid (0: the caller), and their signal, if any. */
function byPid(sys: string, a: { readonly pid: number; readonly sig?: number }) {
  return (ctx: EmulatorContext): void => {
    const pid = ctx.req.int(a.pid);
    if (a.sig !== undefined && probe(ctx, a.sig)) return cont(ctx);
    if (pid > 0 && stopsAt(ctx, sys, pid)) return;
    cont(ctx);
  };
}

function pidfdSendSignal(ctx: EmulatorContext): void {
  // SAFETY: decided on tsyd's copy of the fd and sent through that copy: a dup2 onto the fd
  // number after the check changes nothing. (The receiver sees tsyd's pid as the sender's
  // when no siginfo is given.)
  const a = PIDFD_SEND_SIGNAL;
  if (takeFdArg(ctx, a.pidfd) === null) return;
  const target = ctx.req.takenFdPid();
  const flags = ctx.req.int(a.flags);
  if (target > 0 && !probe(ctx, a.sig)) {
    if (ctx.isSupervisor(target)) return ctx.refuseAct('pidfd_send_signal', `pid ${target}`);
    if (isAnotherSupervisor(ctx, target)) return ctx.refuseAct('pidfd_send_signal', `pid ${target} (another sandbox's tsyd)`);
    const group = flags & PIDFD_SIGNAL_PROCESS_GROUP ? groupOf(target) : undefined;
    if (group !== undefined && isSupervisorGroupAnywhere(ctx, group)) return ctx.refuseAct('pidfd_send_signal', `process group ${group}`);
  }
  ctx.req.pidfdSignalTaken(ctx.req.int(a.sig), a.info, flags >>> 0);
}

function setpgid(ctx: EmulatorContext): void {
  const pgid = ctx.req.int(SETPGID.pgid);
  // SAFETY: in tsyd's group, kill(0, sig) and the terminal's signals would reach tsyd.
  if (isSupervisorGroupAnywhere(ctx, pgid)) return ctx.refuseAct('setpgid', `process group ${pgid}`);
  cont(ctx);
}

/**
 * RLIMIT_CORE: the program starts with 0/0 and may only set 0/0 again. SAFETY: a core dump is
 * the program's memory written by the kernel into a file of the cwd (or core_pattern's path)
 * that no capability decides; the new limit is in memory, so tsyd sets it itself.
 */
function coreLimit(ctx: EmulatorContext, sys: string, target: number, newArg: number, oldArg: number): void {
  const data = readArg(ctx, newArg, 16);
  if (data === null) return;
  if (data.readBigUInt64LE(0) !== 0n || data.readBigUInt64LE(8) !== 0n) {
    return ctx.refuseAct(sys, 'core dumps (RLIMIT_CORE stays 0 under tsyd)');
  }
  ctx.req.noCoreLimit(target, oldArg);
}

function prlimit(ctx: EmulatorContext): void {
  const { req } = ctx;
  const a = PRLIMIT64;
  const pid = req.int(a.pid);
  if (pid > 0 && stopsAt(ctx, 'prlimit64', pid)) return;
  if (req.int(a.resource) === RLIMIT_CORE && !req.isNull(a.new)) return coreLimit(ctx, 'prlimit64', pid === 0 ? req.pid : pid, a.new, a.old);
  cont(ctx);
}

/**
 * setpriority and ioprio_set (which, who): `which` names a process, a process group or every
 * process of a user (`kinds`: the call's own numbers for them).
 */
function priorityOf(sys: string, kinds: { process: number; group: number; user: number }) {
  return (ctx: EmulatorContext): void => {
    const which = ctx.req.int(PRIORITY.which);
    const who = ctx.req.int(PRIORITY.who);
    if (which === kinds.user) return ctx.refuseAct(sys, 'every process of a user (tsyd is one)');
    if (which === kinds.process && who > 0 && stopsAt(ctx, sys, who)) return;
    if (which === kinds.group && isSupervisorGroupAnywhere(ctx, who)) return ctx.refuseAct(sys, `process group ${who}`);
    cont(ctx);
  };
}

/** fcntl: only F_SETOWN (owner ≠ 0) and F_SETOWN_EX stop here. */
function fcntl(ctx: EmulatorContext): void {
  const cmd = ctx.req.int(FCNTL.cmd);
  if (cmd === F_SETOWN) {
    return ownerStops(ctx, 'fcntl', ctx.req.int(FCNTL.arg)) ? undefined : cont(ctx);
  }
  if (cmd !== F_SETOWN_EX) return cont(ctx);
  // struct f_owner_ex { int type; pid_t pid; }: in memory, read once and set by tsyd.
  const data = readArg(ctx, FCNTL.arg, 8);
  if (data === null) return;
  const type = data.readInt32LE(0);
  const pid = data.readInt32LE(4);
  if (ownerStops(ctx, 'fcntl', type === F_OWNER_PGRP ? -pid : pid)) return;
  if (takeFdArg(ctx, FCNTL.fd) === null) return;
  ctx.req.fcntlOwnerTaken(type, pid);
}

/** ioctl(fd, FIOSETOWN | SIOCSPGRP, int *owner): as F_SETOWN, the owner read once. */
export function ioctlOwner(ctx: EmulatorContext, request: number): void {
  const data = readArg(ctx, IOCTL_ARGS.arg, 4);
  if (data === null) return;
  if (ownerStops(ctx, 'ioctl', data.readInt32LE(0))) return;
  if (takeFdArg(ctx, IOCTL_ARGS.fd) === null) return;
  ctx.req.ioctlTaken(request, data);
}


export function processHandlers(): Map<string, HandlerSpec> {
  const always = [] as const;
  const h = new Map<string, HandlerSpec>();
  h.set('kill', { caps: always, handle: kill });
  h.set('tkill', { caps: always, handle: byPid('tkill', TKILL) });
  h.set('tgkill', { caps: always, handle: byPid('tgkill', TGKILL) });
  h.set('rt_sigqueueinfo', { caps: always, handle: byPid('rt_sigqueueinfo', RT_SIGQUEUEINFO) });
  h.set('rt_tgsigqueueinfo', { caps: always, handle: byPid('rt_tgsigqueueinfo', RT_TGSIGQUEUEINFO) });
  h.set('pidfd_open', { caps: always, handle: byPid('pidfd_open', PID_FIRST) });
  h.set('pidfd_send_signal', { caps: always, handle: pidfdSendSignal });
  h.set('setpgid', { caps: always, handle: setpgid });
  h.set('prlimit64', { caps: always, handle: prlimit });
  h.set('setrlimit', { caps: always, handle: (ctx) => coreLimit(ctx, 'setrlimit', ctx.req.pid, SETRLIMIT.rlim, NO_OLD) });
  h.set('setpriority', { caps: always, handle: priorityOf('setpriority', { process: PRIO_PROCESS, group: PRIO_PGRP, user: PRIO_USER }) });
  h.set('ioprio_set', { caps: always, handle: priorityOf('ioprio_set', { process: IOPRIO_WHO_PROCESS, group: IOPRIO_WHO_PGRP, user: IOPRIO_WHO_USER }) });
  for (const sys of ['sched_setaffinity', 'sched_setparam', 'sched_setscheduler', 'sched_setattr']) h.set(sys, { caps: always, handle: byPid(sys, PID_FIRST) });
  h.set('fcntl', { caps: always, handle: fcntl });
  return h;
}

