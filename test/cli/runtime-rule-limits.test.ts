// The budget of run-time rules (src/shared/runtime-rule-limits.ts): the program's own rules
// (/dev/tsyd, lock:off) are bounded like the socket's, in wildcards, bytes and automaton steps;
// a rule over it is refused as a bad rule is (EINVAL) with a warn record that says why, and the
// rules of the start (-m) have no such bound.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';

const dir = tempTree('rulebudget', { f: 'CONTENT' });
const f = `${dir}/f`;
const readAll = rules('sandbox/read:on', 'allow/read+/***');
/** 65 automaton steps: two of them are over the 128 of a route. */
const heavy = (i: number) => `allow/read+${'/**/a'.repeat(16)}/${i}`;

test('lock:off: a program rule over the budget of automaton steps or wildcards is refused (EINVAL, a warn record); a literal one still fits', async () => {
  const run = await fsops([...rules('lock:off'), ...readAll], [
    'stat', `/dev/tsyd/${heavy(0)}`,
    'stat', `/dev/tsyd/${heavy(1)}`,
    'stat', `/dev/tsyd/allow/read+/${'*a'.repeat(33)}`,
    'stat', `/dev/tsyd/deny/read+${f}`,
    'read', f,
  ]);
  expectRun({ ...run, lines: run.lines.map((l) => (l.startsWith('stat ok') ? 'stat ok' : l)) }, ['stat ok', 'stat EINVAL', 'stat EINVAL', 'stat ok', 'read EACCES'], [
    { cap: 'read', path: f, sys: 'openat' },
  ]);
  const refused = run.result.records.filter((r) => r['op'] === 'runtime_rule' && r['level'] === 'warn');
  assert.is(refused.length, 2, run.result.log);
  assert.match(String(refused[0]!['msg']), /over its run-time budget/);
  assert.match(String(refused[0]!['err']), /automaton steps, and the program \(\/dev\/tsyd\) used 65 of its 128/);
  assert.match(String(refused[1]!['err']), /the rule has 33 wildcards; expected at most 32/);
});

test('lock:off: only real wildcards count: 33 escaped stars (\\*) and 33 braces (no glob feature) fit; 33 stars do not', async () => {
  const run = await fsops([...rules('lock:off'), ...readAll], [
    'stat', `/dev/tsyd/allow/read+/${'\\*a'.repeat(33)}`,
    'stat', `/dev/tsyd/allow/read+/${'{a'.repeat(33)}`,
    'stat', `/dev/tsyd/allow/read+/${'*a'.repeat(33)}`,
  ]);
  expectRun({ ...run, lines: run.lines.map((l) => (l.startsWith('stat ok') ? 'stat ok' : l)) }, ['stat ok', 'stat ok', 'stat EINVAL']);
  assert.match(run.result.log, /the rule has 33 wildcards; expected at most 32 wildcards \(\*, \?, \[\) in a rule/);
});

test('lock:off: a program whose rules are over the budget of bytes can still lock the policy', async () => {
  const big = (i: number) => `/dev/tsyd/allow/read+/${String(i).padEnd(4000, 'b')}`;
  const run = await fsops([...rules('lock:off'), ...readAll], [
    ...Array.from({ length: 17 }, (_, i) => ['stat', big(i)]).flat(),
    // 16 × 4012 bytes and 1342: 2 bytes left, fewer than lock:on's 7.
    'stat', `/dev/tsyd/allow/read+/${'c'.repeat(1330)}`,
    'stat', '/dev/tsyd/lock:on',
    'stat', `/dev/tsyd/deny/read+${f}`,
    'read', f,
  ]);
  const lines = run.lines.map((l) => (l.startsWith('stat ok') ? 'stat ok' : l));
  expectRun({ ...run, lines }, [...Array<string>(16).fill('stat ok'), 'stat EINVAL', 'stat ok', 'stat ok', 'stat ENOENT', 'read ok CONTENT']);
  assert.match(run.result.log, /too many rules added through the program \(\/dev\/tsyd\) \(\d+ of its 65536 bytes in a run\)/);
});

test('the rules of the start (-m) are the operator\'s: no run-time budget', async () => {
  const run = await fsops([...readAll, ...[0, 1, 2, 3].map(heavy).flatMap((r) => rules(r)), ...rules(`deny/read+${f}`)], ['read', f]);
  expectRun(run, ['read EACCES'], [{ cap: 'read', path: f, sys: 'openat' }]);
});

test.run();
