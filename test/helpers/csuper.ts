// The deliberately vulnerable checker of the race tests: `bench/csuper.c --vulnerable DENIED`, a
// seccomp user-notification supervisor that reads the path (or connect's address) once, answers
// EACCES when it is DENIED and CONTINUE otherwise — the time-of-check/time-of-use bug that tsyd's
// emulation avoids. A race test must show, in the same run, that its attack gets through this
// checker (so that it can tell a check-then-continue supervisor from an emulating one) and not
// through tsyd.
import * as assert from 'uvu/assert';
import { benchProgram } from './fixtures.js';
import { describe, runNative, type RunOptions, type RunResult } from './tsyd.js';

export interface VulnerableRun extends RunResult {
  /** Requests the checker answered EACCES (it saw DENIED). */
  refused: number;
  /** Requests it answered CONTINUE (the kernel then read the argument again). */
  continued: number;
}

/** Runs `csuper --vulnerable DENIED -- FILE ARGS...` (DENIED: an absolute path or A.B.C.D:PORT). */
export async function runVulnerable(denied: string, file: string, args: string[], opts: RunOptions = {}): Promise<VulnerableRun> {
  const r = await runNative(benchProgram('csuper'), ['--vulnerable', denied, '--', file, ...args], opts);
  const m = /^csuper: refused (\d+) continued (\d+)$/m.exec(r.stderr);
  assert.ok(m, `csuper --vulnerable printed its counts: ${describe(r)}`);
  return { ...r, refused: Number(m[1]), continued: Number(m[2]) };
}

/**
 * Runs `attempt` up to `tries` times, until `leaked` says the attack reached the denied target,
 * and fails if it never did: then the race (or the checker) proves nothing, and neither would the
 * test that tsyd stops it. Returns every attempt's result, the leaking one last.
 */
export async function expectLeak<T>(what: string, tries: number, attempt: () => Promise<T>, leaked: (t: T) => boolean, show: (t: T) => string): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < tries; i++) {
    const t = await attempt();
    results.push(t);
    if (leaked(t)) return results;
  }
  assert.unreachable(
    `${what}: the check-then-CONTINUE checker (csuper --vulnerable) never let the race through in ${tries} runs ` +
      `(${results.map(show).join('; ')}): the race does not change the argument between check and use, so the ` +
      'test that tsyd stops it would prove nothing',
  );
  return results;
}
