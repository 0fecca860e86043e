// One program run natively in one tree and under tsyd in its twin, for tests that compare the two:
// what the kernel answers alone is what tsyd must answer.
import * as assert from 'uvu/assert';
import { CAPABILITIES } from '../../src/sandbox/capabilities.js';
import { rules } from './fsops.js';
import { ownTree, tempTree } from './tmp.js';
import { describe, runNative, runTsyd, type RunOptions, type RunResult } from './tsyd.js';
import { onlyThese } from './policy-base.js';

/** Every capability on and everything allowed: every path, and every address for the net capabilities. */
export const allowEverything: string[] = rules(
  `sandbox/${CAPABILITIES.join(',')}:on`,
  ...CAPABILITIES.map((c) => `allow/${c}+/***`),
  ...['net/bind', 'net/connect'].flatMap((c) => [`allow/${c}+0.0.0.0/0!0-65535`, `allow/${c}+::/0!0-65535`]),
);

/** Two fresh, empty trees: [native, tsyd], owned by `user` when given. */
export function twinTrees(name: string, user?: number): [string, string] {
  const trees: [string, string] = [tempTree(`${name}-native`), tempTree(`${name}-tsyd`)];
  if (user !== undefined) for (const t of trees) ownTree(t, user);
  return trees;
}

export interface TwinRuns {
  native: RunResult;
  sandboxed: RunResult;
}

/** Runs `file args` natively in trees[0] and under `tsyd run POLICY --` in trees[1]. */
export async function runTwins(trees: [string, string], policy: string[], file: string, args: string[], opts: RunOptions = {}): Promise<TwinRuns> {
  const native = await runNative(file, args, { ...opts, cwd: trees[0] });
  const sandboxed = await runTsyd(['run', ...onlyThese(policy), '--', file, ...args], { ...opts, cwd: trees[1] });
  return { native, sandboxed };
}

/** The lines a run printed, each numbered (a difference names the line) and its tree written <dir>. */
function numbered(r: RunResult, dir: string): string[] {
  return r.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => `#${i} ${l.split(dir).join('<dir>')}`);
}

/** Both runs exited 0 and printed the same lines; returns them (unnumbered, as tsyd's run printed them). */
export function expectSameLines(runs: TwinRuns, trees: [string, string]): string[] {
  assert.is(runs.native.code, 0, describe(runs.native));
  assert.is(runs.sandboxed.code, 0, describe(runs.sandboxed));
  assert.equal(numbered(runs.sandboxed, trees[1]), numbered(runs.native, trees[0]), 'every call answers as it does natively');
  return runs.sandboxed.stdout.split('\n').filter((l) => l !== '');
}
