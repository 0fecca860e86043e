// Runs one program under tsyd for the CLI (run, learn): signals forwarded, the start failure
// said in words, the exit status returned.
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { errnoText, PolicyError, SystemCallError, UsageError, type TsydError } from '../errors.js';
import { native } from '../native/addon.js';
import { groupStopped } from '../proc/proc-tree.js';
import { spawn, type SandboxedProcess, type SpawnOptions } from '../spawn.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { scriptInterpreter } from './interpreter.js';

/** Signals sent to tsyd that are passed on to the program. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export const EXIT_START_FAILED = 125;

export function fail(message: string, code: number): never {
  process.stderr.write(`tsyd: ${message}\n`);
  process.exit(code);
}

/**
 * Why the program did not start, for `tsyd: PROG: TEXT`. A script that exists but fails with
 * ENOENT failed at its `#!` interpreter (missing or hidden): named, as bash does (`bad
 * interpreter`), not "command not found"; with EACCES the interpreter is named too. A hidden
 * interpreter reads as a missing one (README "Hidden means hidden"; the denial is in the log).
 */
export function startFailureText(err: TsydError, program = err instanceof SystemCallError ? err.path : undefined): string {
  if (!(err instanceof SystemCallError)) return err.message;
  if (err.syscall !== 'execve') return `cannot start the sandbox: ${err.message}`;
  const interpreter = program === undefined ? null : scriptInterpreter(program);
  if (interpreter !== null && err.code === 'ENOENT') return `bad interpreter ${interpreter}: ${errnoText(err.errno)}`;
  if (interpreter !== null && err.code === 'EACCES') {
    return `cannot execute: ${errnoText(err.errno)} (the script or its interpreter ${interpreter}: not executable, or denied by the exec policy)`;
  }
  if (err.code === 'ENOENT') return 'command not found';
  return `cannot execute: ${errnoText(err.errno)}`;
}

/** Starts `program`, waits for it; `onStart` sees the child before it can have ended. */
export async function supervise(program: string, args: string[], options: SpawnOptions, onStart?: (child: SandboxedProcess) => void): Promise<number> {
  if (options.logFd !== undefined) {
    try {
      fstatSync(options.logFd);
    } catch {
      fail(`--log-fd ${options.logFd}: not an open file descriptor`, EXIT_START_FAILED);
    }
  }
  // Handlers first: the program may be running (and be signalled) before spawn() returns.
  // Node runs them from the event loop, so `child` is set by then.
  let child: SandboxedProcess | undefined;
  for (const sig of FORWARDED) process.on(sig, () => child?.kill(sig));
  // The CLI is the program's job: the terminal goes to the program whatever its stdin is
  // (`echo x | tsyd run -- less`: less reads the terminal).
  // One sandbox per process: its threads end with it (nothing to keep warm).
  child = spawn(program, args, { ...options, foreground: true, supervisor: new Supervisor({ maxIdle: 0 }) });
  followJobControl(child);
  onStart?.(child);
  const result = await child.result;
  // A bad option, rule, profile or policy file names itself; a program that cannot start is named.
  const who = result.error instanceof PolicyError || result.error instanceof UsageError ? '' : `${program}: `;
  if (result.error) process.stderr.write(`tsyd: ${who}${startFailureText(result.error, program)}\n`);
  // SAFETY: never hang: Node would wait forever for a thread it cannot stop.
  if (!result.cleanShutdown) native.exitNow(result.exitCode);
  return result.exitCode;
}

/** True when tsyd has a controlling terminal (opening /dev/tty works). */
function hasControllingTerminal(): boolean {
  try {
    closeSync(openSync('/dev/tty', constants.O_RDWR | constants.O_NOCTTY));
    return true;
  } catch {
    return false;
  }
}

/** Whether the program's group is all stopped within 200 ms (a terminal's stop reaches each member in turn). */
async function whenGroupStopped(pgid: number): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    if (groupStopped(pgid)) return true;
    await new Promise((res) => setTimeout(res, 10));
  }
  return false;
}

/** Stops that come from the terminal: tsyd stops with the program, so that the shell sees its job stop. */
const TERMINAL_STOPS = new Set<NodeJS.Signals>(['SIGTSTP', 'SIGTTIN', 'SIGTTOU']);

/**
 * The program runs in its own process group, which has the terminal while it runs: Ctrl-Z
 * stops it, not tsyd. A shell waits for tsyd, so tsyd takes the terminal back and stops itself
 * with the same signal (the shell shows the job stopped); on SIGCONT (`fg`, `bg`) it gives the
 * terminal back to the program's group if it is in the foreground again, and continues it.
 */
function followJobControl(child: SandboxedProcess): void {
  const pid = child.pid;
  if (pid === undefined) return; // not started: result.error says why
  child.on('stop', (sig: NodeJS.Signals | null) => {
    if (sig === null || !TERMINAL_STOPS.has(sig)) return;
    // SAFETY: only a job of a terminal stops with its program: with no controlling terminal
    // (a service, CI, a pipeline under setsid) no shell would ever continue tsyd, and a program
    // that raised SIGTSTP would have frozen its supervisor. It stays stopped alone, as natively.
    if (native.terminalForeground(pid, 0) !== 1 && !hasControllingTerminal()) return;
    // SAFETY: and only when the program's whole group stopped (Ctrl-Z stops every process of
    // it): a stopped tsyd answers nothing, so a process that stopped only itself would hang the
    // others' calls. A shell, too, shows a job stopped only once all of it is.
    void whenGroupStopped(pid).then((stopped) => {
      if (stopped) process.kill(process.pid, sig);
    });
  });
  process.on('SIGCONT', () => {
    native.terminalForeground(0, pid);
    try {
      process.kill(-pid, 'SIGCONT');
    } catch {
      // the program's group is gone
    }
  });
}
