// Runs the real `tsyd` CLI (bin/tsyd.js under the current node) and collects what it did.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './fixtures.js';

export const tsydBin = join(repoRoot, 'bin', 'tsyd.js');

/** uid/gid of `nobody`, for the unprivileged tests. */
export const NOBODY = 65534;

export interface RunOptions {
  /** Written to stdin, then stdin is closed. Without it stdin is closed at once (unless keepStdinOpen). */
  input?: string | Buffer;
  /** Leave stdin open (after `input`, if any) for the test to write to `child.stdin`. */
  keepStdinOpen?: boolean;
  /** Merged over process.env; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill the process group and reject after this long. @default 30000 */
  timeoutMs?: number;
  /** Give the process a pipe at this fd and collect it as the log (pass `--log-fd N` yourself). */
  logFd?: number;
  /** Run as this uid (and gid) through `setpriv --reuid --regid --clear-groups`. */
  user?: number;
}

export interface RunResult {
  /** Exit code, or null if the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Everything read from the `logFd` pipe ('' without logFd). */
  log: string;
  /** Parsed JSON-object lines of the log: from `logFd` if given, else from stderr. */
  records: Array<Record<string, unknown>>;
  /** The lines of stderr that are not JSON objects (the program's own stderr). */
  otherStderr: string[];
}

export interface RunningProcess {
  child: ChildProcess;
  pid: number;
  /** Settles when the process exited and every output pipe was closed. */
  result: Promise<RunResult>;
  /** Resolves with stdout so far once it matches `pattern`; rejects on exit or timeout. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

function parseRecords(text: string): { records: Array<Record<string, unknown>>; other: string[] } {
  const records: Array<Record<string, unknown>> = [];
  const other: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = line.startsWith('{') ? JSON.parse(line) : undefined;
    } catch {
      parsed = undefined;
    }
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      records.push(parsed as Record<string, unknown>);
    } else {
      other.push(line);
    }
  }
  return { records, other };
}

/** Spawns `file args` (no tsyd) with the collection, timeout and user handling of runTsyd. */
export function spawnProgram(file: string, args: string[], opts: RunOptions = {}): RunningProcess {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  let command = file;
  let argv = args;
  if (opts.user !== undefined) {
    command = 'setpriv';
    argv = [`--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups', file, ...args];
  }
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe'];
  if (opts.logFd !== undefined) {
    if (opts.logFd < 3) throw new Error(`logFd must be 3 or more, got ${opts.logFd}`);
    while (stdio.length < opts.logFd) stdio.push('ignore');
    stdio.push('pipe');
  }
  // Its own process group, so that a timeout can kill whatever it started as well.
  const child = spawn(command, argv, { env, cwd: opts.cwd, stdio, detached: true });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${command}`);

  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[], log: [] as Buffer[] };
  const listeners = new Set<() => void>();
  child.stdout?.on('data', (b: Buffer) => {
    chunks.stdout.push(b);
    for (const l of listeners) l();
  });
  child.stderr?.on('data', (b: Buffer) => chunks.stderr.push(b));
  const logStream = opts.logFd !== undefined ? child.stdio[opts.logFd] : undefined;
  if (logStream && 'on' in logStream) logStream.on('data', (b: Buffer) => chunks.log.push(b));
  const text = (k: keyof typeof chunks): string => Buffer.concat(chunks[k]).toString('utf8');

  child.stdin?.on('error', () => {}); // the program may exit without reading its input
  if (opts.keepStdinOpen) {
    if (opts.input !== undefined) child.stdin?.write(opts.input);
  } else if (opts.input !== undefined) child.stdin?.end(opts.input);
  else child.stdin?.end();

  let exited = false;
  const result = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(
        new Error(
          `${file} ${args.join(' ')}: no result after ${timeoutMs} ms` +
            (exited ? ' (it exited, but its output pipes stayed open: something outlived it)' : '') +
            `\nstdout: ${text('stdout')}\nstderr: ${text('stderr')}`,
        ),
      );
    }, timeoutMs);
    child.on('exit', () => {
      exited = true;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = text('stderr');
      const log = text('log');
      const fromStderr = parseRecords(stderr);
      resolve({
        code,
        signal,
        stdout: text('stdout'),
        stderr,
        log,
        records: opts.logFd !== undefined ? parseRecords(log).records : fromStderr.records,
        otherStderr: fromStderr.other,
      });
    });
  });
  // Callers that only use waitForStdout must not get an unhandled rejection.
  result.catch(() => {});

  const waitForStdout = (pattern: RegExp, waitMs = timeoutMs): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const check = (): boolean => {
        const out = text('stdout');
        if (!pattern.test(out)) return false;
        cleanup();
        resolve(out);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`stdout never matched ${pattern} in ${waitMs} ms: ${JSON.stringify(text('stdout'))}`));
      }, waitMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = (): void => void check();
      listeners.add(listener);
      if (check()) return;
      result.then(
        (r) => {
          if (check()) return;
          cleanup();
          reject(new Error(`exited (code ${r.code}, signal ${r.signal}) before stdout matched ${pattern}:\n` +
            `stdout: ${r.stdout}\nstderr: ${r.stderr}`));
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });

  return { child, pid, result, waitForStdout };
}

/** Starts `tsyd ARGS...` and returns at once (for tests that signal it). */
export function spawnTsyd(args: string[], opts: RunOptions = {}): RunningProcess {
  return spawnProgram(process.execPath, [tsydBin, ...args], opts);
}

/** Runs `tsyd ARGS...` to completion. */
export function runTsyd(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnTsyd(args, opts).result;
}

/** Runs a program without tsyd (to show what the kernel alone does). */
export function runNative(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return spawnProgram(file, args, opts).result;
}

/** A readable dump of a result, for assertion messages. */
export function describe(r: RunResult): string {
  return `code=${r.code} signal=${r.signal}\nstdout: ${JSON.stringify(r.stdout)}\nstderr: ${r.stderr}`;
}
