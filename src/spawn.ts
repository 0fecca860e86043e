// The library's entry: run one program under the supervisor, like child_process.spawn.
import { EventEmitter } from 'node:events';
import { openSync } from 'node:fs';
import { Socket } from 'node:net';
import { availableParallelism, constants as os } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { EmulatorPool } from './actors/emulator-pool.js';
import type { Violation } from './actors/emulator-context.js';
import { buildChildFilter } from './actors/handlers/index.js';
import { SystemCallError, TsydError, UsageError } from './errors.js';
import { createLogger, isLogLevel, type LogLevel, type TsydLogger } from './log.js';
import { native, sys } from './native/addon.js';
import { resolveProgram, startFailureStatus } from './program.js';
import { buildPolicy, type PolicyInput } from './sandbox/build.js';
import { Policy } from './sandbox/policy.js';

export type { Violation } from './actors/emulator-context.js';
export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

export interface SpawnOptions {
  /** Rules (`{rule}`), policy files (`{file}`) applied in order, or a ready Policy. @default no rules: every capability off */
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
  /** Emulator threads. @default $TSYD_NPROC or the number of CPUs */
  emulators?: number;
}

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

function positiveInt(name: string, value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`${name} must be an integer from 1 to 4096, got ${String(value)}`);
  return n;
}

/** A program running under tsyd. Emits 'violation' (Violation) and 'exit' (SandboxResult). */
export class SandboxedProcess extends EventEmitter {
  readonly pid: number;
  readonly stdin: Writable | null = null;
  readonly stdout: Readable | null = null;
  readonly stderr: Readable | null = null;
  /** Settles when the program has ended and the supervisor has shut down. Never rejects. */
  readonly result: Promise<SandboxResult>;

  private readonly pidfd: number;
  private exited = false;

  /** @internal use spawn() */
  constructor(file: string, args: string[], options: SpawnOptions) {
    super();
    const policy = options.policy instanceof Policy ? options.policy : buildPolicy(options.policy ?? []);
    const logLevel = options.logLevel ?? envLogLevel();
    const logFd = options.logFd ?? (process.env.TSYD_LOG_FD ? positiveIntOrZero('TSYD_LOG_FD', process.env.TSYD_LOG_FD) : 2);
    const emulators = positiveInt('emulators', options.emulators ?? process.env.TSYD_NPROC ?? availableParallelism());
    const env = options.env ?? process.env;
    const logger = createLogger({ level: logLevel, fd: logFd }).child({ module: 'supervisor' });
    const path = resolveProgram(file, env.PATH, options.cwd);
    const [stdio, parentEnds, opened] = openStdio(options.stdio ?? 'inherit');

    let spawned;
    try {
      spawned = sys(() =>
        native.spawn({
          file: path,
          argv: [file, ...args],
          env: envList(env),
          cwd: options.cwd,
          stdio,
          filter: buildChildFilter(),
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
    if (parentEnds[0] !== undefined) this.stdin = new Socket({ fd: parentEnds[0], readable: false, writable: true });
    if (parentEnds[1] !== undefined) this.stdout = new Socket({ fd: parentEnds[1], readable: true, writable: false });
    if (parentEnds[2] !== undefined) this.stderr = new Socket({ fd: parentEnds[2], readable: true, writable: false });
    logger.info({ ctx: 'spawn', op: 'spawn_program', pid: spawned.pid, emulators }, 'program started');

    const violations: Violation[] = [];
    let violationCount = 0;
    const pool = new EmulatorPool({
      size: emulators,
      notifyFd: spawned.notifyFd,
      policy: policy.toJSON(),
      log: { level: logLevel, fd: logFd },
      logger,
      onViolation: (v) => {
        violationCount++;
        if (violations.length < MAX_KEPT_VIOLATIONS) violations.push(v);
        this.emit('violation', v);
      },
    });

    this.result = new Promise<SandboxResult>((resolve) => {
      let startError: TsydError | undefined;
      native.watchChild(spawned.pidfd, spawned.statusFd, (kind, a, b, syscall) => {
        if (kind === 0) {
          if (a !== 0) startError = new SystemCallError(syscall, a, { path: file });
          return;
        }
        this.exited = true;
        const signal = b !== 0 ? signalName(b) : null;
        let exitCode = b !== 0 ? 128 + b : a;
        if (startError instanceof SystemCallError && startError.syscall === 'execve') exitCode = startFailureStatus(startError.errno);
        else if (startError) exitCode = 125;
        logger.info({ ctx: 'spawn', op: 'program_exit', pid: spawned.pid, code: exitCode, signal }, 'program ended');
        void pool.stop().then((stopped) => {
          native.close(spawned.notifyFd);
          native.close(spawned.pidfd);
          const result: SandboxResult = { exitCode, signal, violations, violationCount, cleanShutdown: stopped };
          if (startError) result.error = startError;
          this.emit('exit', result);
          resolve(result);
        });
      });
    });
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

export type { TsydLogger };
