// Policy inputs (rules, files, profiles) in command-line order → one Policy.
import { realpathSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { linksOnTheWay } from './links-on-the-way.js';
import { Policy } from './policy.js';
import { DEFAULT_PROFILE, profileStatements, type ProfileContext } from './profiles.js';
import { loadPolicyFile, parseRule, type Statement } from './rules.js';

/** One source of rules: a rule text (`-m`), a policy file (`-P`) or a built-in profile (`-p`). */
export type PolicyInput = { rule: string } | { file: string } | { profile: string };

/**
 * The statements of `inputs` in order. No input at all means the default profile (user):
 * SAFETY: a sandbox started without a word about policy still protects secrets and files
 * outside the working directory.
 */
export function policyStatements(inputs: PolicyInput[], context: () => ProfileContext): Statement[] {
  if (inputs.length === 0) return profileStatements(DEFAULT_PROFILE, context());
  const statements: Statement[] = [];
  let ctx: ProfileContext | undefined;
  for (const input of inputs) {
    if ('rule' in input) statements.push(parseRule(input.rule, { kind: 'arg' }));
    else if ('file' in input) statements.push(...loadPolicyFile(input.file));
    else statements.push(...profileStatements(input.profile, (ctx ??= context())));
  }
  return statements;
}

export function buildPolicy(inputs: PolicyInput[], context: ProfileContext | (() => ProfileContext) = () => profileContext()): Policy {
  return Policy.from(policyStatements(inputs, typeof context === 'function' ? context : () => context));
}

function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The context of a program started in `cwd` (default: ours) with `env` (default: ours). */
export function profileContext(opts: { cwd?: string; env?: NodeJS.ProcessEnv; program?: string } = {}): ProfileContext {
  const env = opts.env ?? process.env;
  const home = env.HOME !== undefined && env.HOME.startsWith('/') ? env.HOME : homedir();
  const tmp = env.TMPDIR !== undefined && env.TMPDIR.startsWith('/') ? canonical(env.TMPDIR) : canonical(tmpdir());
  const ctx: ProfileContext = { cwd: canonical(opts.cwd ?? process.cwd()), home: canonical(home) };
  if (tmp !== '/tmp') ctx.tmp = tmp;
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
