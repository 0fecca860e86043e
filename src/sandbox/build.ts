// Policy inputs (rules, files, profiles) in command-line order → one Policy.
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { CAPABILITIES, type Capability } from './capabilities.js';
import { exists, realpath } from './fs-reads.js';
import { linksOnTheWay } from './symlink-walk.js';
import { Policy } from './policy.js';
import { DEFAULT_PROFILE, profileStatements, type ProfileContext } from './profiles.js';
import { loadPolicyFile, parseRule, type RuleSource, type Statement } from './rules.js';
import { policyFilesNames } from './policy-files.js';
import { fromBytes } from './bytes.js';
import { passwdHomes } from './secrets.js';

/** One source of rules: a rule text (`-m`), a policy file (`-P`) or a built-in profile (`-p`). */
export type PolicyInput = { rule: string; source?: RuleSource } | { file: string } | { profile: string };

/**
 * The statements of `inputs` in order, on their base: with no profile among them, the default
 * profile (user) comes first and the rules and files apply on top of it; a `-p` (`none` for the
 * empty base) replaces it. SAFETY: one rule added to widen a policy (`-m allow/net/connect+...`)
 * must not drop the protection of secrets and of files outside the working directory.
 * `enforced`: the capabilities the implicit base may turn on (a bare `tsyd run` works on a tsyd
 * that does not enforce every capability); one a rule or an explicit profile turns on is kept
 * and refused later (supervisor/options.ts).
 */
export function policyStatements(inputs: PolicyInput[], context: () => ProfileContext, enforced?: ReadonlySet<Capability>): Statement[] {
  const statements: Statement[] = [];
  if (hasImplicitBase(inputs)) statements.push(...trimmed(profileStatements(DEFAULT_PROFILE, context()), enforced));
  let ctx: ProfileContext | undefined;
  for (const [i, input] of inputs.entries()) {
    // A rule says where it came from (the CLI: `-m`); the library's are its `policy` entries.
    if ('rule' in input) statements.push(parseRule(input.rule, input.source ?? { kind: 'library', index: i + 1 }));
    else if ('file' in input) statements.push(...loadPolicyFile(input.file));
    // `none` is made of nothing: no context read (no /etc/passwd to protect).
    else if (input.profile !== 'none') statements.push(...profileStatements(input.profile, (ctx ??= context())));
  }
  return statements;
}

/** True when no `-p` is among `inputs`: the default profile is their base. */
export function hasImplicitBase(inputs: PolicyInput[]): boolean {
  return !inputs.some((i) => 'profile' in i);
}

function trimmed(statements: Statement[], enforced: ReadonlySet<Capability> | undefined): Statement[] {
  if (enforced === undefined) return statements;
  return statements.map((s) => (s.type === 'sandbox' && s.on ? { ...s, caps: s.caps.filter((c) => enforced.has(c)) } : s));
}

/**
 * True when nothing of `policy` confines the program (no capability on) although that was not
 * asked for outright: only `-p off` or `-p none` alone says so. `asked`: the inputs, or a ready
 * Policy (never taken as asking for it).
 */
export function runsUnconfined(asked: PolicyInput[] | Policy | undefined, policy: Policy): boolean {
  // The policy files' protection (write, create, delete of /etc/passwd and the -P files) is no confinement of the program.
  if (CAPABILITIES.some((c) => policy.isOnByRules(c))) return false;
  // Crypt sandboxing decides what the program's files hold on disk: the program is not unconfined.
  if (policy.crypt.on) return false;
  const alone = Array.isArray(asked) && asked.length === 1 ? asked[0]! : undefined;
  return !(alone !== undefined && 'profile' in alone && (alone.profile === 'off' || alone.profile === 'none'));
}

/** The one warning for runsUnconfined(), without the `tsyd: ` prefix. */
export function unconfinedWarning(program: string): string {
  return `no sandbox capability is on: ${program} runs unconfined`;
}

/**
 * The policy of `inputs`, its files protected. SAFETY: the program must never change the policy
 * it runs under next time: the `-P` files and the files the profile context was read from
 * are denied write, create and delete whatever the rules say (Policy.protectPolicyFiles).
 */
export function buildPolicy(
  inputs: PolicyInput[],
  context: ProfileContext | (() => ProfileContext) = () => profileContext(),
  enforced?: ReadonlySet<Capability>,
): Policy {
  let used: ProfileContext | undefined;
  const contextOnce = () => (used ??= typeof context === 'function' ? context() : context);
  const policy = Policy.from(policyStatements(inputs, contextOnce, enforced));
  policy.protectPolicyFiles(policyFilesNames([...inputFiles(inputs), ...(used?.files ?? [])]));
  // SAFETY: the IPC socket's path is protected as a policy file: the program can neither bind
  // it first, nor delete, rename or replace it (connects to it: src/syscalls/ipc-guard.ts); nor
  // change the attributes of a directory on the way (chmod 000 would lock the operator out).
  if (policy.ipc.address?.startsWith('/')) policy.protectSocketWay(policyFilesNames([fromBytes(policy.ipc.address)]));
  return policy;
}

/** The `-P` files of `inputs`, in order. */
export function inputFiles(inputs: PolicyInput[]): string[] {
  return inputs.flatMap((i) => ('file' in i ? [i.file] : []));
}

function canonical(path: string): string {
  try {
    return realpath(path);
  } catch {
    return path;
  }
}

/**
 * A socket's path as rules see it: its directory canonical (the socket itself may be gone, and
 * the name is what the program could bind again); the socket's own target is added beside it.
 */
function canonicalSocket(path: string): string {
  const dir = canonical(dirname(path));
  return dir === '/' ? `/${basename(path)}` : `${dir}/${basename(path)}`;
}

/** Where the profile finds every account's home. */
const PASSWD = '/etc/passwd';

/** The context of a program started in `cwd` (default: ours) with `env` (default: ours). */
export function profileContext(opts: { cwd?: string; env?: NodeJS.ProcessEnv; program?: string } = {}): ProfileContext {
  const env = opts.env ?? process.env;
  const home = env.HOME !== undefined && env.HOME.startsWith('/') ? env.HOME : homedir();
  const tmp = env.TMPDIR !== undefined && env.TMPDIR.startsWith('/') ? canonical(env.TMPDIR) : canonical(tmpdir());
  const ctx: ProfileContext = { cwd: canonical(opts.cwd ?? process.cwd()), home: canonical(home) };
  if (tmp !== '/tmp') ctx.tmp = tmp;
  const homes = passwdHomes(PASSWD);
  if (homes.length > 0) ctx.homes = homes;
  ctx.files = [PASSWD];
  // Agent sockets the environment names: ssh's, tmux's server (`$TMUX` = socket,pid,session),
  // gpg's (the old `$GPG_AGENT_INFO` = socket:pid:1).
  const agents = [env.SSH_AUTH_SOCK, env.TMUX?.split(',')[0], env.GPG_AGENT_INFO?.split(':')[0]]
    .filter((p): p is string => p !== undefined && p.startsWith('/') && p !== '/')
    .flatMap((p) => [canonicalSocket(p), ...(exists(p) ? [canonical(p)] : [])]);
  if (agents.length > 0) ctx.agents = [...new Set(agents)];
  if (env.XDG_RUNTIME_DIR !== undefined && env.XDG_RUNTIME_DIR.startsWith('/')) ctx.runtime = canonical(env.XDG_RUNTIME_DIR);
  // Relative entries (`.`, '') name a different directory at every cd: left out.
  const path = (env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  if (path.length > 0) ctx.path = [...new Set(path.map(canonical))];
  if (opts.program !== undefined) {
    const named = opts.cwd !== undefined ? resolve(opts.cwd, opts.program) : resolve(opts.program);
    ctx.program = canonical(named);
    ctx.programLinks = linksOnTheWay(named);
  }
  return ctx;
}
