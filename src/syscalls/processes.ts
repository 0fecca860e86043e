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
import { Answer, native, Slot } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, refuse, takeFdArg } from './common.js';
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

const cont = () => void native.respond(Answer.continue);

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
 * Answers a call aimed at pid `pid` (> 0) that must not go on: refused when it is tsyd's (EPERM,
 * a record), ESRCH when no such process or thread exists (see SAFETY above). True when answered.
 */
function stopsAt(ctx: EmulatorContext, sys: string, pid: number, what = `pid ${pid}`): boolean {
  // The order matters: a thread tsyd starts between the two looks would pass "not tsyd's" if that
  // were asked first; asked after "exists", it either existed already (and is seen as tsyd's) or
  // did not (ESRCH).
  if (!existsSync(`/proc/${pid}`)) {
    refuse(ESRCH);
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
  if (owner < 0 && ctx.isSupervisorGroup(-owner)) {
    ctx.refuseAct(sys, `SIGIO to process group ${-owner}`);
    return true;
  }
  return false;
}

/** Reads `len` bytes at pointer argument `arg` of the request; null after answering. */
export function readArg(ctx: EmulatorContext, arg: number, len: number): Buffer | null {
  const s = ctx.slots;
  const addr = (s[Slot.args + 2 * arg + 1]! >>> 0) * 2 ** 32 + (s[Slot.args + 2 * arg]! >>> 0);
  const data = native.readMemory(s[Slot.pid]!, addr, len);
  // SAFETY: the tid names the caller only while its request is valid.
  if (!native.idValid()) return null;
  if (data === null) {
    refuse(EFAULT);
    return null;
  }
  return data;
}

/** Signal 0 sends nothing: it asks whether the process exists (the reaper, the parent, does). */
const probe = (ctx: EmulatorContext, sigArg: number) => arg32(ctx.slots, sigArg) === 0;

function kill(ctx: EmulatorContext): void {
  const pid = arg32(ctx.slots, 0);
  if (probe(ctx, 1)) return cont();
  if (pid === -1) return ctx.refuseAct('kill', 'every process (kill -1)');
  if (pid < -1 && ctx.isSupervisorGroup(-pid)) return ctx.refuseAct('kill', `process group ${-pid}`);
  if (pid > 0 && stopsAt(ctx, 'kill', pid)) return;
  cont();
}

/** Calls whose first argument is a pid or tid (0: the caller); `sigArg`: their signal, if any. */
function byPid(sys: string, sigArg = -1) {
  return (ctx: EmulatorContext): void => {
    const pid = arg32(ctx.slots, 0);
    if (sigArg >= 0 && probe(ctx, sigArg)) return cont();
    if (pid > 0 && stopsAt(ctx, sys, pid)) return;
    cont();
  };
}

function pidfdSendSignal(ctx: EmulatorContext): void {
  // SAFETY: decided on tsyd's copy of the fd and sent through that copy: a dup2 onto the fd
  // number after the check changes nothing. (The receiver sees tsyd's pid as the sender's
  // when no siginfo is given.)
  if (takeFdArg(ctx, 0) === null) return;
  const target = native.takenFdPid();
  const flags = arg32(ctx.slots, 3);
  if (target > 0 && !probe(ctx, 1)) {
    if (ctx.isSupervisor(target)) return ctx.refuseAct('pidfd_send_signal', `pid ${target}`);
    if (isAnotherSupervisor(ctx, target)) return ctx.refuseAct('pidfd_send_signal', `pid ${target} (another sandbox's tsyd)`);
    const group = flags & PIDFD_SIGNAL_PROCESS_GROUP ? groupOf(target) : undefined;
    if (group !== undefined && ctx.isSupervisorGroup(group)) return ctx.refuseAct('pidfd_send_signal', `process group ${group}`);
  }
  native.pidfdSignalTaken(arg32(ctx.slots, 1), 2, flags >>> 0);
}

function setpgid(ctx: EmulatorContext): void {
  const pgid = arg32(ctx.slots, 1);
  // SAFETY: in tsyd's group, kill(0, sig) and the terminal's signals would reach tsyd.
  if (ctx.isSupervisorGroup(pgid)) return ctx.refuseAct('setpgid', `process group ${pgid}`);
  cont();
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
  native.noCoreLimit(target, oldArg);
}

function prlimit(ctx: EmulatorContext): void {
  const pid = arg32(ctx.slots, 0);
  if (pid > 0 && stopsAt(ctx, 'prlimit64', pid)) return;
  const newIsNull = ctx.slots[Slot.args + 4] === 0 && ctx.slots[Slot.args + 5] === 0;
  if (arg32(ctx.slots, 1) === RLIMIT_CORE && !newIsNull) return coreLimit(ctx, 'prlimit64', pid === 0 ? ctx.slots[Slot.pid]! : pid, 2, 3);
  cont();
}

/**
 * setpriority and ioprio_set (which, who): `which` names a process, a process group or every
 * process of a user (`kinds`: the call's own numbers for them).
 */
function priorityOf(sys: string, kinds: { process: number; group: number; user: number }) {
  return (ctx: EmulatorContext): void => {
    const which = arg32(ctx.slots, 0);
    const who = arg32(ctx.slots, 1);
    if (which === kinds.user) return ctx.refuseAct(sys, 'every process of a user (tsyd is one)');
    if (which === kinds.process && who > 0 && stopsAt(ctx, sys, who)) return;
    if (which === kinds.group && ctx.isSupervisorGroup(who)) return ctx.refuseAct(sys, `process group ${who}`);
    cont();
  };
}

/** fcntl: only F_SETOWN (owner ≠ 0) and F_SETOWN_EX stop here. */
function fcntl(ctx: EmulatorContext): void {
  const cmd = arg32(ctx.slots, 1);
  if (cmd === F_SETOWN) {
    return ownerStops(ctx, 'fcntl', arg32(ctx.slots, 2)) ? undefined : cont();
  }
  if (cmd !== F_SETOWN_EX) return cont();
  // struct f_owner_ex { int type; pid_t pid; }: in memory, read once and set by tsyd.
  const data = readArg(ctx, 2, 8);
  if (data === null) return;
  const type = data.readInt32LE(0);
  const pid = data.readInt32LE(4);
  if (ownerStops(ctx, 'fcntl', type === F_OWNER_PGRP ? -pid : pid)) return;
  if (takeFdArg(ctx, 0) === null) return;
  native.fcntlOwnerTaken(type, pid);
}

/** ioctl(fd, FIOSETOWN | SIOCSPGRP, int *owner): as F_SETOWN, the owner read once. */
export function ioctlOwner(ctx: EmulatorContext, request: number): void {
  const data = readArg(ctx, 2, 4);
  if (data === null) return;
  if (ownerStops(ctx, 'ioctl', data.readInt32LE(0))) return;
  if (takeFdArg(ctx, 0) === null) return;
  native.ioctlTaken(request, data);
}


export function processHandlers(): Map<string, HandlerSpec> {
  const always = [] as const;
  const h = new Map<string, HandlerSpec>();
  h.set('kill', { caps: always, handle: kill });
  h.set('tkill', { caps: always, handle: byPid('tkill', 1) });
  h.set('tgkill', { caps: always, handle: byPid('tgkill', 2) });
  h.set('rt_sigqueueinfo', { caps: always, handle: byPid('rt_sigqueueinfo', 1) });
  h.set('rt_tgsigqueueinfo', { caps: always, handle: byPid('rt_tgsigqueueinfo', 2) });
  h.set('pidfd_open', { caps: always, handle: byPid('pidfd_open') });
  h.set('pidfd_send_signal', { caps: always, handle: pidfdSendSignal });
  h.set('setpgid', { caps: always, handle: setpgid });
  h.set('prlimit64', { caps: always, handle: prlimit });
  h.set('setrlimit', { caps: always, handle: (ctx) => coreLimit(ctx, 'setrlimit', ctx.slots[Slot.pid]!, 1, -1) });
  h.set('setpriority', { caps: always, handle: priorityOf('setpriority', { process: PRIO_PROCESS, group: PRIO_PGRP, user: PRIO_USER }) });
  h.set('ioprio_set', { caps: always, handle: priorityOf('ioprio_set', { process: IOPRIO_WHO_PROCESS, group: IOPRIO_WHO_PGRP, user: IOPRIO_WHO_USER }) });
  for (const sys of ['sched_setaffinity', 'sched_setparam', 'sched_setscheduler', 'sched_setattr']) h.set(sys, { caps: always, handle: byPid(sys) });
  h.set('fcntl', { caps: always, handle: fcntl });
  return h;
}

