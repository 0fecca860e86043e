// What run-time rules (/dev/tsyd, the IPC socket) can cost an emulator, side by side: one
// decision on a 4 KB path with no run-time rule, with the worst rule sets each route's budget
// (RUNTIME_RULE_LIMITS) lets in, and with the attack that had no bound before (591 rules of `**`
// then `/a/`, 16 times each); and the heap an emulator's policy grows by with the program's rules.
// The rules go through PolicyLog.add, as an emulator and the socket add them.
// Run: npm run build && node --expose-gc dist/bench/runtime-rules.js [ROUNDS]
import { getHeapStatistics } from 'node:v8';
import { parseRule } from '../src/sandbox/rules.js';
import { Policy } from '../src/sandbox/policy.js';
import { PolicyLog, PROGRAM_LOG_QUOTA } from '../src/shared/policy-log.js';
import type { RuleRoute } from '../src/shared/runtime-rule-limits.js';

const rounds = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
const base = () => Policy.from(['sandbox/read:on', 'allow/read+/***', 'lock:off'].map((r) => parseRule(r, { kind: 'arg' })));

/** Adds rules until a route refuses one (or all are in); returns the policy and how many went in. */
function withRules(rules: Iterable<string>, route: RuleRoute | undefined): { policy: Policy; added: number } {
  const policy = base();
  const log = PolicyLog.create();
  let added = 0;
  for (const r of rules) {
    try {
      log.add(policy, r, route, PROGRAM_LOG_QUOTA);
      added++;
    } catch {
      break;
    }
  }
  return { policy, added };
}

function* numbered(make: (i: number) => string, count = 100_000): Generator<string> {
  for (let i = 0; i < count; i++) yield make(i);
}

const pathOf = (unit: string) => unit.repeat(Math.ceil(4096 / unit.length)).slice(0, 4096);
const SETS: Array<{ name: string; rules: () => Iterable<string>; path: string; route?: RuleRoute }> = [
  { name: 'none', rules: () => [], path: pathOf('/a') },
  { name: 'attack, unbounded (before)', rules: () => numbered((i) => `allow/read+${'/**/a'.repeat(16)}/${i}`, 591), path: pathOf('/a') },
  { name: 'attack, program budget', rules: () => numbered((i) => `allow/read+${'/**/a'.repeat(16)}/${i}`), path: pathOf('/a'), route: 'program' },
  { name: '`/**` + 127 a, program budget', rules: () => numbered((i) => `allow/read+/**${'a'.repeat(127 - String(i).length)}${i}`), path: `/${'a'.repeat(4095)}`, route: 'program' },
  { name: '`/**a*b`, program budget', rules: () => numbered((i) => `allow/read+/**a*b${i}`), path: pathOf('/a'), route: 'program' },
  { name: '`/**/a/**/a/**/a`, program budget', rules: () => numbered((i) => `allow/read+/**/a/**/a/**/a${i}`), path: pathOf('/a'), route: 'program' },
];

console.log(`one read decision on a 4096-byte path, ms (median of ${rounds}, after 2 to warm up); run-time rules added until refused`);
for (const set of SETS) {
  const { policy, added } = withRules(set.rules(), set.route);
  policy.check('read', set.path);
  policy.check('read', set.path);
  const ms = median(
    Array.from({ length: rounds }, () => {
      const t = process.hrtime.bigint();
      policy.check('read', set.path);
      return Number(process.hrtime.bigint() - t) / 1e6;
    }),
  );
  console.log(`${set.name.padEnd(40)} ${String(added).padStart(5)} rules ${ms.toFixed(3).padStart(10)} ms`);
}

const HEAVY: Array<[string, RuleRoute | undefined, (tag: string, i: number) => string]> = [
  ['4 KB of 16 `*a` then a name, unbounded (before)', undefined, (tag, i) => `allow/read+/${tag}${'*a'.repeat(16)}${String(i).padEnd(4000, 'b')}`],
  ['4 KB of 16 `*a` then a name, program budget', 'program', (tag, i) => `allow/read+/${tag}${'*a'.repeat(16)}${String(i).padEnd(4000, 'b')}`],
  ['4 KB literal paths, program budget', 'program', (tag, i) => `allow/read+/${tag}${String(i).padEnd(4000, 'b')}`],
  ['short literal paths, program budget', 'program', (tag, i) => `allow/read+/${tag}${i}`],
  ['short `/x*` globs, program budget', 'program', (tag, i) => `deny/read+/${tag}${i}*`],
];

/** Heap used (after a full GC) by a policy with the program's rules, added until refused. */
function heapOf(route: RuleRoute | undefined, make: (i: number) => string): { mib: number; added: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  const before = getHeapStatistics().used_heap_size;
  const made = withRules(numbered(make), route);
  made.policy.check('read', '/x');
  gc();
  const mib = (getHeapStatistics().used_heap_size - before) / (1 << 20);
  return { mib, added: made.added };
}
HEAVY.forEach(([name, route, make], k) => {
  const { mib, added } = heapOf(route, (i) => make(`h${k}`, i));
  console.log(`heap of the program's rules: ${name.padEnd(48)} ${String(added).padStart(5)} rules ${mib.toFixed(1).padStart(7)} MiB`);
});
