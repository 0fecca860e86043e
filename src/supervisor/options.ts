// The library's options, normalised in one place: defaults (options, then TSYD_* variables),
// validation with errors that say what, where and why, and the policy built and checked. What
// comes out is everything the sandbox needs, typed; nothing downstream reads an option again.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { errnoName, errnoText, PolicyError, SystemCallError, UsageError } from '../errors.js';
import { defaultLogFormat, isLogFormat, isLogLevel, type LogFormat, type LogLevel } from '../log.js';
import type { ExportMode } from '../machines/boot.machine.js';
import { buildPolicy, profileContext, runsUnconfined, type PolicyInput } from '../sandbox/build.js';
import { Policy } from '../sandbox/policy.js';
import { PolicyCache } from '../sandbox/policy-cache.js';
import { cryptSetup, type CryptKey } from '../sandbox/crypt-key.js';
import type { Supervisor } from './supervisor.js';
import { CAPABILITIES } from '../sandbox/rules.js';
import type { Capability } from '../sandbox/capabilities.js';
import { DEFAULT_MAX_JOBS } from '../shared/worker-data.js';
import { enforcedCapabilities } from '../syscalls/index.js';
import { resolveProgram } from './program-path.js';

export type StdioOption = 'inherit' | 'pipe' | 'ignore' | number;

export interface SpawnOptions {
  /** Rules (`{rule}`), policy files (`{file}`), profiles (`{profile}`) applied in order, or a ready Policy. @default the user profile; without a `{profile}` the rules and files apply on top of it */
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
  /**
   * JSON lines, or one short `tsyd: …` line per record for a person. @default 'pretty' when
   * the log goes to stderr (no logFd, no $TSYD_LOG_FD) and stderr is a terminal, else 'json'
   */
  logFormat?: LogFormat;
  /** Core emulator threads (never retire). @default $TSYD_NPROC or the number of CPUs */
  emulators?: number;
  /**
   * The supervisor whose warm threads serve this sandbox (README: Warm supervisor). @default the
   * shared default supervisor (idle threads end after a few seconds)
   */
  supervisor?: Supervisor;
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
  /** Aborting it ends the program: SIGTERM, then SIGKILL after `killGrace` ms; `result.aborted`, `error.code` 'ABORT_ERR'. */
  signal?: AbortSignal;
  /** Milliseconds the program may run; then as `signal`: `result.timedOut`, `error.code` 'ETIMEDOUT'. @default no limit */
  timeout?: number;
  /** Milliseconds between the SIGTERM and the SIGKILL of `signal`, `timeout` and `maxBuffer`. @default 5000 */
  killGrace?: number;
  /**
   * Piped stdout/stderr are gathered into `result.stdout`/`result.stderr` (the streams stay
   * readable on the process too); false leaves them to the caller alone. @default true
   */
  buffer?: boolean;
  /** Most bytes gathered per stream; past it the program is killed (as `timeout`), error code 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'. @default 100 MiB */
  maxBuffer?: number;
  /** Written to the program's stdin, which is then closed; stdin becomes 'pipe'. */
  input?: string | Uint8Array;
}

/** Defaults, justified in README (Pool). */
export const DEFAULT_MAX_EMULATORS = 128;
export const DEFAULT_KEEP_ALIVE_MS = 5000;
export const DEFAULT_KILL_GRACE_MS = 5000;
export const DEFAULT_MAX_BUFFER = 100 * 1024 * 1024;

/** Everything a sandbox is started with, validated. */
export interface SandboxConfig {
  /** The name the program was asked by (argv[0]) and the path execve runs. */
  file: string;
  path: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  stdio: StdioOption | [StdioOption, StdioOption, StdioOption];
  policy: Policy;
  logLevel: LogLevel;
  logFd: number;
  logFormat: LogFormat;
  coreSize: number;
  maxEmulators: number;
  keepAliveMs: number;
  maxBlockingCalls: number;
  audit: boolean;
  record: boolean;
  /** 1 always, 0 never, 2 when stdin is the terminal (addon/spawn.cc). */
  foreground: 0 | 1 | 2;
  /** TSYD_SKIP_SCMP: supervisor threads stay unconfined (debugging only). */
  skipConfinement: boolean;
  /** TSYD_SYNC_WAKEUP=0 turns synchronous wake-up off. */
  syncWakeup: boolean;
  /** TSYD_EXPORT: the supervisor threads' filters are exported first (boot). */
  exportMode?: ExportMode;
  /** TSYD_FAULT: test-only faults. */
  fault?: string;
  signal?: AbortSignal;
  timeout?: number;
  killGrace: number;
  buffer: boolean;
  maxBuffer: number;
  input?: string | Uint8Array;
  /** No capability is on, and `-p off`/`-p none` alone was not what was asked: warned once (spawn). */
  unconfined: boolean;
  /** Crypt sandboxing's key (sandbox/crypt:on): loaded into the addon when the sandbox starts. */
  cryptKey?: CryptKey;
}

function envOr(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function positiveInt(name: string, value: unknown, max = 4096): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  return n;
}

function fdNumber(name: string, value: string): number {
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

function envExportMode(): ExportMode | undefined {
  const v = envOr('TSYD_EXPORT');
  if (v === undefined) return undefined;
  if (v !== 'bpf' && v !== 'pfc') throw new UsageError(`TSYD_EXPORT must be bpf or pfc, got '${v}'`);
  return v;
}

/** The policies spawn() and run() built, kept for the next sandboxes of this process. */
export const policyCache = new PolicyCache();

/**
 * The policy of `options.policy` (rules, files, profiles), from the cache when nothing its build
 * read has changed. The key: what was asked and what the build reads outside the file system
 * (src/sandbox/policy-cache.ts): both environments (the program's; ours for homedir() and
 * tmpdir()), both working directories, the uid, the program's path. No key (a program not
 * found: the build reports it, as before), no cache.
 */
function builtPolicy(file: string, options: SpawnOptions, enforced: ReadonlySet<Capability>): Policy {
  const env = options.env ?? process.env;
  let program: string | undefined;
  try {
    program = resolveProgram(file, env.PATH, options.cwd);
  } catch {
    program = undefined;
  }
  const context = () => profileContext({ cwd: options.cwd, env: options.env, program: program ?? resolveProgram(file, env.PATH, options.cwd) });
  const build = () => buildPolicy((options.policy as PolicyInput[] | undefined) ?? [], context, enforced);
  return policyCache.get(program === undefined ? undefined : policyKey(options, program, enforced), build);
}

function policyKey(options: SpawnOptions, program: string, enforced: ReadonlySet<Capability>): string | undefined {
  try {
    const asked = { inputs: options.policy ?? [], env: options.env ?? null, cwd: options.cwd ?? null, program, enforced: [...enforced] };
    return JSON.stringify({ ...asked, ownEnv: process.env, ownCwd: process.cwd(), uid: process.getuid?.() ?? null });
  } catch {
    return undefined; // what cannot be written as a key is not compared: built anew
  }
}

/**
 * The policy of the sandbox. SAFETY: a capability turned on that tsyd does not enforce would
 * confine nothing while the user believes it does: refused. Only the implicit base (the user
 * profile when no profile is given) is trimmed to what this version enforces, so that a bare
 * `tsyd run` works (build.ts).
 */
function sandboxPolicy(file: string, options: SpawnOptions): Policy {
  const enforced = enforcedCapabilities();
  const policy = options.policy instanceof Policy ? options.policy : builtPolicy(file, options, enforced);
  for (const cap of CAPABILITIES) {
    if (policy.isOn(cap) && !enforced.has(cap)) {
      throw new PolicyError(`sandbox/${cap}:on: the ${cap} capability is not enforced by this version of tsyd (enforced: ${[...enforced].join(', ')})`);
    }
  }
  return policy;
}

/** A whole number of milliseconds (setTimeout's range) or bytes, `min` or more. */
function wholeNumber(name: string, value: unknown, min: number, max = 2 ** 31 - 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** SAFETY of the message: the program would otherwise start elsewhere than asked, or fail with a path that names the program. */
function checkCwd(cwd: string | undefined): void {
  if (cwd === undefined) return;
  if (typeof cwd !== 'string' || cwd === '') throw new UsageError(`option cwd must be a directory path, got ${JSON.stringify(cwd)}`);
  let errno: number | undefined;
  try {
    if (!statSync(cwd).isDirectory()) errno = 20; // ENOTDIR
  } catch (err) {
    errno = (err as NodeJS.ErrnoException).errno !== undefined ? -(err as NodeJS.ErrnoException).errno! : 2;
  }
  if (errno === undefined) return;
  const error = new SystemCallError('chdir', errno, { path: cwd });
  error.message = `option cwd: cannot change directory to '${cwd}': ${errnoText(errno)} (${errnoName(errno)})`;
  throw error;
}

/** stdio with `input`: stdin becomes 'pipe'; an explicit other stdin is refused. */
function stdioFor(options: SpawnOptions): SandboxConfig['stdio'] {
  const stdio = options.stdio ?? 'inherit';
  if (options.input === undefined) return stdio;
  if (typeof options.input !== 'string' && !(options.input instanceof Uint8Array)) throw new UsageError('option input must be a string or a Buffer/Uint8Array');
  if (!Array.isArray(stdio)) return ['pipe', stdio, stdio];
  if (stdio[0] !== 'pipe') throw new UsageError(`option input needs stdin piped: stdio[0] is ${JSON.stringify(stdio[0])}, expected 'pipe'`);
  return stdio;
}

function abortSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw new UsageError('option signal must be an AbortSignal');
  return signal;
}

/** Throws UsageError/PolicyError (exit 125), SystemCallError('chdir') for a bad cwd (125) or SystemCallError('execve') (126/127). */
export function normaliseOptions(file: string, args: string[], options: SpawnOptions): SandboxConfig {
  // In this order: a bad option is reported before a missing program.
  checkCwd(options.cwd);
  const policy = sandboxPolicy(file, options);
  const logLevel = options.logLevel ?? envLogLevel();
  const logFd = options.logFd ?? (envOr('TSYD_LOG_FD') !== undefined ? fdNumber('TSYD_LOG_FD', process.env.TSYD_LOG_FD!) : 2);
  const logFdGiven = options.logFd !== undefined || envOr('TSYD_LOG_FD') !== undefined;
  if (options.logFormat !== undefined && !isLogFormat(options.logFormat)) throw new UsageError(`logFormat must be json or pretty, got '${String(options.logFormat)}'`);
  const logFormat = options.logFormat ?? defaultLogFormat(logFdGiven);
  const coreSize = positiveInt('emulators', options.emulators ?? envOr('TSYD_NPROC') ?? availableParallelism());
  const maxEmulators = positiveInt('maxEmulators', options.maxEmulators ?? envOr('TSYD_NPROC_MAX') ?? Math.max(DEFAULT_MAX_EMULATORS, coreSize));
  if (maxEmulators < coreSize) throw new UsageError(`TSYD_NPROC_MAX (${maxEmulators}) is below TSYD_NPROC (${coreSize})`);
  const keepAliveMs = positiveInt('keepAliveMs', options.keepAliveMs ?? envOr('TSYD_KEEP_ALIVE') ?? DEFAULT_KEEP_ALIVE_MS, 86_400_000);
  const maxBlockingCalls = positiveInt('maxBlockingCalls', options.maxBlockingCalls ?? envOr('TSYD_BLOCKING_MAX') ?? DEFAULT_MAX_JOBS, 65536);
  const exportMode = envExportMode();
  const crypt = cryptSetup(policy, options.env ?? process.env);
  const env = crypt.env;
  const signal = abortSignal(options.signal);
  const timeout = options.timeout === undefined ? undefined : wholeNumber('timeout', options.timeout, 1);
  const killGrace = options.killGrace === undefined ? DEFAULT_KILL_GRACE_MS : wholeNumber('killGrace', options.killGrace, 0);
  const maxBuffer = options.maxBuffer === undefined ? DEFAULT_MAX_BUFFER : wholeNumber('maxBuffer', options.maxBuffer, 1, 2 ** 32);
  const stdio = stdioFor(options);
  return {
    file,
    path: resolveProgram(file, env.PATH, options.cwd),
    argv: [file, ...args],
    env,
    cwd: options.cwd,
    stdio,
    policy,
    logLevel,
    logFd,
    logFormat,
    coreSize,
    maxEmulators,
    keepAliveMs,
    maxBlockingCalls,
    audit: options.audit === true,
    record: options.record === true,
    foreground: options.foreground === true ? 1 : options.foreground === false ? 0 : 2,
    skipConfinement: envOr('TSYD_SKIP_SCMP') !== undefined,
    syncWakeup: process.env.TSYD_SYNC_WAKEUP !== '0',
    exportMode,
    fault: envOr('TSYD_FAULT'),
    signal,
    timeout,
    killGrace,
    buffer: options.buffer !== false,
    maxBuffer,
    input: options.input,
    unconfined: runsUnconfined(options.policy, policy),
    cryptKey: crypt.key,
  };
}
