// lock:on / lock:exec / lock:off. With lock:off the program changes the policy at run time through
// stat("/dev/tsyd/RULE"): 0 when applied and in force from then on, EINVAL for a bad rule. Locked
// (lock:on, or lock:exec — the default — once the program runs) the path does not exist and
// nothing changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { expectRun, fsops, rules, type FsRun } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';

const dir = tempTree('lock', { f: 'CONTENT', before: '', after: '' });
const f = `${dir}/f`;
const readAll = rules('sandbox/read:on', 'allow/read+/***');

/** The stat lines of control requests carry no data: "stat ok ..." becomes "stat ok". */
function statOk(run: FsRun): FsRun {
  return { ...run, lines: run.lines.map((l) => (l.startsWith('stat ok') ? 'stat ok' : l)) };
}

test('lock:off: rules added through /dev/tsyd are in force at once', async () => {
  const run = await fsops([...rules('lock:off'), ...readAll], [
    'read', f,
    'stat', '/dev/tsyd',
    'stat', `/dev/tsyd/deny/read+${dir}/**`,
    'read', f,
    'stat', `/dev/tsyd/allow/read+${f}`,
    'read', f,
    'stat', '/dev/tsyd/no-such-rule',
    'stat', '/dev/tsyd/sandbox/read:sideways',
  ]);
  expectRun(statOk(run), ['read ok CONTENT', 'stat ok', 'stat ok', 'read EACCES', 'stat ok', 'read ok CONTENT', 'stat EINVAL', 'stat EINVAL'], [
    { cap: 'read', path: f, sys: 'openat' },
  ]);
});

test('lock:off: a capability turned on at run time is enforced', async () => {
  const run = await fsops(rules('lock:off'), ['unlink', `${dir}/before`, 'stat', '/dev/tsyd/sandbox/delete:on', 'unlink', `${dir}/after`]);
  expectRun(statOk(run), ['unlink ok', 'stat ok', 'unlink EACCES'], [{ cap: 'delete', path: `${dir}/after`, sys: 'unlink' }]);
  assert.not.ok(existsSync(`${dir}/before`));
  assert.ok(existsSync(`${dir}/after`));
});

test('lock:off: the program can close the route with lock:on', async () => {
  const run = await fsops([...rules('lock:off'), ...readAll], [
    'stat', '/dev/tsyd/lock:on',
    'stat', '/dev/tsyd',
    'stat', `/dev/tsyd/deny/read+${f}`,
    'read', f,
  ]);
  expectRun(statOk(run), ['stat ok', 'stat ENOENT', 'stat ENOENT', 'read ok CONTENT']);
});

for (const lock of [[], ['lock:exec'], ['lock:on']]) {
  const name = lock[0] ?? 'the default (exec)';
  test(`${name}: /dev/tsyd does not exist and the policy does not change`, async () => {
    const run = await fsops([...readAll, ...rules(...lock)], [
      'stat', '/dev/tsyd',
      'stat', `/dev/tsyd/deny/read+${f}`,
      'stat', '/dev/tsyd/bogus',
      'read', f,
    ]);
    expectRun(run, ['stat ENOENT', 'stat ENOENT', 'stat ENOENT', 'read ok CONTENT']);
  });
}

test.run();
