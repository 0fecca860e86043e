// Policy inputs (rules, files, profiles) in command-line order → one Policy.
import { existsSync, realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { linksOnTheWay } from './symlink-walk.js';
import { Policy } from './policy.js';
import { DEFAULT_PROFILE, profileStatements, type ProfileContext } from './profiles.js';
import { loadPolicyFile, parseRule, type RuleSource, type Statement } from './rules.js';
import { policyFilesNames } from './policy-files.js';
import { passwdHomes } from './secrets.js';

/** One source of rules: a rule text (`-m`), a policy file (`-P`) or a built-in profile (`-p`). */
export type PolicyInput = { rule: string; source?: RuleSource } | { file: string } | { profile: string };

/**
 * The statements of `inputs` in order. No input at all means the default profile (user):
 * SAFETY: a sandbox started without a word about policy still protects secrets and files
 * outside the working directory.
 */
export function policyStatements(inputs: PolicyInput[], context: () => ProfileContext): Statement[] {
  if (inputs.length === 0) return profileStatements(DEFAULT_PROFILE, context());
  const statements: Statement[] = [];
  let ctx: ProfileContext | undefined;
  for (const [i, input] of inputs.entries()) {
    // A rule says where it came from (the CLI: `-m`); the library's are its `policy` entries.
    if ('rule' in input) statements.push(parseRule(input.rule, input.source ?? { kind: 'library', index: i + 1 }));
    else if ('file' in input) statements.push(...loadPolicyFile(input.file));
    else statements.push(...profileStatements(input.profile, (ctx ??= context())));
  }
  return statements;
}

/**
 * The policy of `inputs`, its files protected. SAFETY: the program must never change the policy
 * it runs under next time: the `-P` files and the files the profile context was read from
 * are denied write, create and delete whatever the rules say (Policy.protectPolicyFiles).
 */
export function buildPolicy(inputs: PolicyInput[], context: ProfileContext | (() => ProfileContext) = () => profileContext()): Policy {
  let used: ProfileContext | undefined;
  const contextOnce = () => (used ??= typeof context === 'function' ? context() : context);
  const policy = Policy.from(policyStatements(inputs, contextOnce));
  policy.protectPolicyFiles(policyFilesNames([...inputFiles(inputs), ...(used?.files ?? [])]));
  return policy;
}

/** The `-P` files of `inputs`, in order. */
export function inputFiles(inputs: PolicyInput[]): string[] {
  return inputs.flatMap((i) => ('file' in i ? [i.file] : []));
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
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
    .flatMap((p) => [canonicalSocket(p), ...(existsSync(p) ? [canonical(p)] : [])]);
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
