// The one place a SandboxResult is made: from the sandbox machine's final snapshot (the
// program's life) and the boot machine's output (the supervisor's), with the denials read.
import { constants as os } from 'node:os';
import { SystemCallError, TsydError } from '../errors.js';
import type { BootOutput } from '../machines/boot.machine.js';
import { EXIT_CRITICAL } from '../machines/monitor.machine.js';
import type { SandboxContext } from '../machines/sandbox.machine.js';
import type { Violation } from '../syscalls/context.js';
import { startFailureStatus } from './program-path.js';

export interface SandboxResult {
  /** The program's exit code; 128+N when killed by signal N; 127/126 when it could not start; 101 when the supervisor failed. */
  exitCode: number;
  /** The signal that killed the program, if any. */
  signal: NodeJS.Signals | null;
  /** Accesses the policy denied (the first 1000; `violationCount` has the total). */
  violations: Violation[];
  violationCount: number;
  /**
   * Why the program could not be started (127 not found, 126 not executable, 125 a bad option,
   * policy or cwd), why it was killed (`signal`, `timeout`, `maxBuffer`), or why the supervisor failed.
   */
  error?: TsydError;
  /**
   * False when an emulator thread could not be stopped (blocked in a call that ignores
   * signals): the process then cannot exit normally, as Node waits for its threads.
   */
  cleanShutdown: boolean;
  /** The program's output, when its stdout/stderr was 'pipe' (and `buffer` not false); at most `maxBuffer` bytes. */
  stdout?: string;
  stderr?: string;
  /** Killed because `timeout` passed (`error.code` 'ETIMEDOUT'). */
  timedOut: boolean;
  /** Killed (or never started) because `signal` aborted (`error.code` 'ABORT_ERR'). */
  aborted: boolean;
}

/** The exit status of a sandbox that could not start: 127/126 for the program, else 125. */
export function startFailureExitCode(error: unknown): number {
  return error instanceof SystemCallError && error.syscall === 'execve' ? startFailureStatus(error.errno) : 125;
}

/** The result of a sandbox whose program never started: bad options, policy, program or cwd. */
export function failedResult(error: unknown): SandboxResult {
  const err = error instanceof TsydError ? error : new TsydError('EINTERNAL', `internal error: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  const aborted = err.code === 'ABORT_ERR';
  return { exitCode: startFailureExitCode(err), signal: null, violations: [], violationCount: 0, error: err, cleanShutdown: true, timedOut: false, aborted };
}

export function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(os.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

/** The program's exit status from the sandbox machine's final context. */
export function programStatus(program: SandboxContext): number {
  if (program.stuck) return EXIT_CRITICAL;
  if (program.startFailure) return program.startFailure.syscall === 'execve' ? startFailureStatus(program.startFailure.errno) : 125;
  if (program.signal !== undefined) return 128 + program.signal;
  return program.code ?? 0;
}

export function sandboxResult(program: SandboxContext, boot: BootOutput, file: string, denials: { violations: Violation[]; violationCount: number }): SandboxResult {
  const result: SandboxResult = {
    exitCode: boot.exitCode,
    signal: program.signal !== undefined ? signalName(program.signal) : null,
    violations: denials.violations,
    violationCount: denials.violationCount,
    cleanShutdown: boot.cleanShutdown,
    timedOut: false,
    aborted: false,
  };
  if (program.startFailure) result.error = new SystemCallError(program.startFailure.syscall, program.startFailure.errno, { path: file });
  else if (boot.error !== undefined) result.error = new TsydError('ESUPERVISOR', `supervisor failed: ${boot.error}`);
  return result;
}
