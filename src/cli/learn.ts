// `tsyd learn`: run the program with every access allowed and recorded, then write the
// policy that lets the same run through and denies anything beyond it.
import { readdirSync } from 'node:fs';
import { enforcedCapabilities } from '../syscalls/index.js';
import { resolveProgram } from '../supervisor/program-path.js';
import { buildPolicy, profileContext } from '../sandbox/build.js';
import { CAPABILITIES } from '../sandbox/capabilities.js';
import { learnPolicy, type LearnedAccess } from '../sandbox/learn.js';
import { policyFileNames } from '../sandbox/policy-files.js';
import type { LearnCommand } from './args.js';
import { checkLearnOutput, DEFAULT_LEARN_OUTPUT, writeLearnOutput } from './learn-output.js';
import { EXIT_START_FAILED, supervise } from './supervise.js';

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
  const output = cmd.output ?? DEFAULT_LEARN_OUTPUT;
  const force = cmd.force === true;
  // Before the program runs: a workload that cannot leave its policy anywhere is not started.
  checkLearnOutput(output, force);
  // SAFETY: the output is the next run's policy: the learned program may not write it, plant
  // a symlink there (the policy would be written where it points), or make it another file.
  policy.protectPolicyFiles(policyFileNames(output));
  // A capability this tsyd does not enforce records nothing: learning leaves it off.
  const enforced = enforcedCapabilities();
  for (const cap of CAPABILITIES) if (!enforced.has(cap)) policy.apply({ type: 'sandbox', caps: [cap], on: false });
  const accesses: LearnedAccess[] = [];
  const code = await supervise(cmd.program, cmd.args, { policy, record: true, logLevel: cmd.logLevel, logFd: cmd.logFd, logFormat: cmd.logFormat }, (child) =>
    child.on('access', (a) => accesses.push(a as LearnedAccess)),
  );
  const policyFiles = policy.protectedPolicyFiles();
  const learned = learnPolicy({ accesses, context, command: [cmd.program, ...cmd.args], enforced, users: homeUsers(), policyFiles });
  for (const s of learned.secrets) process.stderr.write(`tsyd: warning: the learned run touched a secret (${s}): allowed explicitly, marked # SECRET\n`);
  for (const w of learned.warnings) process.stderr.write(`tsyd: warning: ${w}\n`);
  // The bytes as learned: names that are not UTF-8 are written as they are (a -P file is bytes).
  // Checked before the run; should it fail now (the directory removed meanwhile, a full disk),
  // the run's result is lost: 125, whatever the program's status, so that no script goes on.
  try {
    writeLearnOutput(output, learned.data, force);
  } catch (err) {
    process.stderr.write(`tsyd: ${(err as Error).message}\n`);
    return EXIT_START_FAILED;
  }
  return code;
}
