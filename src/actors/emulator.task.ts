// Emulator thread (tsyd_emu): one piscina task is one emulator's whole life. It waits on the
// notify fd, decides, emulates, answers — the whole hot path stays in this thread. Core
// emulators run until should_exit; helpers retire after keep_alive idle.
import { existsSync, readFileSync } from 'node:fs';
import { constants as os } from 'node:os';
import type { TsydLogger } from '../log.js';
import { createThreadLogger } from '../thread-log.js';
import { reportThreadMemory } from '../shared/thread-memory.js';
import { Answer, MAX_WAITING_KIB, native, PATH_BUF_SIZE, Recv } from '../native/addon.js';
import { fromBytes, sameBytes, toBytes } from '../sandbox/bytes.js';
import { Policy, type PolicyData } from '../sandbox/policy.js';
import type { Access, EmulatorContext } from '../syscalls/context.js';
import type { EmulatorTask } from '../shared/thread-config.js';
import { formatIPv6 } from '../sandbox/address.js';
import { buildHandlerTable } from '../syscalls/index.js';
import { PolicyLog, PROGRAM_LOG_QUOTA } from '../shared/policy-log.js';
import { RuleBudgetError } from '../shared/runtime-rule-limits.js';
import { IpcSockets } from '../shared/ipc-sockets.js';
import { droppedCapabilities } from '../confine/capabilities.js';
import { DecisionRing } from '../shared/decision-ring.js';
import { isBelow } from '../proc/proc-tree.js';
import { EMULATOR_TABLES, EmuEvent } from '../shared/emulator-states.js';
import { WorkerData } from '../shared/worker-data.js';
import { Slot } from '../shared/slot.js';
import { Request } from '../syscalls/request.js';
import { mark } from '../shared/timeline.js';
import { runtimeCall } from '../agent/runtime-phase.js';
import { inContainer } from '../agent/caller-check.js';
import { denialBudget } from '../agent/denial-budget.js';
import { isNativeCall } from '../syscalls/abi.js';

const SIGALRM = 14;
/** The calls that run a program: decided even while a container's runtime makes them. */
const ALL_CAPABILITIES = Array.from({ length: 64 }, (_, i) => i);
const EXEC_NRS = new Set([native.syscalls.execve, native.syscalls.execveat].filter((n): n is number => n !== undefined));
const { E2BIG, EACCES, EINVAL, ENOSYS, EPERM, ESRCH } = os.errno;
/** Idle emulators look at the lock flag and keep_alive this often. */
const POLL_MS = 250;

let handlers: ReturnType<typeof buildHandlerTable> | undefined;
const pathBuf = Buffer.alloc(PATH_BUF_SIZE);

// Once per thread. The umask is 0 here: emulators share the monitor's private fs (it unshared
// CLONE_FS and set umask 0), so a mode is masked once, with the program's own umask.
// SIGALRM must reach this thread (it is blocked in the monitor): it is how a blocking call
// is interrupted.
native.threadSignalMask(1, [SIGALRM]);
native.setThreadName('tsyd_emu');
mark('emulator.loaded');
const tid = native.gettid();

// What this thread keeps across the sandboxes it serves (one task each): only what cannot be
// undone (confinement, lowered capabilities) and what depends on nothing of a sandbox.
let logs: { key: string; log: TsydLogger } | undefined;
/** The filter this thread loaded (filters stack and never come off). */
let confinedWith: Uint8Array | undefined;
/** The capabilities this thread dropped (from its effective set), as a key. */
let loweredKey: string | undefined;
let lastJobsAlert = 0;

/** The last locked policy this thread compiled, by its data (JSON). */
let lockedPolicy: { key: string; policy: Policy } | undefined;

/**
 * The sandbox's policy, compiled (globs, prefix tables: ~5-10 ms for the user profile).
 * SAFETY: reused only for a sandbox whose policy data is the same text and cannot change:
 * locked (lock:on, lock:exec), the program's control route is closed, no runtime rule is ever
 * added to it; a lock:off or lock:ipc policy is compiled anew for each sandbox (its rules change it).
 */
function policyFor(text: EmulatorTask['policy']): Policy {
  if (lockedPolicy?.key === text) return lockedPolicy.policy;
  const policy = Policy.fromJSON(JSON.parse(text) as PolicyData);
  if (policy.lock === 'on' || policy.lock === 'exec') lockedPolicy = { key: text, policy };
  return policy;
}

/** The task's logger; one per thread while the log settings stay the same. */
function loggerFor(config: EmulatorTask['log']): TsydLogger {
  const key = JSON.stringify(config);
  if (logs?.key !== key) logs = { key, log: createThreadLogger(config).child({ module: 'emulator' }) };
  return logs.log;
}

/**
 * SAFETY: whether this thread may serve `task`'s sandbox, given what earlier sandboxes left on it
 * that cannot be undone. A confined thread serves only a sandbox that confines its threads with
 * the same filter (lock:on, or lock:exec once the program runs; the filter denies only calls no
 * emulator makes for any sandbox, src/confine/thread-filters.ts): never a lock:off sandbox, whose
 * threads stay unconfined, nor one that skips confinement or would stack another filter. A
 * thread that dropped capabilities serves only a sandbox that drops the same ones (no more power
 * than the program, and no less: calls the program may make must not fail). The supervisor picks
 * threads by the same rules (src/supervisor/supervisor.ts): refusing here is the last line (the
 * task fails, the pool buries it and answers its request).
 */
function reusable(task: EmulatorTask, lock: string, drops: string): string | undefined {
  if (confinedWith !== undefined && (lock === 'off' || lock === 'ipc' || !sameBytes(confinedWith, task.confinement))) return 'confined, and this sandbox is not confined with the same filter';
  if (loweredKey !== undefined && loweredKey !== drops) return 'lowered other capabilities';
  return undefined;
}

function faultHook(spec: string | undefined): (path: string) => void {
  const crash = spec?.startsWith('crash-on:') ? spec.slice('crash-on:'.length) : undefined;
  const raise = spec?.startsWith('throw-on:') ? spec.slice('throw-on:'.length) : undefined;
  if (crash !== undefined) {
    return (path) => {
      // Test only: this thread dies in the middle of a request, as a crash would.
      if (fromBytes(path) === crash) process.exit(70);
    };
  }
  if (raise !== undefined) {
    return (path) => {
      // Test only: the handler throws in the middle of a request, as a bug would.
      if (fromBytes(path) === raise) throw new Error(`injected fault (TSYD_FAULT=throw-on:${raise})`);
    };
  }
  return () => {};
}

/**
 * What an emulator of a container (tsyd agent) drops at rest: every capability the container's
 * process does not have, and the policy's drops. It acts with each caller's credentials
 * (followCaller: the caller's capabilities within these), and a caller with the container's own
 * needs no switch. SAFETY: a container in a user namespace of its own has capabilities over that
 * namespace only: acting for it, this thread has none.
 */
function containerDrops(view: NonNullable<EmulatorTask['view']>, policy: Policy): number[] {
  if (view.otherUserNs) return ALL_CAPABILITIES;
  const has = new Set(view.capabilities);
  return [...new Set([...ALL_CAPABILITIES.filter((c) => !has.has(c)), ...droppedCapabilities(policy)])];
}

/** This process's group, from /proc/self/stat. */
function ownProcessGroup(): number {
  const stat = readFileSync('/proc/self/stat', 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/** tsyd's own process group (the reaper has one of its own). */
const supervisorGroup = ownProcessGroup();

export default function emulate(task: EmulatorTask): 'retired' | 'stopped' {
  // Per sandbox, never cached on the thread: the policy (runtime rules change it), its log of
  // runtime rules, the decision ring, the shared words, the reaper and the job table.
  const log = loggerFor(task.log);
  const policy = policyFor(task.policy);
  const decisions = new DecisionRing(task.decisions);
  const wd = new WorkerData(task.shared, task.maxEmulators);
  const rules = new PolicyLog(task.policyLog);
  const dropped = task.view === undefined ? droppedCapabilities(policy) : containerDrops(task.view, policy);
  const unfit = reusable(task, policy.lock, JSON.stringify(dropped));
  if (unfit !== undefined) throw new Error(`emulator thread ${tid} cannot serve this sandbox: ${unfit}`);
  handlers ??= buildHandlerTable();
  const handlerTable = handlers;
  const slot = wd.slot(task.slot);
  native.bindBuffers(slot, pathBuf, wd.ctl);
  // The request being handled: one object for this emulator's life, begun anew per notification.
  const req = new Request(slot, pathBuf);
  if (loweredKey === undefined) {
    // SAFETY: this thread acts for the program with the program's capabilities, not tsyd's
    // (addon/privilege.cc).
    native.lowerThreadCapabilities(dropped);
    loweredKey = JSON.stringify(dropped);
  }
  // The reaper's /proc entries are refused like tsyd's own; job threads write this sandbox's table.
  native.setReaperPid(task.reaperPid);
  // SAFETY: a container's paths are its own, looked up from its root (tsyd agent); every other
  // sandbox's from tsyd's (a thread that served a container before must not keep its view).
  const view = task.view;
  native.setViewRoot(view?.rootFd ?? -1, view?.ownPidNs ?? false);
  native.bindJobs(wd.jobs());
  // Test only: a call that may block holds this emulator (the pool's tests need one).
  native.setInlineBlocking(task.fault === 'inline-blocking');
  // Test only: the return to tsyd's credentials after a request served as the caller fails.
  native.setFailCredentialReturn(task.fault === 'setid-return-fails');
  // Test only: a job handed to an idle job thread waits there a while, as on a busy machine.
  native.setSlowJobPickup(task.fault === 'slow-job-pickup');
  // SAFETY: the IPC sockets the addon refuses are set before each connect is decided (ipc-guard.ts).
  const logger = log;
  const ring = decisions;

  // Every change of this emulator's state word is a step of the machine's table (compiled for
  // its kind): on the hot path an array read and a store, no allocation.
  const table = EMULATOR_TABLES[task.kind];
  let state = table.initial;
  let visited = Atomics.load(slot, Slot.visited);
  const step = (event: number) => {
    state = table.step(state, event);
    Atomics.store(slot, Slot.state, state);
    if ((visited & (1 << state)) === 0) Atomics.store(slot, Slot.visited, (visited |= 1 << state));
  };
  Atomics.store(slot, Slot.tid, tid);

  const audit = task.audit === true;
  const record = task.record === true;
  // `--log-level debug` (or trace): every decided access is logged, the allowed ones at debug
  // (README, Profiles: `-p off`). Read once: otherwise an allowed access costs no text.
  const logAllowed = logger.isLevelEnabled('debug');
  const traced = record || logAllowed;
  // SAFETY: a container (tsyd agent) writes a bounded number of denial records; tsyd run all.
  const logDenial = view === undefined ? () => true : denialBudget(wd.ctl, logger);
  /**
   * Logs and reports one decision; returns whether the call goes on. `policyFile`: a denial
   * that protects a policy file of this sandbox.
   */
  const decided = (allowed: boolean, a: Omit<Access, 'allowed' | 'pid'>, policyFile = false): boolean => {
    if (allowed) {
      if (logAllowed) logger.debug({ ctx: 'access', cap: a.cap, path: a.path, addr: a.addr, given: a.given, sys: a.sys, pid: req.pid }, `allowed ${a.cap} of ${a.path ?? a.addr}`);
      // Learning: every access must reach the owner: wait for room rather than drop.
      if (record) ring.push(JSON.stringify({ ...a, pid: req.pid, allowed: true } satisfies Access), true);
      return true;
    }
    // SAFETY: audit mode is an explicit choice (`--audit`) to let every denial through — but
    // for a policy file: the program must not change the policy of the next run, audited or not.
    const letThrough = audit && !policyFile;
    const v: Access = { ...a, pid: req.pid, allowed: false };
    if (letThrough) v.audit = true;
    const what = a.path ?? a.addr;
    const why = policyFile ? ': a policy file of this sandbox, or the way to one' : '';
    if (logDenial()) logger.warn({ ctx: 'access', cap: v.cap, path: a.path, addr: a.addr, given: a.given, sys: v.sys, pid: v.pid, audit: v.audit }, `${letThrough ? 'audit: would deny' : 'denied'} ${v.cap} of ${what}${why}`);
    ring.countViolation();
    ring.push(JSON.stringify(v), record);
    return letThrough;
  };
  const ctx: EmulatorContext = {
    req,
    policy,
    log: logger,
    logsRefusal: logDenial,
    audit,
    crypt: task.crypt,
    ipc: task.ipc,
    ipcSockets: new IpcSockets(task.ipcSockets),
    allows(cap, sys, path) {
      const allowed = policy!.check(cap, path);
      // The hot path: an allowed decision outside learning mode (and debug logs) needs no text for the path.
      if (allowed && !traced) return true;
      const text = fromBytes(path);
      // A name that is not UTF-8 loses bytes in `text`: its exact bytes ride along.
      const access = toBytes(text) === path ? { cap, path: text, sys } : { cap, path: text, pathBytes: path, sys };
      return decided(allowed, access, !allowed && policy!.changesPolicyFile(cap, path));
    },
    allowsAddress(cap, sys, family, addr, port, given) {
      const allowed = policy!.checkAddress(cap, family, addr, port);
      if (allowed && !traced && given === undefined) return true;
      const text = `${family === 4 ? addr.join('.') : formatIPv6(addr)}!${port}`;
      if (allowed && given !== undefined) logger.info({ ctx: 'net', op: 'any_address', cap, given, addr: text, sys, pid: req.pid }, `${given} decided as ${text}`);
      return allowed && !traced ? true : decided(allowed, { cap, addr: text, sys, ...(given !== undefined ? { given } : {}) });
    },
    allowsOtherFamily(cap, sys, family) {
      return decided(false, { cap, addr: `family ${family}`, sys });
    },
    control: {
      open: () => policy!.lock === 'off' && !wd.locked,
      apply(rule) {
        try {
          const stmt = rules.add(policy!, rule, 'program', PROGRAM_LOG_QUOTA);
          logger.notice({ ctx: 'policy', op: 'runtime_rule', rule: fromBytes(rule), pid: req.pid }, `the program changed the policy: ${fromBytes(rule)}`);
          // SAFETY: the program's own lock takes effect at once, for every thread (lock:ipc
          // only closes its own route: the IPC socket may still change the policy).
          if (stmt.type === 'lock' && (stmt.mode === 'on' || stmt.mode === 'exec')) wd.lock();
          return 0;
        } catch (err) {
          // SAFETY: over its budget (RUNTIME_RULE_LIMITS) is refused as a bad rule is: EINVAL.
          const why = err instanceof RuleBudgetError ? "a rule from the program over its run-time budget" : 'bad rule from the program';
          logger.warn({ ctx: 'policy', op: 'runtime_rule', rule: fromBytes(rule), pid: req.pid, err: String((err as Error).message) }, why);
          return EINVAL;
        }
      },
    },
    refuseAct(sys, target, answer = true) {
      const v: Access = { cap: 'containment', target, sys, pid: req.pid, allowed: false };
      if (logDenial()) logger.warn({ ctx: 'access', cap: v.cap, target, sys, pid: v.pid }, `refused ${sys} on ${target}`);
      ring.countViolation();
      ring.push(JSON.stringify(v), record);
      // SAFETY: never subject to audit mode: these calls would stop or starve the supervisor.
      if (answer) req.fail(EPERM);
    },
    jobsExhausted(sys, memory = false) {
      const now = Date.now();
      if (now - lastJobsAlert < 1000) return;
      lastJobsAlert = now;
      if (memory) logger.alert({ ctx: 'emulator', op: 'blocking_memory_exceeded', sys, pid: req.pid, max_kib: MAX_WAITING_KIB }, `the waiting calls already hold ${MAX_WAITING_KIB >> 10} MiB of the program's data: ${sys} answered EAGAIN`);
      else logger.alert({ ctx: 'emulator', op: 'blocking_capacity_exceeded', sys, pid: req.pid, max: wd.maxJobs }, `${wd.maxJobs} calls already wait for the program: ${sys} answered EAGAIN`);
    },
    isSupervisor(pid) {
      // SAFETY: kill(tid) signals the whole thread group of the thread: any of tsyd's threads
      // (emulators come and go) names tsyd itself.
      return pid === process.pid || pid === task.reaperPid || (pid > 0 && existsSync(`/proc/${process.pid}/task/${pid}`));
    },
    inSandbox(pid) {
      return isBelow(pid, task.reaperPid);
    },
    isSupervisorGroup(pgid) {
      return pgid > 0 && (pgid === supervisorGroup || pgid === task.reaperPid);
    },
    markBlocking(on) {
      Atomics.store(slot, Slot.blocking, on ? 1 : 0);
    },
    fault: faultHook(task.fault),
  };

  // While the program may change the policy, catch up with the rules other emulators applied.
  const dynamic = policy.lock === 'off' || policy.lock === 'ipc';
  // SafeSetID: with transits declared this thread acts with each caller's credentials (addon/act-as.cc);
  // without, nothing is read (transits cannot be added at run time).
  // A container's calls are always made with its process's credentials (tsyd agent): a
  // container's root has the runtime's few capabilities, not the agent's.
  const follow = policy.transits.declared || task.view !== undefined;
  const handleOne = () => {
    if (dynamic && rules.behind) rules.catchUp(policy!);
    req.begin();
    if (view !== undefined && !inContainer(req.pid, view)) {
      // SAFETY: the listener came with a claim (a container's pid) its caller does not match.
      native.respond(Answer.error, EPERM);
      if (logDenial()) logger.warn({ ctx: 'agent', op: 'foreign_caller', pid: req.pid, nr: req.nr }, 'a call from a process outside the container this listener was claimed for: refused');
      return;
    }
    // SAFETY: a call of another ABI (i386 `int $0x80`, x32) is never decided by its number, which
    // names another call here: ENOSYS, as tsyd run's filter answers it (abi.ts), and the kernel
    // once the listener is gone. Not EPERM: the call does not exist for the program, whatever its rights.
    if (!isNativeCall(req.arch, req.nr)) {
      native.respond(Answer.error, ENOSYS);
      if (logDenial()) logger.warn({ ctx: 'emulator', op: 'foreign_abi', arch: req.arch >>> 0, nr: req.nr, pid: req.pid }, `a call of another ABI (arch 0x${(req.arch >>> 0).toString(16)}, nr ${req.nr}): ENOSYS`);
      return;
    }
    if (view !== undefined && runtimeCall(req, view, wd.ctl, EXEC_NRS)) return;
    const nr = req.nr;
    const entry = handlerTable.get(nr);
    if (!entry) {
      native.respond(Answer.error, ENOSYS);
      logger.error({ ctx: 'emulator', op: 'unknown_syscall', nr }, 'notification for a system call without handler');
      return;
    }
    if (follow) {
      const r = native.followCaller(req.pid);
      if (r < 0) {
        // SAFETY: a call tsyd cannot perform with the caller's credentials is not performed.
        native.respond(Answer.error, EPERM);
        // E2BIG: more supplementary groups than tsyd acts with (addon/act-as.cc kMaxCallerGroups).
        const why = r === -E2BIG ? 'the caller has more than 1024 supplementary groups' : undefined;
        if (r !== -ESRCH && logDenial()) logger.error({ ctx: 'setid', op: 'follow_credentials', sys: entry.name, pid: req.pid, err: -r, why }, `cannot act with the caller's credentials${why ? ` (${why})` : ''}: refused`);
        return;
      }
    }
    try {
      entry.handle(ctx);
    } catch (err) {
      // SAFETY: a bug in a handler (or a log write that failed) must not leave the program
      // waiting, nor let the call through: answer EACCES first (a no-op if already answered).
      native.respond(Answer.error, EACCES);
      Atomics.store(slot, Slot.blocking, 0);
      try {
        logger.error({ ctx: 'emulator', op: 'handler_failed', sys: entry.name, err: String(err) }, 'handler threw');
      } catch {
        // the log itself is what failed
      }
    }
  };

  // Test only (TSYD_FAULT=stuck-start): every emulator but the first stays in its start.
  if (task.fault === 'stuck-start' && task.slot > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  step(EmuEvent.ready);
  mark('emulator.ready');
  const helper = task.kind === 'helper';
  let seq = slot[Slot.seq]!;
  logger.debug({ ctx: 'emulator', op: 'start_emulator', slot: task.slot, kind: task.kind, tid }, 'emulator ready');
  reportThreadMemory(logger, 'emulator');
  let notifyFd = task.notifyFd;
  let lastWork = Date.now();
  const timeout = task.kind === 'helper' ? Math.min(POLL_MS, task.keepAliveMs) : POLL_MS;
  for (;;) {
    if (confinedWith === undefined && task.confinement && wd.locked) {
      // confine-when-locked: this thread (and threads it would create) loses execve & co.
      native.loadThreadFilter(task.confinement);
      confinedWith = task.confinement;
      logger.info({ ctx: 'confine', op: 'confine_emulator_thread', tid }, 'emulator thread confined');
      // Test only (TSYD_FAULT=probe-exec): show that this thread can no longer execve.
      if (task.fault === 'probe-exec') logger.warn({ ctx: 'confine', op: 'probe_execve', tid, err: -native.probeExecve() }, 'execve probe');
    }
    const r = native.recv(notifyFd, task.wakeFd, timeout);
    if (r === Recv.got || r === Recv.gotExhausted) {
      // The hot path: idle → busy → idle, two steps of the table. The busy count is kept by
      // the addon: +1 in recv, -1 right before the answer (with synchronous wake-up this thread
      // yields to the program at the answer, and a request already answered must not look busy
      // to the monitor).
      slot[Slot.seq] = ++seq;
      step(EmuEvent.received);
      if (r === Recv.gotExhausted) wd.tellExhausted(); // every emulator is busy: the monitor may grow the pool
      handleOne();
      native.endRequest();
      step(EmuEvent.answered);
      if (helper) lastWork = Date.now();
      continue;
    }
    if (wd.shouldExit) {
      step(EmuEvent.shouldExit);
      native.leaveSandbox();
      wd.addCurr(-1);
      return 'stopped';
    }
    // After a hang-up no task uses the filter any more: nothing can arrive again.
    if (r === Recv.hangup) notifyFd = -1;
    else if (r < 0 && notifyFd >= 0) {
      logger.error({ ctx: 'emulator', op: 'recv_failed', err: -r }, 'receiving a notification failed');
      notifyFd = -1;
    }
    if (helper && Date.now() - lastWork >= task.keepAliveMs) {
      step(EmuEvent.keepAliveExpired);
      native.leaveSandbox();
      wd.addCurr(-1);
      logger.debug({ ctx: 'spawn', op: 'retire_helper_emulator', slot: task.slot, ...wd.counts() }, 'helper emulator retired');
      return 'retired';
    }
  }
}
