// argv of `tsyd agent` and `tsyd export oci-seccomp`: their own options, then the policy
// options as `tsyd check` reads them.
import { UsageError } from '../errors.js';
import { isLogLevel, type LogLevel } from '../log.js';
import type { PolicyInput } from '../sandbox/build.js';
import { requireAbsoluteSocket } from '../agent/socket-path.js';
import { parsePolicyOptions, type Command } from './args.js';

export interface AgentCommand {
  command: 'agent';
  /** The UNIX socket the runtime connects to (listenerPath). */
  listen: string;
  /** The default policy: the one of a container without `policy=NAME` metadata. */
  policy: PolicyInput[];
  /** --policies DIR: `policy=NAME` picks DIR/NAME.policy. */
  policies?: string;
  /** --allow-uid UID[,UID...]: users besides root and the agent's own whose runtime may connect. */
  allowUids?: number[];
  logLevel?: LogLevel;
  logFd?: number;
}

/** Takes `--NAME VALUE` / `--NAME=VALUE` options of `names` out of `argv`; the rest in order. */
function takeOptions(argv: string[], names: readonly string[]): { found: Map<string, string>; rest: string[] } {
  const found = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = names.find((n) => a === n || a.startsWith(`${n}=`));
    if (name === undefined) {
      rest.push(a);
      continue;
    }
    const v = a === name ? argv[++i] : a.slice(name.length + 1);
    if (v === undefined || v === '') throw new UsageError(`option ${name} needs a value`);
    found.set(name, v);
  }
  return { found, rest };
}

const OCI_SECCOMP_OPTIONS = ['--listener', '--metadata'] as const;
const AGENT_OPTIONS = ['--listen', '--policies', '--allow-uid', '--log-level', '--log-fd'] as const;

function policyOf(rest: string[], topic: 'export' | 'agent'): PolicyInput[] | Command {
  const of = topic === 'agent' ? { name: 'agent', options: AGENT_OPTIONS, help: 'tsyd agent --help' } : { name: 'export oci-seccomp', options: OCI_SECCOMP_OPTIONS, help: 'tsyd export --help' };
  const policy = parsePolicyOptions(rest, of);
  return policy === 'help' ? { command: 'help', topic } : policy;
}

/** `export oci-seccomp --listener SOCK [--metadata TEXT] [POLICY OPTIONS]`. */
export function parseOciSeccomp(argv: string[]): Command {
  const { found, rest } = takeOptions(argv, OCI_SECCOMP_OPTIONS);
  const policy = policyOf(rest, 'export');
  if (!Array.isArray(policy)) return policy;
  const listener = found.get('--listener');
  if (listener === undefined) throw new UsageError('export oci-seccomp needs --listener SOCK: the socket tsyd agent listens on');
  const metadata = found.get('--metadata');
  return { command: 'oci-seccomp', policy, listener, ...(metadata !== undefined ? { metadata } : {}) };
}

/** `agent --listen SOCK [--policies DIR] [--allow-uid UID,...] [--log-level L] [--log-fd N] [POLICY OPTIONS]`. */
export function parseAgent(argv: string[]): Command {
  if (argv.includes('-h') || argv.includes('--help')) return { command: 'help', topic: 'agent' };
  const { found, rest } = takeOptions(argv, AGENT_OPTIONS);
  const policy = policyOf(rest, 'agent');
  if (!Array.isArray(policy)) return policy;
  const listen = found.get('--listen');
  if (listen === undefined) throw new UsageError('agent needs --listen SOCK: the socket named as listenerPath in the containers\' seccomp profile');
  requireAbsoluteSocket('--listen', listen);
  const logLevel = found.get('--log-level');
  if (logLevel !== undefined && !isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of trace, debug, info, notice, warn, error, alert, fatal, silent; got '${logLevel}'`);
  const logFd = found.get('--log-fd');
  if (logFd !== undefined && !/^\d+$/.test(logFd)) throw new UsageError(`--log-fd must be a file descriptor number, got '${logFd}'`);
  const policies = found.get('--policies');
  const allowUid = found.get('--allow-uid');
  if (allowUid !== undefined && !/^\d+(,\d+)*$/.test(allowUid)) throw new UsageError(`--allow-uid must be uids separated by commas, got '${allowUid}'`);
  return {
    command: 'agent',
    listen,
    policy,
    ...(policies !== undefined ? { policies } : {}),
    ...(allowUid !== undefined ? { allowUids: allowUid.split(',').map(Number) } : {}),
    ...(logLevel !== undefined ? { logLevel } : {}),
    ...(logFd !== undefined ? { logFd: Number(logFd) } : {}),
  };
}
