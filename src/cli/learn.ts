// `tsyd learn`: run the program with every access allowed and recorded, then write the
// policy that lets the same run through and denies anything beyond it.
import { readdirSync, writeFileSync } from 'node:fs';
import { enforcedCapabilities } from '../syscalls/index.js';
import { resolveProgram } from '../supervisor/program-path.js';
import { buildPolicy, profileContext } from '../sandbox/build.js';
import { CAPABILITIES } from '../sandbox/capabilities.js';
import { learnPolicy, type LearnedAccess } from '../sandbox/learn.js';
import { policyFileNames } from '../sandbox/policy-files.js';
import type { LearnCommand } from './args.js';
import { supervise } from './supervise.js';

function homeUsers(): string[] {
  try {
    return readdirSync('/home');
  } catch {
    return [];
  }
}

export async function runLearn(cmd: LearnCommand): Promise<number> {
  const context = profileContext({ program: resolveProgram(cmd.program, process.env.PATH) });
  const policy = buildPolicy([{ profile: 'off' }, ...cmd.policy], context);
  // SAFETY: the output is the next run's policy: the learned program may not write it, plant
  // a symlink there (the policy would be written where it points), or make it another file.
  if (cmd.output !== undefined) policy.protectPolicyFiles(policyFileNames(cmd.output));
  // A capability this tsyd does not enforce records nothing: learning leaves it off.
  const enforced = enforcedCapabilities();
  for (const cap of CAPABILITIES) if (!enforced.has(cap)) policy.apply({ type: 'sandbox', caps: [cap], on: false });
  const accesses: LearnedAccess[] = [];
  const code = await supervise(cmd.program, cmd.args, { policy, record: true, logLevel: cmd.logLevel, logFd: cmd.logFd }, (child) =>
    child.on('access', (a) => accesses.push(a as LearnedAccess)),
  );
  const policyFiles = policy.protectedPolicyFiles();
  const learned = learnPolicy({ accesses, context, command: [cmd.program, ...cmd.args], enforced, users: homeUsers(), policyFiles });
  for (const s of learned.secrets) process.stderr.write(`tsyd: warning: the learned run touched a secret (${s}): allowed explicitly, marked # SECRET\n`);
  for (const w of learned.warnings) process.stderr.write(`tsyd: warning: ${w}\n`);
  // The bytes as learned: names that are not UTF-8 are written as they are (a -P file is bytes).
  if (cmd.output === undefined) process.stdout.write(learned.data);
  else writeFileSync(cmd.output, learned.data);
  return code;
}
