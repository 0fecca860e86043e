// The library's entry: run one program under the supervisor, like child_process.spawn.
import { EventEmitter } from 'node:events';
import { openSync } from 'node:fs';
import { Socket } from 'node:net';
import { availableParallelism, constants as os } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { DecisionRing } from './shared/decision-ring.js';
import type { Access, Violation } from './syscalls/context.js';
import { confinementFilter } from './confine/thread-filters.js';
import { buildChildFilter, enforcedCapabilities } from './syscalls/index.js';
import { MonitorHandle } from './actors/monitor-handle.js';
import { PolicyLog } from './shared/policy-log.js';
import type { MonitorData, MonitorMessage } from './actors/monitor.worker.js';
import { createActor, fromPromise, toPromise, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { bootMachine } from './machines/boot.machine.js';
import { sandboxMachine } from './machines/sandbox.machine.js';
import { Ctl, DEFAULT_MAX_JOBS, WorkerData } from './shared/worker-data.js';
import { PolicyError, SystemCallError, TsydError, UsageError } from './errors.js';
import { CAPABILITIES } from './sandbox/rules.js';
import { createLogger, isLogLevel, type LogLevel } from './log.js';
import { ChildEvent, native, sys } from './native/addon.js';
import { REAPER_PID_PLACEHOLDER } from './confine/program-filter.js';
import { droppedCapabilities } from './confine/capabilities.js';
import { descendants, killLeftovers } from './leftovers.js';
import { resolveProgram, startFailureStatus } from './program.js';
import { buildPolicy, profileContext, type PolicyInput } from './sandbox/build.js';
import { Policy } from './sandbox/policy.js';
import { InspectSource, type InspectSnapshot } from './inspect/stream.js';

export type { Access, Violation } from './syscalls/context.js';
export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

export interface SpawnOptions {
  /** Rules (`{rule}`), policy files (`{file}`), profiles (`{profile}`) applied in order, or a ready Policy. @default the user profile */
  policy?: Policy | PolicyInput[];
  /** Environment of the program. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Working directory of the program. @default process.cwd() */
  cwd?: string;
  /** One option for all three, or one each for stdin, stdout, stderr. @default 'inherit' */
  stdio?: StdioOption | [StdioOption, StdioOption, StdioOption];
  /** @default 'warn' (or $TSYD_LOG) */
  logLevel?: LogLevel;
  /** @default 2 (or $TSYD_LOG_FD) */
  logFd?: number;
  /** Core emulator threads (never retire). @default $TSYD_NPROC or the number of CPUs */
  emulators?: number;
  /** Most emulator threads at once (EMU_MAX_SIZE). @default $TSYD_NPROC_MAX or 128 */
  maxEmulators?: number;
  /** Milliseconds a helper emulator stays idle before it retires. @default $TSYD_KEEP_ALIVE or 5000 */
  keepAliveMs?: number;
  /**
   * Most calls of the program that may wait at once (FIFO and device opens, blocking connects
   * and sends), each on a small job thread; the next one gets EAGAIN. @default $TSYD_BLOCKING_MAX or 1024
   */
  maxBlockingCalls?: number;
  /** Audit mode: every denial is logged and reported as a violation, then allowed. @default false */
  audit?: boolean;
  /** Report every decision (allowed ones too) as an 'access' event (learning mode). @default false */
  record?: boolean;
  /**
   * The program runs in a process group of its own. When this process's group is the foreground
   * of its controlling terminal, the terminal goes to the program's group while it runs (Ctrl-C
   * and Ctrl-Z reach the program, once) and comes back when it ends: `true` always (the CLI),
   * `'stdin'` when the program's stdin is that terminal (a host that keeps its own input), `false`
   * never. @default 'stdin'
   */
  foreground?: boolean | 'stdin';
}

/** Defaults, justified in README (Pool). */
export const DEFAULT_MAX_EMULATORS = 128;
export const DEFAULT_KEEP_ALIVE_MS = 5000;

export interface SandboxResult {
  /** The program's exit code; 128+N when killed by signal N; 127/126 when it could not start. */
  exitCode: number;
  /** The signal that killed the program, if any. */
  signal: NodeJS.Signals | null;
  /** Accesses the policy denied (the first 1000; `violationCount` has the total). */
  violations: Violation[];
  violationCount: number;
  /** Why the program could not be started (exit code 126/127). */
  error?: TsydError;
  /**
   * False when an emulator thread could not be stopped (blocked in a call that ignores
   * signals): the process then cannot exit normally, as Node waits for its threads.
   */
  cleanShutdown: boolean;
}

const MAX_KEPT_VIOLATIONS = 1000;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(os.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

function envList(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

function positiveInt(name: string, value: unknown, max = 4096): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  return n;
}

function envOr(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * A program running under tsyd. Emits 'violation' (Violation), 'access' (Access, every decision,
 * with `record`), 'inspect' (InspectEvent: a machine's state or the pool's counts changed) and
 * 'exit' (SandboxResult).
 */
export class SandboxedProcess extends EventEmitter {
  readonly pid: number;
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  /** Settles when the program has ended and the supervisor has shut down. Never rejects. */
  readonly result: Promise<SandboxResult>;

  private readonly pidfd: number;
  private exited = false;
  /** @internal the program's parent (tsyd's reaper). */
  readonly reaperPid: number;
  /** @internal the supervisor's shared words (counts, slots), for tests and the visualizer. */
  readonly supervisor: WorkerData;
  /** @internal the monitor thread's handle, once started. */
  monitor: MonitorHandle | undefined;
  /** @internal the boot machine's and the program's actors (live state for the visualizer). */
  readonly boot: AnyActorRef;
  readonly sandbox: ActorRefFrom<typeof sandboxMachine>;
  private readonly inspection: InspectSource;

  /** @internal use spawn() */
  constructor(file: string, args: string[], options: SpawnOptions) {
    super();
    const context = () => profileContext({ cwd: options.cwd, env: options.env, program: resolveProgram(file, (options.env ?? process.env).PATH, options.cwd) });
    const policy = options.policy instanceof Policy ? options.policy : buildPolicy(options.policy ?? [], context);
    // SAFETY: a capability turned on that tsyd does not enforce would confine nothing while
    // the user believes it does: refuse to start. Only the default profile (no policy given)
    // is trimmed to what this version enforces, so that a bare `tsyd run` works.
    const enforced = enforcedCapabilities();
    const isDefault = !(options.policy instanceof Policy) && (options.policy ?? []).length === 0;
    for (const cap of CAPABILITIES) {
      if (isDefault && policy.isOn(cap) && !enforced.has(cap)) policy.apply({ type: 'sandbox', caps: [cap], on: false });
      if (policy.isOn(cap) && !enforced.has(cap)) {
        throw new PolicyError(`sandbox/${cap}:on: the ${cap} capability is not enforced by this version of tsyd (enforced: ${[...enforced].join(', ')})`);
      }
    }
    const logLevel = options.logLevel ?? envLogLevel();
    const logFd = options.logFd ?? (process.env.TSYD_LOG_FD ? positiveIntOrZero('TSYD_LOG_FD', process.env.TSYD_LOG_FD) : 2);
    const emulators = positiveInt('emulators', options.emulators ?? envOr('TSYD_NPROC') ?? availableParallelism());
    const maxEmulators = positiveInt('maxEmulators', options.maxEmulators ?? envOr('TSYD_NPROC_MAX') ?? Math.max(DEFAULT_MAX_EMULATORS, emulators));
    if (maxEmulators < emulators) throw new UsageError(`TSYD_NPROC_MAX (${maxEmulators}) is below TSYD_NPROC (${emulators})`);
    const keepAliveMs = positiveInt('keepAliveMs', options.keepAliveMs ?? envOr('TSYD_KEEP_ALIVE') ?? DEFAULT_KEEP_ALIVE_MS, 86_400_000);
    const maxBlockingCalls = positiveInt('maxBlockingCalls', options.maxBlockingCalls ?? envOr('TSYD_BLOCKING_MAX') ?? DEFAULT_MAX_JOBS, 65536);
    const skipConfinement = process.env.TSYD_SKIP_SCMP !== undefined && process.env.TSYD_SKIP_SCMP !== '';
    const env = options.env ?? process.env;
    const record = options.record === true;
    const logger = createLogger({ level: logLevel, fd: logFd }).child({ module: 'supervisor' });
    const path = resolveProgram(file, env.PATH, options.cwd);
    const [stdio, parentEnds, opened] = openStdio(options.stdio ?? 'inherit');

    // SAFETY: a program running as the same user must not be able to ptrace tsyd, take its
    // fds with pidfd_getfd or open its /proc/<pid>/mem; the program itself gets a fresh
    // dumpable flag at execve. (Also in library use: the host process is what is protected.)
    // An unprivileged tsyd binds UNIX sockets under the program's own name in a user namespace
    // of its own, whose id map it can write only while dumpable (addon/unixbind.cc). Without
    // one (user namespaces off), those binds keep a /proc name (README).
    native.makeBindUserNs();
    native.setDumpable(false);
    let spawned;
    try {
      spawned = sys(() =>
        native.spawn({
          file: path,
          argv: [file, ...args],
          env: envList(env),
          cwd: options.cwd,
          stdio,
          filter: buildChildFilter(policy),
          dropCapabilities: droppedCapabilities(policy),
          foreground: options.foreground === true ? 1 : options.foreground === false ? 0 : 2,
          reaperPlaceholder: REAPER_PID_PLACEHOLDER,
        }),
      );
    } catch (err) {
      for (const fd of [...opened, ...parentEnds]) if (fd !== undefined) native.close(fd);
      throw err;
    }
    for (const fd of opened) native.close(fd);
    // Measured (bench/micro.ts): synchronous wake-up lets the kernel switch straight to the
    // emulator, halving a CONTINUE answer on this 2-CPU machine kind (25 → 13 µs) with no loss
    // for emulated opens. TSYD_SYNC_WAKEUP=0 turns it off.
    if (process.env.TSYD_SYNC_WAKEUP !== '0') {
      try {
        native.setNotifyFlags(spawned.notifyFd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
      } catch (err) {
        logger.info({ ctx: 'spawn', op: 'sync_wake_up', err: (err as { errno?: number }).errno }, 'synchronous wake-up unavailable (Linux < 6.6)');
      }
    }
    this.pid = spawned.pid;
    this.pidfd = spawned.pidfd;
    this.reaperPid = spawned.reaperPid;
    if (parentEnds[0] !== undefined) this.stdin = new Socket({ fd: parentEnds[0], readable: false, writable: true });
    if (parentEnds[1] !== undefined) this.stdout = new Socket({ fd: parentEnds[1], readable: true, writable: false });
    if (parentEnds[2] !== undefined) this.stderr = new Socket({ fd: parentEnds[2], readable: true, writable: false });
    logger.info({ ctx: 'spawn', op: 'spawn_program', pid: spawned.pid, core_size: emulators, max_size: maxEmulators, keep_alive: keepAliveMs }, 'program started');

    const violations: Violation[] = [];
    let violationCount = 0;
    // SAFETY: decisions come through a ring of fixed size (constant memory under a flood of
    // denials); a denial that finds it full is counted, not kept (the log has it).
    const decisions = DecisionRing.create();
    const onDecision = (json: string) => {
      const a = JSON.parse(json) as Access;
      if (record) this.emit('access', a);
      if (a.allowed) return;
      const { allowed: _, ...v } = a;
      violationCount++;
      if (violations.length < MAX_KEPT_VIOLATIONS) violations.push(v);
      this.emit('violation', v);
    };
    let reading = true;
    const decisionsRead = (async () => {
      let seen = decisions.writes;
      while (reading) {
        decisions.drain(onDecision);
        seen = await decisions.written(seen, 1000);
      }
      decisions.drain(onDecision);
    })();

    const wd = WorkerData.create(maxEmulators, maxBlockingCalls);
    this.supervisor = wd;
    // lock:on locks before anything runs; lock:exec once the program has started.
    if (policy.lock === 'on') Atomics.store(wd.ctl, Ctl.locked, 1);
    if (skipConfinement) logger.error({ ctx: 'confine', op: 'skip_confinement' }, 'TSYD_SKIP_SCMP: supervisor threads stay unconfined (debugging only)');
    const wakeFd = native.eventfd();
    const monitorData: MonitorData = {
      notifyFd: spawned.notifyFd,
      pidfd: spawned.pidfd,
      wakeFd,
      shared: wd.buffer,
      reaperPid: spawned.reaperPid,
      maxEmulators,
      coreSize: emulators,
      keepAliveMs,
      policy: policy.toJSON(),
      log: { level: logLevel, fd: logFd },
      decisions: decisions.buffer,
      audit: options.audit === true,
      record,
      policyLog: PolicyLog.create().buffer,
      emulatorFilter: skipConfinement ? undefined : confinementFilter('emulator'),
      interrupterFilter: skipConfinement ? undefined : confinementFilter('interrupter'),
      fault: process.env.TSYD_FAULT || undefined,
    };

    // The program's life (sandbox machine), fed by the native watcher of the reaper's reports.
    this.sandbox = createActor(sandboxMachine).start();
    let startError: TsydError | undefined;
    let resolveReaper: (r: { code: number; signal: number }) => void = () => {};
    let reaperStuck = false;
    const reaperEnded = new Promise<{ code: number; signal: number }>((r) => (resolveReaper = r));
    const programEnded = new Promise<{ exitCode: number; signal: NodeJS.Signals | null }>((resolve) => {
      const ended = (a: number, b: number) => {
        if (this.exited) return;
        this.exited = true;
        // The terminal comes back to tsyd's group (if the program's group still has it).
        native.terminalForeground(spawned.pid, 0);
        if (b !== 0) this.sandbox.send({ type: 'child.signaled', signal: b });
        else this.sandbox.send({ type: 'child.exited', code: a });
        const signal = b !== 0 ? signalName(b) : null;
        let exitCode = b !== 0 ? 128 + b : a;
        if (startError instanceof SystemCallError && startError.syscall === 'execve') exitCode = startFailureStatus(startError.errno);
        else if (startError) exitCode = 125;
        logger.info({ ctx: 'spawn', op: 'program_exit', pid: spawned.pid, code: exitCode, signal }, 'program ended');
        resolve({ exitCode, signal });
      };
      native.watchChild(spawned.reaperPidfd, spawned.statusFd, spawned.controlFd, (kind, a, b, syscall) => {
        switch (kind) {
          case ChildEvent.exec:
            if (a !== 0) {
              startError = new SystemCallError(syscall, a, { path: file });
              this.sandbox.send({ type: 'child.exec_failed', errno: a });
            } else {
              this.sandbox.send({ type: 'child.exec_ok' });
              // lock:exec locks once the program is running.
              if (policy.lock === 'exec') Atomics.store(wd.ctl, Ctl.locked, 1);
            }
            return;
          case ChildEvent.ended:
            return ended(a, b);
          case ChildEvent.stopped:
            this.emit('stop', signalName(a));
            return;
          case ChildEvent.continued:
            this.emit('continue');
            return;
          case ChildEvent.reaperEnded:
            if (!this.exited) {
              // SAFETY: the reaper died while the program ran (it is protected from the program's
              // signals; this should not happen): the program died with it (PDEATHSIG).
              logger.alert({ ctx: 'spawn', op: 'reaper_died', code: a, signal: b }, 'the reaper ended before the program');
              ended(-1, 9);
            }
            resolveReaper({ code: a, signal: b });
        }
      });
    });

    let monitor: MonitorHandle | undefined;
    let cleanShutdown = true;
    const boot = createActor(
      bootMachine.provide({
        actors: {
          checkNumCpus: fromPromise(async () => {
            const n = availableParallelism();
            logger.info({ ctx: 'boot', op: 'check_num_cpus', num_cpus: n }, `detected ${n} CPUs on the system`);
          }),
          startMonitor: fromPromise(async () => {
            monitor = new MonitorHandle(wd, monitorData, logger);
            this.monitor = monitor;
            monitor.on('event', (m: MonitorMessage) => this.emit('supervisor', m));
            monitor.once('monitor.done', (m: { exitCode: number }) => {
              // SAFETY: the supervisor failed: the program must not run on without it.
              if (m.exitCode !== 0 && !this.exited) native.pidfdSendSignal(spawned.pidfd, 9);
            });
          }),
          waitProgram: fromPromise(async () => {
            const { exitCode } = await programEnded;
            // SAFETY: the program's orphans (now the reaper's children) ran under the same
            // filter: they must not run on once tsyd stops answering (their decided calls would
            // fail with ENOSYS, the rest would go on, holding our stdout). Killed before the
            // supervisor stops, whatever state they are in.
            const { killed, left } = await killLeftovers(spawned.reaperPid, 1000);
            if (killed > 0) logger.info({ ctx: 'spawn', op: 'kill_leftovers', count: killed }, `killed ${killed} processes the program left behind`);
            // Released, the reaper kills its children until it has none (a chain that changes
            // pid faster than /proc can be listed comes to it, the subreaper), then exits.
            native.releaseReaper(spawned.controlFd);
            const reaperGone = await Promise.race([reaperEnded, new Promise<null>((r) => setTimeout(r, 5000, null).unref())]);
            if (reaperGone === null) {
              // SAFETY: processes of the sandbox did not end (a process in uninterruptible
              // sleep): a critical failure. The reaper is never killed for it: it goes on
              // killing them, after tsyd too; killed, it would hand them to init.
              reaperStuck = true;
              logger.alert({ ctx: 'spawn', op: 'kill_leftovers', count: Math.max(left, descendants(spawned.reaperPid).size) }, `processes the program left behind did not end: the reaper (pid ${spawned.reaperPid}) goes on killing them`);
              return 101;
            }
            return exitCode;
          }),
          stopSupervisor: fromPromise(async () => {
            cleanShutdown = monitor ? await monitor.stop() : true;
            const failed = monitor?.result && monitor.result.exitCode !== 0 ? monitor.result : undefined;
            return failed ? failed.exitCode : 0;
          }),
        },
      }),
      { input: { exportMode: undefined } },
    );
    this.boot = boot;
    boot.start();
    this.inspection = new InspectSource(this, { coreSize: emulators, policy });

    this.result = toPromise(boot).then(async (out) => {
      const { signal } = await programEnded;
      // SAFETY: the listener and the wake fd are shared with the supervisor threads: closed only
      // once they have all ended (a live emulator must never poll a reused fd number).
      if (cleanShutdown) {
        native.close(spawned.notifyFd);
        native.close(wakeFd);
      }
      native.close(spawned.pidfd);
      // A reaper still killing (critical failure above) is not waited for: it ends on its own.
      if (!reaperStuck) await reaperEnded;
      native.close(spawned.reaperPidfd);
      native.close(spawned.controlFd);
      reading = false;
      decisions.wake();
      await decisionsRead;
      violationCount += decisions.dropped;
      // Nobody reads the program's stdin any more.
      this.stdin?.destroy();
      const result: SandboxResult = { exitCode: out.exitCode, signal, violations, violationCount, cleanShutdown };
      if (startError) result.error = startError;
      else if (monitor?.result && monitor.result.exitCode !== 0) {
        result.error = new TsydError('ESUPERVISOR', `supervisor failed: ${monitor.result.error ?? 'unknown'}`);
      }
      this.emit('exit', result);
      return result;
    });
  }

  /** The supervisor's live state: machines, pool counts, denials, the program (README: Inspector). */
  inspect(): InspectSnapshot {
    return this.inspection.snapshot();
  }

  /** Sends a signal to the program (through its pidfd: never to a recycled pid). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false;
    const n = typeof signal === 'number' ? signal : os.signals[signal];
    if (n === undefined) throw new UsageError(`unknown signal ${String(signal)}`);
    return native.pidfdSendSignal(this.pidfd, n) === 0;
  }
}

function positiveIntOrZero(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a file descriptor number, got '${value}'`);
  return n;
}

function envLogLevel(): LogLevel {
  const v = process.env.TSYD_LOG;
  if (v === undefined || v === '') return 'warn';
  if (!isLogLevel(v)) throw new UsageError(`TSYD_LOG must be one of trace, debug, info, notice, warn, error, alert, fatal, silent; got '${v}'`);
  return v;
}

/**
 * The child's three fds (-1 = inherit), tsyd's ends of 'pipe's, and the fds opened here
 * for the child only (closed in tsyd once the child has them).
 */
function openStdio(opt: SpawnOptions['stdio']): [[number, number, number], Array<number | undefined>, number[]] {
  const each = Array.isArray(opt) ? opt : [opt, opt, opt];
  const child: [number, number, number] = [-1, -1, -1];
  const parent: Array<number | undefined> = [undefined, undefined, undefined];
  const opened: number[] = [];
  each.forEach((o, i) => {
    if (o === 'inherit' || o === undefined) return;
    if (o === 'ignore') {
      child[i] = openSync('/dev/null', i === 0 ? 'r' : 'w');
      opened.push(child[i]);
    } else if (o === 'pipe') {
      const [r, w] = native.pipe2();
      child[i] = i === 0 ? r : w;
      parent[i] = i === 0 ? w : r;
      opened.push(child[i]);
    } else if (typeof o === 'number' && Number.isInteger(o) && o >= 0) child[i] = o;
    else throw new UsageError(`stdio[${i}] must be 'inherit', 'pipe', 'ignore' or an fd, got ${String(o)}`);
  });
  return [child, parent, opened];
}

/** Starts `file` with `args` under the supervisor. Throws for bad options or policy. */
export function spawn(file: string, args: string[] = [], options: SpawnOptions = {}): SandboxedProcess {
  return new SandboxedProcess(file, args, options);
}

/** Runs `file` to the end; resolves with the one result shape, also when it fails. */
export async function run(file: string, args: string[] = [], options: SpawnOptions = {}): Promise<SandboxResult> {
  return spawn(file, args, options).result;
}

