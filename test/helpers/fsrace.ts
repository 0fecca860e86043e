// Runs the fsrace fixture (a thread flipping the path of mkdir/unlink between an allowed and a
// denied location) natively and under tsyd, for the create and delete race tests.
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fixture } from './fixtures.js';
import { tempTree } from './tmp.js';
import { describe, runNative, runTsyd, type RunResult } from './tsyd.js';
import { rules } from './fsops.js';

export type RaceOp = 'mkdir' | 'unlink';

export interface RaceCounts {
  touched: boolean;
  done: number;
  errors: number;
}

export interface RaceSetup {
  dir: string;
  /** Same length, one byte apart: dir/A/t and dir/D/t. */
  allowed: string;
  denied: string;
  /** Puts the tree back in its starting state (denied missing for mkdir, present for unlink). */
  reset(): void;
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
  reset();
  return { dir, allowed, denied, reset };
}

export function raceCounts(r: RunResult): RaceCounts {
  const m = /^touched=([01]) done=(\d+) errors=(\d+)$/m.exec(r.stdout);
  assert.ok(m, `fsrace printed its counts: ${describe(r)}`);
  return { touched: m[1] === '1', done: Number(m[2]), errors: Number(m[3]) };
}

/** Natively the race must reach the denied location within a few runs, else the test proves nothing. */
export async function expectNativeTouch(op: RaceOp, s: RaceSetup): Promise<void> {
  const attempts: RaceCounts[] = [];
  for (let i = 0; i < 5; i++) {
    s.reset();
    const r = await runNative(fixture('fsrace'), [op, s.allowed, s.denied, '0.5']);
    assert.is(r.code, 0, describe(r));
    const c = raceCounts(r);
    attempts.push(c);
    if (c.touched) return s.reset();
  }
  assert.unreachable(`the ${op} race never reached the denied path natively: ${JSON.stringify(attempts)}`);
}

/**
 * Under tsyd, with `policy` allowing the op under dir/A only: the denied location is never
 * touched, the allowed one is, some calls were refused, and every record names the denied path.
 */
export async function expectTsydNeverTouches(op: RaceOp, s: RaceSetup, policy: string[]): Promise<RaceCounts> {
  s.reset();
  const r = await runTsyd(['run', '--log-fd', '3', ...policy, '--', fixture('fsrace'), op, s.allowed, s.denied, '2'], {
    logFd: 3,
    timeoutMs: 120_000,
  });
  assert.is(r.code, 0, describe(r));
  const c = raceCounts(r);
  assert.not.ok(c.touched, `the denied path was touched: ${JSON.stringify(c)}`);
  assert.ok(c.done > 0, `the allowed ${op} happened: ${JSON.stringify(c)}`);
  assert.ok(c.errors > 0, `some calls were refused: ${JSON.stringify(c)}`);
  const paths = new Set(r.records.filter((rec) => rec['ctx'] === 'access').map((rec) => rec['path']));
  assert.ok([...paths].every((p) => p === s.denied), `access records name only the denied path: ${[...paths].join(', ')}`);
  return c;
}

/** Registers the native and the sandboxed race test for `op`, allowed by `cap` under dir/A only. */
export function raceTests(test: Test, op: RaceOp, cap: string): void {
  const s = raceSetup(op);
  test(`natively the ${op} race reaches the denied path (so the sandboxed test can fail)`, async () => {
    await expectNativeTouch(op, s);
  });
  test(`under tsyd the ${op} race never touches the denied path`, async () => {
    await expectTsydNeverTouches(op, s, rules(`sandbox/${cap}:on`, `allow/${cap}+${s.dir}/A/***`));
  });
}
