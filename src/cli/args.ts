// argv → a parsed command. No library: the grammar is small and its errors are ours.
import { UsageError } from '../errors.js';
import { isLogLevel, type LogLevel } from '../log.js';
import type { PolicyInput } from '../sandbox/build.js';

export interface RunCommand {
  command: 'run';
  policy: PolicyInput[];
  logLevel?: LogLevel;
  logFd?: number;
  program: string;
  args: string[];
}
export interface CheckCommand {
  command: 'check';
  policy: PolicyInput[];
}
export type Command =
  | RunCommand
  | CheckCommand
  | { command: 'export'; mode: 'bpf' | 'pfc' }
  | { command: 'viz'; argv: string[] }
  | { command: 'help' }
  | { command: 'version' };

export const USAGE = `Usage:
  tsyd run [-m RULE]... [-P FILE]... [--log-level LEVEL] [--log-fd N] -- PROG [ARGS...]
  tsyd check [-m RULE]... [-P FILE]...     validate a policy and print it normalised
  tsyd export bpf|pfc                      write the supervisor threads' filters (tsyd_*.bpf) or print them
  tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...   draw the machines
  tsyd --help | --version

Rules (syd syntax, applied in command-line order, last match wins):
  sandbox/read:on            turn a capability on (enforced: read, write)
  allow/read+/usr/***        allow a path glob (* ? ** and a trailing /*** for a whole tree)
  deny/write+/etc/**         deny a path glob
  allow/read-/usr/***        remove a rule

Exit status of run: the program's; 128+N when killed by signal N; 127 not found;
126 not executable; 125 tsyd could not start the sandbox.
Environment: TSYD_LOG (level), TSYD_LOG_FD, TSYD_NPROC (core emulators), TSYD_NPROC_MAX (most
emulators), TSYD_KEEP_ALIVE (ms a helper emulator idles before it retires), TSYD_EXPORT (bpf|pfc),
TSYD_SKIP_SCMP (supervisor threads unconfined: debugging only).`;

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new UsageError(`option ${flag} needs a value`);
  return v;
}

export function parseArgs(argv: string[]): Command {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') return { command: 'help' };
  if (cmd === '-V' || cmd === '--version') return { command: 'version' };
  if (cmd === 'viz') return { command: 'viz', argv: rest };
  if (cmd === 'export') {
    const mode = rest[0];
    if ((mode !== 'bpf' && mode !== 'pfc') || rest.length !== 1) throw new UsageError(`export needs one mode, bpf or pfc; got '${rest.join(' ')}'`);
    return { command: 'export', mode };
  }
  if (cmd !== 'run' && cmd !== 'check') throw new UsageError(`unknown command '${cmd}'; expected run, check, export or viz (see tsyd --help)`);
  const policy: PolicyInput[] = [];
  let logLevel: LogLevel | undefined;
  let logFd: number | undefined;
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-m') policy.push({ rule: value(rest, i++, a) });
    else if (a.startsWith('-m') && a.length > 2) policy.push({ rule: a.slice(2) });
    else if (a === '-P') policy.push({ file: value(rest, i++, a) });
    else if (a.startsWith('-P') && a.length > 2) policy.push({ file: a.slice(2) });
    else if (a === '--log-level' || a.startsWith('--log-level=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!isLogLevel(v)) throw new UsageError(`--log-level must be one of trace, debug, info, notice, warn, error, alert, fatal, silent; got '${v}'`);
      logLevel = v;
    } else if (a === '--log-fd' || a.startsWith('--log-fd=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!/^\d+$/.test(v)) throw new UsageError(`--log-fd must be a file descriptor number, got '${v}'`);
      logFd = Number(v);
    } else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}' for ${cmd} (see tsyd --help)`);
    else break;
  }
  if (cmd === 'check') {
    if (i < rest.length) throw new UsageError(`check takes no program, got '${rest[i]}'`);
    return { command: 'check', policy };
  }
  const [program, ...args] = rest.slice(i);
  if (program === undefined) throw new UsageError('run needs a program: tsyd run [OPTIONS] -- PROG [ARGS...]');
  return { command: 'run', policy, logLevel, logFd, program, args };
}
