// Bad path arguments get the kernel's errors (EFAULT, ENAMETOOLONG) and never hurt the supervisor:
// the same tsyd goes on serving opens and exits with the program's code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

const EFAULT = 14;
const ENAMETOOLONG = 36;
const EACCES = 13;

const dir = tempTree('badptr', { 'allowed.txt': 'ALLOWED', 'secret.txt': 'SECRET' });
const allowed = `${dir}/allowed.txt`;
const secret = `${dir}/secret.txt`;

// See test/fixtures/badptr.c for the cases.
const expected = [
  `a errno=${EFAULT}`, // (char *)1
  `b errno=${EFAULT}`, // 64 bytes then a PROT_NONE page
  `c errno=${ENAMETOOLONG}`, // 5000-byte path
  `d errno=${EFAULT}`, // openat2 with a bad struct open_how pointer
  `e errno=${ENAMETOOLONG}`, // a full readable page without NUL, then PROT_NONE
  `f errno=${EFAULT}`, // 4095 bytes then PROT_NONE
  `g errno=${EFAULT}`, // open((char *)1)
  `h errno=${EFAULT}`, // creat((char *)1)
];

test('natively the kernel gives the expected errors (sanity check of the fixture)', async () => {
  const r = await runNative(fixture('badptr'), [allowed]);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trimEnd().split('\n'), [...expected, 'p1 ok=ALLOWED']);
});

test('without a policy: the same errors under tsyd', async () => {
  const r = await runTsyd(['run', '--', fixture('badptr'), allowed]);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trimEnd().split('\n'), [...expected, 'p1 ok=ALLOWED']);
});

test('with a policy: the same errors, then allowed and denied opens still work', async () => {
  const r = await runTsyd([
    'run',
    '-m', 'sandbox/read:on',
    '-m', 'sandbox/write:on',
    '-m', 'allow/read+/***',
    '-m', `deny/read+${secret}`,
    '--',
    fixture('badptr'), allowed, secret, allowed,
  ]);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.stdout.trimEnd().split('\n'), [
    ...expected,
    'p1 ok=ALLOWED',
    `p2 errno=${EACCES}`,
    'p3 ok=ALLOWED',
  ]);
  const access = r.records.filter((rec) => rec['ctx'] === 'access' && rec['path'] === secret);
  assert.is(access.length, 1, `one access record for the denied open: ${r.stderr}`);
});

test('tsyd keeps serving after bad pointers: a second sandbox run works', async () => {
  for (let i = 0; i < 3; i++) {
    const r = await runTsyd(['run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', fixture('badptr'), allowed]);
    assert.is(r.code, 0, describe(r));
    assert.ok(r.stdout.endsWith('p1 ok=ALLOWED\n'), describe(r));
  }
});

test.run();
