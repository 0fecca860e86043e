// lock:on / lock:exec / lock:off. With lock:off the program changes the policy at run time through
// stat("/dev/tsyd/RULE"): 0 when applied and in force from then on, EINVAL for a bad rule. Locked
// (lock:on, or lock:exec — the default — once the program runs) the path does not exist and
// nothing changes.
//
// A locked test must show that tsyd saw the control calls and refused to treat them as such:
// natively, and under a filter that does not stop stat, the program gets the same ENOENTs. So the
// locked tests turn stat on (the calls stop in the kernel) with a rule hiding /dev/tsyd, whose
// denial record proves that tsyd decided stat("/dev/tsyd") as an ordinary path; and the same
// operations run with the route open (lock:off) beside them, where they change the outcome.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { expectRun, fsops, rules, type FsRun } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative } from '../helpers/tsyd.js';

const dir = tempTree('lock', { f: 'CONTENT', before: '', after: '' });
const f = `${dir}/f`;
const readAll = rules('sandbox/read:on', 'allow/read+/***');
/** stat stops in the kernel whatever the lock; /dev/tsyd itself is hidden (a record when decided). */
const statAllButRoute = rules('sandbox/stat:on', 'allow/stat+/***', 'deny/stat+/dev/tsyd');

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

test('lock:off: the route is the raw path /dev/tsyd or /dev/tsyd/...; one that only resolves there, or goes on, is an ordinary path', async () => {
  const run = await fsops([...rules('lock:off'), ...readAll], [
    'stat', `/dev/../dev/tsyd/deny/read+${f}`,
    'stat', `/dev/tsyddeny/read+${f}`,
    'fstatat', 'cwd', `dev/tsyd/deny/read+${f}`, '0',
    'read', f,
    'stat', '/dev/tsyd/',
    'access', `/dev/tsyd/deny/read+${f}`, 'r',
    'read', f,
  ], { cwd: '/' });
  expectRun(statOk(run), ['stat ENOENT', 'stat ENOENT', 'fstatat ENOENT', 'read ok CONTENT', 'stat ok', 'access ok', 'read EACCES'], [
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
  const run = await fsops([...rules('lock:off'), ...readAll, ...statAllButRoute], [
    'stat', '/dev/tsyd/lock:on',
    'stat', '/dev/tsyd',
    'stat', `/dev/tsyd/deny/read+${f}`,
    'read', f,
  ]);
  // Closed: stat("/dev/tsyd") is decided as an ordinary (hidden) path, with its record.
  expectRun(statOk(run), ['stat ok', 'stat ENOENT', 'stat ENOENT', 'read ok CONTENT'], [{ cap: 'stat', path: '/dev/tsyd', sys: 'stat' }]);
});

const lockedOps = [
  'stat', '/dev/tsyd',
  'stat', `/dev/tsyd/deny/read+${f}`,
  'stat', '/dev/tsyd/bogus',
  'read', f,
];

test('the route open (lock:off) with the policy of the locked tests: the same operations change the policy', async () => {
  // What the locked tests below would see if the route were open: they must see something else.
  const run = await fsops([...readAll, ...statAllButRoute, ...rules('lock:off')], lockedOps);
  expectRun(statOk(run), ['stat ok', 'stat ok', 'stat EINVAL', 'read EACCES'], [{ cap: 'read', path: f, sys: 'openat' }]);
  // Natively the program prints what the locked tests expect: their lines alone prove nothing,
  // their /dev/tsyd record does.
  const native = await runNative(fixture('fsops'), lockedOps);
  assert.is(native.code, 0, describe(native));
  assert.is(native.stdout, 'stat ENOENT\nstat ENOENT\nstat ENOENT\nread ok CONTENT\n', describe(native));
});

for (const lock of [[], ['lock:exec'], ['lock:on']]) {
  const name = lock[0] ?? 'the default (exec)';
  test(`${name}: /dev/tsyd does not exist and the policy does not change`, async () => {
    const run = await fsops([...readAll, ...statAllButRoute, ...rules(...lock)], lockedOps);
    // The record proves that the stat calls stopped in the kernel and that tsyd decided
    // stat("/dev/tsyd") as an ordinary path (natively: the same ENOENTs, no record). The paths
    // below /dev/tsyd fail in resolution (ENOENT, /dev/tsyd is missing), so they leave no record:
    // that the deny rule was not applied shows in the read.
    expectRun(run, ['stat ENOENT', 'stat ENOENT', 'stat ENOENT', 'read ok CONTENT'], [{ cap: 'stat', path: '/dev/tsyd', sys: 'stat' }]);
  });
}

test.run();
