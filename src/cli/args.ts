// argv → a parsed command. No library: the grammar is small and its errors are ours.
import { UsageError } from '../errors.js';
import { isLogFormat, isLogLevel, type LogFormat, type LogLevel } from '../log.js';
import type { PolicyInput } from '../sandbox/build.js';
import { unknownName } from '../shared/did-you-mean.js';
import { COMMAND_USAGE, type HelpTopic } from './usage.js';
import { DEFAULT_INSPECT_ADDRESS, parseInspectAddress, type InspectAddress } from '../inspect/address.js';
import { isProfile, unknownProfile } from '../sandbox/profiles.js';
import { parseCrypt, type CryptCommand } from './crypt-args.js';
import { parseCtl, type CtlCommand } from './ctl.js';
import { parseAgent, parseOciSeccomp, type AgentCommand } from './agent-args.js';

export interface RunCommand {
  command: 'run';
  policy: PolicyInput[];
  audit: boolean;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  logFd?: number;
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
  logFormat?: LogFormat;
  logFd?: number;
  program: string;
  args: string[];
}
export type Command =
  | RunCommand
  | CheckCommand
  | LearnCommand
  | CryptCommand
  | CtlCommand
  | { command: 'export'; mode: 'bpf' | 'pfc'; policy?: PolicyInput[] }
  | { command: 'syscalls'; policy: PolicyInput[] }
  | { command: 'program-filter'; policy: PolicyInput[] }
  | { command: 'oci-seccomp'; policy: PolicyInput[]; listener: string; metadata?: string }
  | AgentCommand
  | { command: 'viz'; argv: string[] }
  | { command: 'help'; topic?: HelpTopic }
  | { command: 'usage' }
  | { command: 'version' };

export { USAGE } from './usage.js';

function value(argv: string[], i: number, flag: string): string {
  const v = argv[i + 1];
  if (v === undefined) throw new UsageError(`option ${flag} needs a value`);
  return v;
}

/** Marks an option whose value is the next argument. */
const NEXT = Symbol('next');

/** The value `a` gives option `short`/`long` (`-pX`, `--long=X`; NEXT for `-p X`, `--long X`), or undefined if `a` is another option. */
function valued(a: string, short: string | undefined, long: string): string | typeof NEXT | undefined {
  if (a === long || a === short) return NEXT;
  if (a.startsWith(`${long}=`)) return a.slice(long.length + 1);
  if (short !== undefined && a.startsWith(short) && a.length > 2 && !a.startsWith('--')) return a.slice(2);
  return undefined;
}

function profileName(name: string): string {
  if (!isProfile(name)) throw new UsageError(unknownProfile(name));
  return name;
}

const COMMANDS = ['run', 'check', 'learn', 'export', 'agent', 'crypt', 'ctl', 'viz', 'help'];
const POLICY_OPTIONS = ['-p', '--profile', '-m', '--rule', '-P', '--policy-file', '-h', '--help'];
const LOG_OPTIONS = ['--log-level', '--log-fd'];
/** Each command's options, for "did you mean". */
const OPTIONS: Record<'run' | 'check' | 'learn', string[]> = {
  run: [...POLICY_OPTIONS, ...LOG_OPTIONS, '--audit', '--inspect', '--inspect-wait'],
  check: POLICY_OPTIONS,
  learn: [...POLICY_OPTIONS, ...LOG_OPTIONS, '-o', '--output'],
};

/**
 * The command whose policy options `check`'s grammar reads (agent, export oci-seccomp, ...): named
 * in its errors with its own options and help, never as `check`.
 */
export interface PolicyOptionsOf {
  /** As the user typed it: `agent`, `export oci-seccomp`. */
  name: string;
  /** Its options besides the policy options, for "did you mean". */
  options: readonly string[];
  /** Where its usage is: `tsyd agent --help`. */
  help: string;
}

function unknownOption(a: string, cmd: 'run' | 'check' | 'learn', of: PolicyOptionsOf | undefined): UsageError {
  const name = a.startsWith('--') && a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
  if (of !== undefined) return new UsageError(unknownName('option', name, [...OPTIONS.check, ...of.options], `see ${of.help}`));
  return new UsageError(unknownName('option', name, OPTIONS[cmd], `see tsyd ${cmd} --help`));
}

/** The policy options in `argv` as `tsyd check` reads them, errors naming the command `of`; or its help. */
export function parsePolicyOptions(argv: string[], of: PolicyOptionsOf): PolicyInput[] | 'help' {
  const check = parseArgs(['check', ...argv], of);
  return check.command === 'help' ? 'help' : (check as CheckCommand).policy;
}

export function parseArgs(argv: string[], policyOf?: PolicyOptionsOf): Command {
  const [cmd, ...rest] = argv;
  // Bare `tsyd` is a usage error (125): the usage on stderr.
  if (cmd === undefined) return { command: 'usage' };
  if (cmd === '-h' || cmd === '--help') return { command: 'help' };
  if (cmd === 'help') return helpOn(rest[0]);
  if (cmd === '-V' || cmd === '--version') return { command: 'version' };
  if (cmd === 'viz') return { command: 'viz', argv: rest };
  if (cmd === 'export') return parseExport(rest);
  if (cmd === 'agent') return parseAgent(rest);
  if (cmd === 'ctl') return rest[0] === '-h' || rest[0] === '--help' ? { command: 'help', topic: 'ctl' } : parseCtl(rest);
  if (cmd === 'crypt') return rest.some((x) => x === '-h' || x === '--help') ? { command: 'help', topic: 'crypt' } : parseCrypt(rest);
  if (cmd !== 'run' && cmd !== 'check' && cmd !== 'learn') {
    if (cmd.startsWith('-')) throw new UsageError(unknownName('option', cmd, ['--help', '--version', '-h', '-V'], 'see tsyd --help'));
    throw new UsageError(unknownName('command', cmd, COMMANDS, 'see tsyd --help'));
  }
  const policy: PolicyInput[] = [];
  let logLevel: LogLevel | undefined;
  let logFd: number | undefined;
  let audit = false;
  let output: string | undefined;
  let force = false;
  let logFormat: LogFormat | undefined;
  let inspect: RunCommand['inspect'];
  let i = 0;
  for (; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-h' || a === '--help') return { command: 'help', topic: cmd };
    const rule = valued(a, '-m', '--rule');
    const file = rule === undefined ? valued(a, '-P', '--policy-file') : undefined;
    const profile = rule === undefined && file === undefined ? valued(a, '-p', '--profile') : undefined;
    const out = cmd === 'learn' ? valued(a, '-o', '--output') : undefined;
    const v = (x: string | typeof NEXT) => (x === NEXT ? value(rest, i++, a) : x);
    if (rule !== undefined) policy.push({ rule: v(rule), source: { kind: 'arg' } });
    else if (file !== undefined) policy.push({ file: v(file) });
    else if (profile !== undefined) policy.push({ profile: profileName(v(profile)) });
    else if (out !== undefined) output = v(out);
    else if (a === '--force' && cmd === 'learn') force = true;
    else if (a === '--audit' && cmd === 'run') audit = true;
    else if ((a === '--inspect' || a.startsWith('--inspect=')) && cmd === 'run') {
      const address = a === '--inspect' ? DEFAULT_INSPECT_ADDRESS : parseInspectAddress(a.slice('--inspect='.length));
      inspect = { ...address, wait: inspect?.wait ?? false };
    } else if (a === '--inspect-wait' && cmd === 'run') inspect = { ...(inspect ?? DEFAULT_INSPECT_ADDRESS), wait: true };
    else if (a === '--log-level' || a.startsWith('--log-level=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!isLogLevel(v)) throw new UsageError(`--log-level must be one of trace, debug, info, notice, warn, error, alert, fatal, silent; got '${v}'`);
      logLevel = v;
    } else if (a === '--log-format' || a.startsWith('--log-format=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!isLogFormat(v)) throw new UsageError(`--log-format must be json or pretty, got '${v}'`);
      logFormat = v;
    } else if (a === '--log-fd' || a.startsWith('--log-fd=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : value(rest, i++, a);
      if (!/^\d+$/.test(v)) throw new UsageError(`--log-fd must be a file descriptor number, got '${v}'`);
      logFd = Number(v);
    } else if (a.startsWith('-') && a !== '-') throw unknownOption(a, cmd, policyOf);
    else break;
  }
  if (cmd === 'check') {
    if (i < rest.length) throw new UsageError(`${policyOf?.name ?? 'check'} takes no program, got '${rest[i]}'${policyOf !== undefined ? ` (see ${policyOf.help})` : ''}`);
    return { command: 'check', policy };
  }
  const [program, ...args] = rest.slice(i);
  if (program === undefined) throw new UsageError(`${cmd} needs a program: tsyd ${cmd} [OPTIONS] -- PROG [ARGS...]`);
  if (cmd === 'learn') return { command: 'learn', policy, output, force, logLevel, logFd, logFormat, program, args };
  return { command: 'run', policy, audit, logLevel, logFd, logFormat, program, args, ...(inspect && { inspect }) };
}

/** `tsyd help [COMMAND]`. */
function helpOn(topic: string | undefined): Command {
  if (topic === undefined) return { command: 'help' };
  if (!isHelpTopic(topic)) throw new UsageError(unknownName('command', topic, Object.keys(COMMAND_USAGE), 'see tsyd --help'));
  return { command: 'help', topic };
}

function isHelpTopic(name: string): name is HelpTopic {
  return Object.hasOwn(COMMAND_USAGE, name);
}

/** `export bpf|pfc`, `export syscalls [POLICY OPTIONS]` and `export program [POLICY OPTIONS]`. */
function parseExport(rest: string[]): Command {
  const mode = rest[0];
  if (mode === undefined || mode === '-h' || mode === '--help') {
    if (mode === undefined) throw new UsageError('export needs a mode: bpf, pfc, syscalls or program (see tsyd export --help)');
    return { command: 'help', topic: 'export' };
  }
  const exportPolicy = () => parsePolicyOptions(rest.slice(1), { name: `export ${mode}`, options: [], help: 'tsyd export --help' });
  if (mode === 'syscalls') {
    const policy = exportPolicy();
    return policy === 'help' ? { command: 'help', topic: 'syscalls' } : { command: 'syscalls', policy };
  }
  if (mode === 'oci-seccomp') return parseOciSeccomp(rest.slice(1));
  if (mode === 'program') {
    const policy = exportPolicy();
    return policy === 'help' ? { command: 'help', topic: 'export' } : { command: 'program-filter', policy };
  }
  if (mode !== 'bpf' && mode !== 'pfc') throw new UsageError(unknownName('export mode', mode, ['bpf', 'pfc', 'syscalls', 'program', 'oci-seccomp'], 'see tsyd export --help'));
  const extra = rest[1];
  if (extra === '-h' || extra === '--help') return { command: 'help', topic: 'export' };
  if (extra === undefined) return { command: 'export', mode };
  // Policy options: the emulators' filter bounds their credential calls by its transits.
  const policy = exportPolicy();
  return policy === 'help' ? { command: 'help', topic: 'export' } : { command: 'export', mode, policy };
}
