// Runs the fsrace fixture (a thread flipping the path of mkdir/unlink between an allowed and a
// denied location) under a check-then-CONTINUE checker (csuper --vulnerable, where it must get
// through) and under tsyd (where it must not), for the create and delete race tests.
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { expectLeak, runVulnerable } from './csuper.js';
import { fixture } from './fixtures.js';
import { tempTree } from './tmp.js';
import { describe, runTsyd, type RunResult } from './tsyd.js';
import { rules } from './fsops.js';
import { onlyThese } from './policy-base.js';

export type RaceOp = 'mkdir' | 'unlink';

export interface RaceCounts {
  /** The fixture's own view (access(F_OK) of the denied path before and after). */
  touched: boolean;
  done: number;
  errors: number;
  /** Failed calls whose errno was EACCES (the others: EEXIST, ENOENT between the workers). */
  eacces: number;
}

export interface RaceSetup {
  dir: string;
  /** Same length, one byte apart: dir/A/t and dir/D/t. */
  allowed: string;
  denied: string;
  /** Puts the tree back in its starting state (denied missing for mkdir, present for unlink). */
  reset(): void;
  /** Whether the denied location was changed, seen from the test process (not through any supervisor). */
  touched(): boolean;
}

export function raceSetup(op: RaceOp): RaceSetup {
  const dir = tempTree(`fsrace-${op}`);
  const allowed = `${dir}/A/t`;
  const denied = `${dir}/D/t`;
  const reset = (): void => {
    for (const sub of ['A', 'D']) {
      rmSync(`${dir}/${sub}`, { recursive: true, force: true });
      mkdirSync(`${dir}/${sub}`, { mode: 0o755 });
    }
    if (op === 'unlink') {
      writeFileSync(allowed, '');
      writeFileSync(denied, 'DENIED');
    }
  };
  const touched = (): boolean => existsSync(denied) === (op === 'mkdir');
  reset();
  return { dir, allowed, denied, reset, touched };
}

export function raceCounts(r: RunResult): RaceCounts {
  const m = /^touched=([01]) done=(\d+) errors=(\d+) eacces=(\d+)$/m.exec(r.stdout);
  assert.ok(m, `fsrace printed its counts: ${describe(r)}`);
  return { touched: m[1] === '1', done: Number(m[2]), errors: Number(m[3]), eacces: Number(m[4]) };
}

/**
 * Under the check-then-CONTINUE checker (csuper --vulnerable DENIED), which refuses the denied
 * path whenever it reads it, the race must reach the denied location within a few runs: else the
 * test under tsyd proves nothing. Returns every run's counts, the leaking one last.
 */
export async function expectVulnerableTouch(op: RaceOp, s: RaceSetup): Promise<RaceCounts[]> {
  const runs = await expectLeak(
    `${op} race`,
    5,
    async () => {
      s.reset();
      const r = await runVulnerable(s.denied, fixture('fsrace'), [op, s.allowed, s.denied, '0.5']);
      assert.is(r.code, 0, describe(r));
      const c = raceCounts(r);
      // The checker was active: it refused the denied path, and those refusals are the EACCES.
      assert.ok(c.eacces > 0, `the checker refused the denied path: ${JSON.stringify(c)}`);
      assert.is(c.eacces, r.refused, `EACCES only from the checker: ${JSON.stringify(c)} ${describe(r)}`);
      assert.is(c.touched, s.touched(), `the fixture and the file system agree: ${JSON.stringify(c)}`);
      return c;
    },
    (c) => s.touched() && c.touched,
    (c) => JSON.stringify(c),
  );
  s.reset();
  return runs;
}

/**
 * Under tsyd, with `policy` allowing the op under dir/A only: the denied location is never
 * touched, the allowed one is, calls on the denied path were refused with the policy's EACCES, and
 * each refusal was logged once as an access record for `cap` naming the denied path.
 */
export async function expectTsydNeverTouches(op: RaceOp, cap: string, s: RaceSetup, policy: string[]): Promise<RaceCounts> {
  s.reset();
  const r = await runTsyd(['run', '--log-fd', '3', ...onlyThese(policy), '--', fixture('fsrace'), op, s.allowed, s.denied, '2'], {
    logFd: 3,
    timeoutMs: 120_000,
  });
  assert.is(r.code, 0, describe(r));
  const c = raceCounts(r);
  assert.not.ok(s.touched(), `the denied path was touched (seen by the test): ${JSON.stringify(c)}`);
  assert.not.ok(c.touched, `the denied path was touched (seen by the program): ${JSON.stringify(c)}`);
  assert.ok(c.done > 0, `the allowed ${op} happened: ${JSON.stringify(c)}`);
  // EEXIST and ENOENT between the workers are no refusal: only EACCES is the policy's.
  assert.ok(c.eacces > 0, `some calls hit the denied path and were refused with EACCES: ${JSON.stringify(c)}`);
  const access = r.records.filter((rec) => rec['ctx'] === 'access');
  assert.is(access.length, c.eacces, `one access record per EACCES: ${access.length} records, ${JSON.stringify(c)}`);
  const kinds = new Set(access.map((rec) => `${rec['level']} ${rec['cap']} ${rec['sys']} ${rec['path']}`));
  assert.equal([...kinds], [`warn ${cap} ${op} ${s.denied}`], `access records: ${[...kinds].join(', ')}`);
  return c;
}

/** Registers the vulnerable-checker and the sandboxed race test for `op`, allowed by `cap` under dir/A only. */
export function raceTests(test: Test, op: RaceOp, cap: string): void {
  const s = raceSetup(op);
  let leaked = 0;
  test(`a check-then-CONTINUE checker lets the ${op} race reach the denied path (so the tsyd test can fail)`, async () => {
    const runs = await expectVulnerableTouch(op, s);
    leaked = runs.length;
    console.log(`${op} race: csuper --vulnerable: ${runs.map((c) => JSON.stringify(c)).join(' ')}`);
  });
  test(`under tsyd the ${op} race never touches the denied path`, async () => {
    assert.ok(leaked > 0, 'the vulnerable checker leaked in this run (the previous test)');
    const c = await expectTsydNeverTouches(op, cap, s, rules(`sandbox/${cap}:on`, `allow/${cap}+${s.dir}/A/***`));
    console.log(`${op} race: tsyd: ${JSON.stringify(c)}`);
  });
}
