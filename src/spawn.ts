// The library's entry: run one program under the supervisor, like child_process.spawn. The
// boot machine runs the whole life (export, spawn, monitor, wait, stop); the sandbox machine
// is the program's; the result is derived from their final snapshots (src/supervisor/result.ts).
import { EventEmitter } from 'node:events';
import { availableParallelism, constants as os } from 'node:os';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { createActor, fromCallback, fromPromise, toPromise, type Actor } from 'xstate';
import type { MonitorHandle } from './actors/monitor-handle.js';
import type { MonitorMessage } from './actors/monitor.worker.js';
import { TsydError, UsageError } from './errors.js';
import { exportStep } from './export/run-export.js';
import { credentialBounds } from './confine/emulator-filter.js';
import { createLogger, type TsydLogger } from './log.js';
import { bootMachine, type BootEvent, type SupervisorStop } from './machines/boot.machine.js';
import { sandboxMachine, type SandboxEvent } from './machines/sandbox.machine.js';
import { StateVisits } from './machines/visits.js';
import { EMULATOR_TABLES } from './shared/emulator-states.js';
import { native } from './native/addon.js';
import { WorkerData } from './shared/worker-data.js';
import { StateBoard } from './shared/state-board.js';
import { InspectSource, notStartedSnapshot, type InspectSnapshot } from './inspect/stream.js';
import { DecisionReader } from './supervisor/decisions.js';
import { unconfinedWarning } from './sandbox/build.js';
import { normaliseOptions, type SandboxConfig, type SpawnOptions } from './supervisor/options.js';
import { loadCryptKey, monitorConfig } from './supervisor/thread-configs.js';
import type { CryptConfig } from './shared/thread-config.js';
import { reapLeftovers, spawnProgram, watchProgram, type SpawnedProgram } from './supervisor/program.js';
import { failedResult, programStatus, sandboxResult, signalName, type SandboxResult } from './supervisor/result.js';
import { setInternals } from './supervisor/internals.js';
import { defaultSupervisor, type Supervisor } from './supervisor/supervisor.js';
import { abortedBeforeStart, Capture, Ending, writeInput } from './supervisor/output.js';
import type { SandboxedProcessEvents } from './supervisor/events.js';
import { mark } from './shared/timeline.js';

export type { Access, Violation } from './syscalls/context.js';
export type { SpawnOptions, StdioOption } from './supervisor/options.js';
export { DEFAULT_KEEP_ALIVE_MS, DEFAULT_KILL_GRACE_MS, DEFAULT_MAX_BUFFER, DEFAULT_MAX_EMULATORS } from './supervisor/options.js';
export type { SandboxedProcessEvents } from './supervisor/events.js';
export type { SandboxResult } from './supervisor/result.js';

type SandboxActor = Actor<typeof sandboxMachine>;
type Listener<E extends keyof SandboxedProcessEvents> = (...args: SandboxedProcessEvents[E]) => void;
type BootActor = Actor<typeof bootMachine>;

/** What the running sandbox holds; set by boot's steps, in order. */
interface SandboxParts {
  program: SpawnedProgram;
  sandbox: SandboxActor;
  reaperEnded: Promise<void>;
  wd: WorkerData;
  wakeFd: number;
  monitor?: MonitorHandle;
  /** Crypt sandboxing's key handle (dropped once the supervisor stopped). */
  crypt?: CryptConfig;
  /** With an IPC socket: the machines' states, for its `stat`. */
  board?: StateBoard;
}

/** The events, typed (SandboxedProcessEvents); other names fall back to EventEmitter's. */
export interface SandboxedProcess {
  on<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  once<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  off<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  addListener<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  removeListener<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  prependListener<E extends keyof SandboxedProcessEvents>(event: E, listener: Listener<E>): this;
  emit<E extends keyof SandboxedProcessEvents>(event: E, ...args: SandboxedProcessEvents[E]): boolean;
}

/**
 * A program running under tsyd. Its events and their arguments: SandboxedProcessEvents. One
 * error path: spawn() never throws and `result` never rejects; a program that cannot start (127
 * not found, 126 not executable), a bad option, policy or cwd (125) give a result with `error`
 * (and an 'error' event, when listened to), `pid` undefined.
 */
export class SandboxedProcess extends EventEmitter {
  /** The program's pid; undefined when it was not started (`result.error` says why). */
  readonly pid: number | undefined;
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  /** Settles when the program has ended and the supervisor has shut down. Never rejects. */
  readonly result: Promise<SandboxResult>;

  private readonly parts: SandboxParts | undefined;
  private readonly visits = new StateVisits();
  private readonly inspection: InspectSource | undefined;

  /** As spawn(file, args, options). */
  constructor(file: string, args: string[] = [], options: SpawnOptions = {}) {
    super();
    let config: SandboxConfig;
    try {
      config = normaliseOptions(file, args, options);
      mark('options.ready');
      if (config.signal?.aborted) throw abortedBeforeStart(config.signal);
    } catch (error) {
      this.result = this.failed(error);
      return;
    }
    const logger = createLogger({ level: config.logLevel, fd: config.logFd, format: config.logFormat }).child({ module: 'supervisor' });
    if (config.unconfined) process.nextTick(() => warnUnconfined(this, logger, file));
    const decisions = new DecisionReader({ access: (a) => this.emit('access', a), violation: (v) => this.emit('violation', v) }, config.record);
    let running: SandboxParts | undefined;
    const supervisor = options.supervisor ?? defaultSupervisor;
    const bootLogic = bootMachine.provide({ actors: this.bootActors(config, logger, decisions, supervisor, (r) => (running = r)) });
    const boot = createActor(bootLogic, { input: { exportMode: config.exportMode, program: true }, inspect: this.visits.observer('boot', bootLogic) });
    // Boot's steps up to the spawn answer at once: when start() returns, the program runs, or
    // boot has failed and nothing does.
    boot.start();
    const snap = boot.getSnapshot();
    if (snap.status === 'error' || snap.value === 'failed' || running === undefined) {
      void decisions.close();
      this.result = this.failed(snap.status === 'error' ? snap.error : (snap.context.startError ?? new Error(`boot stopped in ${JSON.stringify(snap.value)}`)));
      return;
    }
    const parts: SandboxParts = running;
    this.parts = parts;
    if (parts.board) {
      const board = parts.board;
      board.set('boot', boot.getSnapshot().value);
      boot.subscribe((s) => board.set('boot', s.value));
    }
    const { program } = parts;
    this.pid = program.pid;
    const visits = this.visits;
    setInternals(this, {
      reaperPid: program.reaperPid,
      supervisor: parts.wd,
      boot,
      sandbox: parts.sandbox,
      get monitor() {
        return parts.monitor;
      },
      stateVisits() {
        const names = EMULATOR_TABLES.core.names;
        const bits = parts.wd.visitedStates();
        visits.add('emulator', names.filter((_, code) => code > 0 && (bits & (1 << code)) !== 0));
        return visits.toJSON();
      },
    });
    const [stdin, stdout, stderr] = program.parentEnds;
    if (stdin !== undefined) this.stdin = new Socket({ fd: stdin, readable: false, writable: true });
    if (stdout !== undefined) this.stdout = new Socket({ fd: stdout, readable: true, writable: false });
    if (stderr !== undefined) this.stderr = new Socket({ fd: stderr, readable: true, writable: false });
    this.inspection = new InspectSource(this, { boot, sandbox: parts.sandbox, supervisor: parts.wd }, { coreSize: config.coreSize, policy: config.policy });
    this.result = this.finish(config, boot, decisions, logger);
  }

  /** The supervisor's live state: machines, pool counts, denials, the program (README: Inspector). */
  inspect(): InspectSnapshot {
    return this.inspection?.snapshot() ?? notStartedSnapshot();
  }

  /** The program has not ended yet (the sandbox machine is in one of its living states). */
  get running(): boolean {
    return this.parts !== undefined && !this.programEnded();
  }

  /** Sends a signal to the program (through its pidfd: never to a recycled pid). */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.parts === undefined || this.programEnded()) return false;
    const n = typeof signal === 'number' ? signal : os.signals[signal];
    if (n === undefined) throw new UsageError(`unknown signal ${String(signal)}`);
    return native.pidfdSendSignal(this.parts.program.pidfd, n) === 0;
  }

  /** The result of a sandbox that did not start; the 'error' event on the next tick (listeners are attached by then). */
  private async failed(error: unknown): Promise<SandboxResult> {
    const result = failedResult(error);
    await new Promise((r) => process.nextTick(r));
    this.announce(result);
    return result;
  }

  /** 'error' (when listened to) then 'exit'. */
  private announce(result: SandboxResult): void {
    if (result.error !== undefined && this.listenerCount('error') > 0) this.emit('error', result.error);
    this.emit('exit', result);
  }

  /** The program has ended (the sandbox machine left its living states). */
  private programEnded(): boolean {
    const v = this.parts!.sandbox.getSnapshot().value;
    return v !== 'spawning' && v !== 'running' && v !== 'execFailing';
  }

  /** Boot's actors for this sandbox. `started` receives what the spawn step made. */
  private bootActors(config: SandboxConfig, logger: TsydLogger, decisions: DecisionReader, supervisor: Supervisor, started: (r: SandboxParts) => void) {
    let running: SandboxParts | undefined;
    return {
      runExport: exportStep(config.exportMode ?? 'pfc', (machine) => this.visits.observer('export', machine), credentialBounds(config.policy.transits)),
      checkNumCpus: fromCallback<BootEvent>(({ sendBack }) => {
        const n = availableParallelism();
        logger.info({ ctx: 'boot', op: 'check_num_cpus', num_cpus: n }, `detected ${n} CPUs on the system`);
        sendBack({ type: 'cpus.checked' });
      }),
      spawnProgram: fromCallback<BootEvent>(({ sendBack }) => {
        try {
          running = this.startProgram(config, logger);
          started(running);
          sendBack({ type: 'program.spawned' });
        } catch (error) {
          sendBack({ type: 'program.failed', error });
        }
      }),
      startMonitor: fromPromise(async () => {
        const r = running!;
        r.crypt = loadCryptKey(config);
        const made = { ...r.program, wakeFd: r.wakeFd, shared: r.wd.buffer, decisions: decisions.ring.buffer, board: r.board?.buffer, programPid: r.program.pid };
        r.monitor = supervisor.serve(config, r.wd, monitorConfig(config, made, r.crypt), logger);
        r.monitor.on('event', (m: MonitorMessage) => {
          if (m.type === 'monitor.visited') this.visits.add('monitor', m.states);
          this.emit('supervisor', m);
        });
        r.monitor.once('monitor.done', (m: { exitCode: number }) => {
          // SAFETY: the supervisor failed: the program must not run on without it.
          if (m.exitCode !== 0 && !this.programEnded()) native.pidfdSendSignal(r.program.pidfd, 9);
        });
      }),
      waitProgram: fromPromise(async () => programStatus(await toPromise(running!.sandbox))),
      stopSupervisor: fromPromise<SupervisorStop>(async () => {
        mark('supervisor.stopping');
        const monitor = running?.monitor;
        const clean = monitor ? await monitor.stop() : true;
        if (monitor) await supervisor.release(monitor, clean);
        if (running?.crypt !== undefined) native.cryptKeyDrop(running.crypt.handle);
        mark('threads.stopped');
        const failed = monitor?.result && monitor.result.exitCode !== 0 ? monitor.result : undefined;
        return failed ? { clean, failure: failed.error ?? 'unknown' } : { clean };
      }),
    };
  }

  /** Spawns the program, starts its machine and its watch. */
  private startProgram(config: SandboxConfig, logger: TsydLogger): SandboxParts {
    const program = spawnProgram(config, logger);
    mark('program.spawned');
    logger.info(
      { ctx: 'spawn', op: 'spawn_program', pid: program.pid, core_size: config.coreSize, max_size: config.maxEmulators, keep_alive: config.keepAliveMs },
      'program started',
    );
    const wd = WorkerData.create(config.maxEmulators, config.maxBlockingCalls);
    // lock:on locks before anything runs; lock:exec once the program has started.
    if (config.policy.lock === 'on') wd.lock();
    let reaperEnded!: () => void;
    const reaped = new Promise<void>((r) => (reaperEnded = r));
    const machine = sandboxMachine.provide({ actors: { reapLeftovers: fromPromise(() => reapLeftovers(program, reaped, logger)) } });
    const sandbox = createActor(machine, { inspect: this.visits.observer('sandbox', machine) });
    const board = config.policy.ipc.address !== undefined ? StateBoard.create() : undefined;
    if (board) sandbox.subscribe((s) => board.set('sandbox', s.value));
    sandbox.start();
    board?.set('sandbox', sandbox.getSnapshot().value);
    watchProgram(
      program,
      {
        send: (event: SandboxEvent) => {
          sandbox.send(event);
          if (event.type === 'child.exec_ok') mark('exec.answered');
          if (event.type === 'child.exited' || event.type === 'child.signaled') mark('program.exited');
          if (event.type === 'child.exec_ok' && config.policy.lock === 'exec') wd.lock();
          if (event.type === 'child.exited' || event.type === 'child.signaled') {
            const { code, signal } = event as { code?: number; signal?: number };
            logger.info({ ctx: 'spawn', op: 'program_exit', pid: program.pid, code, signal: signal !== undefined ? signalName(signal) : null }, 'program ended');
          }
        },
        stopped: (signal) => this.emit('stop', signalName(signal)),
        continued: () => this.emit('continue'),
        reaperEnded: () => reaperEnded(),
      },
      logger,
    );
    if (config.skipConfinement) logger.error({ ctx: 'confine', op: 'skip_confinement' }, 'TSYD_SKIP_SCMP: supervisor threads stay unconfined (debugging only)');
    return { program, sandbox, reaperEnded: reaped, wd, wakeFd: native.eventfd(), board };
  }

  /** After boot's end: the fds closed, the denials read, the output gathered, the result built and announced. */
  private async finish(config: SandboxConfig, boot: BootActor, decisions: DecisionReader, logger: TsydLogger): Promise<SandboxResult> {
    const ending = new Ending((sig) => this.kill(sig), config.killGrace);
    if (config.signal) ending.watchSignal(config.signal);
    if (config.timeout !== undefined) ending.watchTimeout(config.timeout);
    const overflow = (name: string) => () =>
      ending.end('maxBuffer', new TsydError('ERR_CHILD_PROCESS_STDIO_MAXBUFFER', `${name} passed maxBuffer (${config.maxBuffer} bytes): the program was killed`));
    const out = config.buffer && this.stdout ? new Capture(this.stdout, config.maxBuffer, overflow('stdout')) : undefined;
    const err = config.buffer && this.stderr ? new Capture(this.stderr, config.maxBuffer, overflow('stderr')) : undefined;
    if (config.input !== undefined && this.stdin) writeInput(this.stdin, config.input);
    const bootOut = await toPromise(boot);
    const { program, sandbox, wakeFd, wd } = this.parts!;
    // What the benchmarks read (bench/macro.ts): boot has ended, so no emulator takes another request.
    const notifications = wd.notificationsReceived();
    logger.info({ ctx: 'spawn', op: 'notifications', count: notifications }, `${notifications} notifications received`);
    // SAFETY: boot ends without waiting for the program only when the monitor could not start:
    // the program must not outlive its supervisor.
    if (sandbox.getSnapshot().status !== 'done') native.pidfdSendSignal(program.pidfd, 9);
    const programOut = await toPromise(sandbox);
    ending.stop();
    // SAFETY: the listener and the wake fd are shared with the supervisor threads: closed only
    // once they have all ended (a live emulator must never poll a reused fd number).
    if (bootOut.cleanShutdown) {
      native.close(program.notifyFd);
      native.close(wakeFd);
    }
    native.close(program.pidfd);
    // A reaper still killing (the program's leftovers are stuck) is not waited for: it ends on its own.
    if (!programOut.stuck) await this.parts!.reaperEnded;
    native.close(program.reaperPidfd);
    native.close(program.controlFd);
    await decisions.close();
    // Nobody reads the program's stdin any more.
    this.stdin?.destroy();
    // The pipes reach EOF once the program and what it left behind (killed by now) have ended.
    await Promise.all([out?.done, err?.done]);
    const result = sandboxResult(programOut, bootOut, config.file, decisions);
    if (out) result.stdout = out.text();
    if (err) result.stderr = err.text();
    result.timedOut = ending.reason === 'timeout';
    result.aborted = ending.reason === 'abort';
    result.error ??= ending.error;
    mark('result.ready');
    this.announce(result);
    return result;
  }
}

/**
 * Starts `file` with `args` under the supervisor. Never throws: what keeps the program from
 * starting (options, policy, program, cwd) is in `result.error` and the 'error' event.
 */
export function spawn(file: string, args: string[] = [], options: SpawnOptions = {}): SandboxedProcess {
  return new SandboxedProcess(file, args, options);
}

/** Runs `file` to the end; resolves with the one result shape, also when it fails. Never rejects. */
export async function run(file: string, args: string[] = [], options: SpawnOptions = {}): Promise<SandboxResult> {
  return spawn(file, args, options).result;
}

/** The one warning of a sandbox with no capability on: to the 'warning' listeners (the CLI prints it), else logged. */
function warnUnconfined(child: SandboxedProcess, logger: TsydLogger, file: string): void {
  const message = unconfinedWarning(file);
  if (!child.emit('warning', { code: 'UNCONFINED', message })) logger.warn({ ctx: 'spawn', op: 'run_unconfined' }, message);
}
