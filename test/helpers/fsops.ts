// Runs the fsops fixture (test/fixtures/fsops.c) under tsyd with the log on fd 3, and checks what
// it printed and what tsyd logged: the file system capability tests share these.
import * as assert from 'uvu/assert';
import { fixture } from './fixtures.js';
import { describe, runTsyd, type RunOptions, type RunResult } from './tsyd.js';
import { onlyThese } from './policy-base.js';

/** `-m RULE` for each rule. */
export const rules = (...list: string[]): string[] => list.flatMap((r) => ['-m', r]);

/** A capability on, everything allowed but the given globs. */
export const allowAllBut = (cap: string, ...denied: string[]): string[] =>
  rules(`sandbox/${cap}:on`, `allow/${cap}+/***`, ...denied.map((d) => `deny/${cap}+${d}`));

export interface Denial {
  cap: string;
  path: string;
  sys: string;
}

export interface FsRun {
  result: RunResult;
  /** The program's pid (its first operation is `pid`). */
  pid: number;
  /** One line per operation after `pid`, e.g. "mkdir ok" or "stat ENOENT". */
  lines: string[];
  /** The warn records with ctx "access". */
  denials: Array<Record<string, unknown>>;
}

/** Runs `tsyd run POLICY -- fsops pid OPS...`; OPS are fsops operations with their arguments. */
export async function fsops(policy: string[], ops: string[], opts: RunOptions = {}): Promise<FsRun> {
  const result = await runTsyd(['run', '--log-fd', '3', ...onlyThese(policy), '--', fixture('fsops'), 'pid', ...ops], {
    ...opts,
    logFd: 3,
  });
  const all = result.stdout.split('\n').filter((l) => l !== '');
  const m = /^pid ok (\d+)$/.exec(all[0] ?? '');
  assert.ok(m, `fsops printed its pid first: ${describe(result)}\nlog: ${result.log}`);
  const denials = result.records.filter((r) => r['ctx'] === 'access');
  return { result, pid: Number(m[1]), lines: all.slice(1), denials };
}

/** A readable dump of a run for assertion messages. */
export function dump(run: FsRun): string {
  return `${describe(run.result)}\nlog: ${run.result.log}`;
}

/**
 * The run exited 0, printed exactly `lines`, and logged exactly the `denials` (in order), each a
 * warn access record naming the program's pid.
 */
export function expectRun(run: FsRun, lines: string[], denials: Denial[] = []): void {
  assert.is(run.result.code, 0, dump(run));
  assert.equal(run.lines, lines, dump(run));
  const got = run.denials.map((r) => ({ cap: r['cap'], path: r['path'], sys: r['sys'] }));
  assert.equal(got, denials, `access records: ${run.result.log}`);
  for (const r of run.denials) {
    assert.is(r['level'], 'warn', run.result.log);
    assert.is(r['pid'], run.pid, run.result.log);
  }
}
