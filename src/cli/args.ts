// argv → a parsed command. No library: the grammar is small and its errors are ours.
import { UsageError } from '../errors.js';
import { isLogFormat, isLogLevel, type LogFormat, type LogLevel } from '../log.js';
import type { PolicyInput } from '../sandbox/build.js';
import { CAPABILITIES } from '../sandbox/capabilities.js';
import { DEFAULT_INSPECT_ADDRESS, parseInspectAddress, type InspectAddress } from '../inspect/address.js';
import { isProfile, unknownProfile } from '../sandbox/profiles.js';

export interface RunCommand {
  command: 'run';
  policy: PolicyInput[];
  audit: boolean;
  logLevel?: LogLevel;
  logFd?: number;
  logFormat?: LogFormat;
  /** `--inspect[=[HOST:]PORT]`, `--inspect-wait` (wait: start the program once a page is connected). */
  inspect?: InspectAddress & { wait: boolean };
  program: string;
  args: string[];
}
export interface CheckCommand {
  command: 'check';
  policy: PolicyInput[];
}
export interface LearnCommand {
  command: 'learn';
  /** Rules added after the `off` profile while learning. */
  policy: PolicyInput[];
  /** Where the policy goes (-o, --output); ./tsyd.policy without. Never stdout. */
  output?: string;
  /** --force: replace an existing output file. */
  force?: boolean;
  logLevel?: LogLevel;
  logFd?: number;
  logFormat?: LogFormat;
  program: string;
  args: string[];
}
export type Command =
  | RunCommand
  | CheckCommand
  | LearnCommand
  | { command: 'export'; mode: 'bpf' | 'pfc' }
  | { command: 'syscalls'; policy: PolicyInput[] }
  | { command: 'viz'; argv: string[] }
  | { command: 'help' }
  | { command: 'version' };

export const USAGE = `Usage:
  tsyd run [-p PROFILE]... [-m RULE]... [-P FILE]... [--audit] [--log-level LEVEL] [--log-fd N]
           [--log-format json|pretty] [--inspect[=[HOST:]PORT]] [--inspect-wait] -- PROG [ARGS...]
  tsyd check [-p PROFILE]... [-m RULE]... [-P FILE]...   validate a policy and print it normalised
  tsyd learn [-o|--output FILE] [--force] [-p PROFILE]... [-m RULE]... [-P FILE]... -- PROG [ARGS...]
                                           run PROG allowing everything, write the policy it needs
                                           to FILE (default ./tsyd.policy; --force replaces a file)
  tsyd export bpf|pfc                      write the supervisor threads' filters (tsyd_*.bpf) or print them
  tsyd export syscalls [-p|-m|-P ...]      print every system call the program may make, and how the
                                           filter answers it under that policy (none given: -p user)
  tsyd viz [--format mermaid|dot|svg] [--out FILE] [--machine NAME]...   draw the machines
  tsyd --help | --version

Policy (applied in command-line order, last match wins; none given: -p user):
  -p off                     every access decided and allowed (for auditing and learning)
  -p user                    read anywhere but secrets (~/.ssh, ~/.aws, /etc/shadow ...); write,
                             create, delete in the working directory and temp dirs; exec system
                             programs; network on loopback only
  -p paranoid                only what a program needs to start; nothing else
  sandbox/read:on            turn a capability on (${CAPABILITIES.join(', ')})
  allow/read+/usr/***        allow a path glob (* ? ** and a trailing /*** for a whole tree)
  deny/write+/etc/**         deny a path glob
  allow/read-/usr/***        remove a rule
  allow/net/connect+127.0.0.0/8!1024-65535   an address (CIDR) and port range
  --audit                    log and report denials, then allow them

Inspector (run):
  --inspect[=[HOST:]PORT]    serve a live page of the supervisor while the program runs, on
                             127.0.0.1 and any free port by default; the URL (with its token) is
                             printed on stderr: tsyd: inspector at http://HOST:PORT/?token=TOKEN
  --inspect-wait             start the program only once a page is connected (implies --inspect)

Logs (run, learn): on a terminal, one line per record on stderr (tsyd: denied read of /etc/hostname
(cat, pid 123)); JSON lines when stderr is not a terminal or with --log-fd; --log-format forces either.

Exit status of run and learn: the program's; 128+N when killed by signal N; 127 not found;
126 not executable; 125 tsyd could not start the sandbox.
Environment: TSYD_LOG (level), TSYD_LOG_FD, TSYD_NPROC (core emulators), TSYD_NPROC_MAX (most
emulators), TSYD_KEEP_ALIVE (ms a helper emulator idles before it retires), TSYD_EXPORT (bpf|pfc),
TSYD_SKIP_SCMP (supervisor threads unconfined: debugging only).`;

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new UsageError(`option ${flag} needs a value`);
  return v;
}

function profileName(name: string): string {
  if (!isProfile(name)) throw new UsageError(unknownProfile(name));
  return name;
}

export function parseArgs(argv: string[]): Command {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') return { command: 'help' };
  if (cmd === '-V' || cmd === '--version') return { command: 'version' };
  if (cmd === 'viz') return { command: 'viz', argv: rest };
  if (cmd === 'export') {
    const mode = rest[0];
    // `export syscalls [POLICY OPTIONS]`: the program's call table under that policy.
    if (mode === 'syscalls') {
      const check = parseArgs(['check', ...rest.slice(1)]) as CheckCommand;
      return { command: 'syscalls', policy: check.policy };
    }
    if ((mode !== 'bpf' && mode !== 'pfc') || rest.length !== 1) throw new UsageError(`export needs one mode, bpf, pfc or syscalls; got '${rest.join(' ')}'`);
    return { command: 'export', mode };
  }
  if (cmd !== 'run' && cmd !== 'check' && cmd !== 'learn') throw new UsageError(`unknown command '${cmd}'; expected run, check, learn, export or viz (see tsyd --help)`);
  const policy: PolicyInput[] = [];
  let logLevel: LogLevel | undefined;
  let logFd: number | undefined;
  let logFormat: LogFormat | undefined;
  let audit = false;
  let output: string | undefined;
  let force = false;
  let inspect: RunCommand['inspect'];
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-m') policy.push({ rule: value(rest, i++, a), source: { kind: 'arg' } });
    else if (a.startsWith('-m') && a.length > 2) policy.push({ rule: a.slice(2), source: { kind: 'arg' } });
    else if (a === '-P') policy.push({ file: value(rest, i++, a) });
    else if (a.startsWith('-P') && a.length > 2) policy.push({ file: a.slice(2) });
    else if (a === '-p') policy.push({ profile: profileName(value(rest, i++, a)) });
    else if (a.startsWith('-p') && a.length > 2) policy.push({ profile: profileName(a.slice(2)) });
    else if (a === '--audit' && cmd === 'run') audit = true;
    else if ((a === '--inspect' || a.startsWith('--inspect=')) && cmd === 'run') {
      const address = a === '--inspect' ? DEFAULT_INSPECT_ADDRESS : parseInspectAddress(a.slice('--inspect='.length));
      inspect = { ...address, wait: inspect?.wait ?? false };
    } else if (a === '--inspect-wait' && cmd === 'run') inspect = { ...(inspect ?? DEFAULT_INSPECT_ADDRESS), wait: true };
    else if (a === '-o' && cmd === 'learn') output = value(rest, i++, a);
    else if (a.startsWith('-o') && a.length > 2 && cmd === 'learn') output = a.slice(2);
    else if (a === '--output' && cmd === 'learn') output = value(rest, i++, a);
    else if (a.startsWith('--output=') && cmd === 'learn') output = a.slice('--output='.length);
    else if (a === '--force' && cmd === 'learn') force = true;
    else if (a === '--log-level' || a.startsWith('--log-level=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!isLogLevel(v)) throw new UsageError(`--log-level must be one of trace, debug, info, notice, warn, error, alert, fatal, silent; got '${v}'`);
      logLevel = v;
    } else if (a === '--log-fd' || a.startsWith('--log-fd=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!/^\d+$/.test(v)) throw new UsageError(`--log-fd must be a file descriptor number, got '${v}'`);
      logFd = Number(v);
    } else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!isLogFormat(v)) throw new UsageError(`--log-format must be json or pretty, got '${v}'`);
      logFormat = v;
    } else if (a.startsWith('-') && a !== '-') throw new UsageError(`unknown option '${a}' for ${cmd} (see tsyd --help)`);
    else break;
  }
  if (cmd === 'check') {
    if (i < rest.length) throw new UsageError(`check takes no program, got '${rest[i]}'`);
    return { command: 'check', policy };
  }
  const [program, ...args] = rest.slice(i);
  if (program === undefined) throw new UsageError(`${cmd} needs a program: tsyd ${cmd} [OPTIONS] -- PROG [ARGS...]`);
  if (cmd === 'learn') return { command: 'learn', policy, output, force, logLevel, logFd, logFormat, program, args };
  return { command: 'run', policy, audit, logLevel, logFd, logFormat, program, args, ...(inspect && { inspect }) };
}
