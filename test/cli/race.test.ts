// A program that flips its path buffer between an allowed and a denied file while other threads
// open it must never read the denied file: tsyd opens what it checked (emulation), it does not
// let the kernel read the program's memory again. The same race, in the same run, gets through
// a check-then-CONTINUE checker (csuper --vulnerable): that is what makes the tsyd test able to
// fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { expectLeak, runVulnerable } from '../helpers/csuper.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, type RunResult } from '../helpers/tsyd.js';

// Same length, one byte apart: every state of the flipped buffer is one of the two paths.
const dir = tempTree('race', { fileA: 'ALLOWED', fileD: 'SECRET' });
const allowedPath = `${dir}/fileA`;
const deniedPath = `${dir}/fileD`;

interface Counts {
  denied: number;
  allowed: number;
  errors: number;
  eacces: number;
}

function counts(r: RunResult): Counts {
  const m = /^denied_reads=(\d+) allowed_reads=(\d+) errors=(\d+) eacces=(\d+)$/m.exec(r.stdout);
  assert.ok(m, `race printed its counts: ${describe(r)}`);
  return { denied: Number(m[1]), allowed: Number(m[2]), errors: Number(m[3]), eacces: Number(m[4]) };
}

/** Denied reads the vulnerable checker let through in this run (the tsyd test requires > 0). */
let vulnerableLeaks = 0;

test('a check-then-CONTINUE checker refuses the denied file, yet the race reads it (so the tsyd test can fail)', async () => {
  // Unraced, the checker is a checker: the denied file is refused.
  const plain = await runVulnerable(deniedPath, '/bin/cat', [deniedPath]);
  assert.is(plain.code, 1, describe(plain));
  assert.match(plain.stderr, `${deniedPath}: Permission denied`);
  assert.not.match(plain.stdout, 'SECRET');
  assert.is(plain.refused, 1, describe(plain));

  const runs = await expectLeak(
    'open race',
    5,
    async () => {
      const r = await runVulnerable(deniedPath, fixture('race'), [allowedPath, deniedPath, '1']);
      assert.is(r.code, 0, describe(r));
      const c = counts(r);
      // Every EACCES the program got is one of the checker's refusals of the denied path.
      assert.ok(c.eacces > 0, `the checker refused the denied path: ${JSON.stringify(c)}`);
      assert.is(c.eacces, r.refused, `EACCES only from the checker: ${JSON.stringify(c)} ${describe(r)}`);
      return c;
    },
    (c) => c.denied > 0,
    (c) => JSON.stringify(c),
  );
  vulnerableLeaks = runs[runs.length - 1]!.denied;
  console.log(`race: csuper --vulnerable: ${runs.map((c) => JSON.stringify(c)).join(' ')}`);
});

test('under tsyd the race never reads the denied file', async () => {
  assert.ok(vulnerableLeaks > 0, 'the vulnerable checker leaked in this run (the previous test)');
  const r = await runTsyd(
    [
      'run',
      '--log-fd', '3',
      '-m', 'sandbox/read:on',
      '-m', 'allow/read+/***',
      '-m', `deny/read+${deniedPath}`,
      '--',
      fixture('race'), allowedPath, deniedPath, '3',
    ],
    { timeoutMs: 120_000, logFd: 3 },
  );
  assert.is(r.code, 0, describe(r));
  const c = counts(r);
  console.log(`race: tsyd: ${JSON.stringify(c)}`);
  assert.is(c.denied, 0, `the program read the denied file ${c.denied} times: ${JSON.stringify(c)}`);
  assert.ok(c.allowed > 0, `the allowed file was read: ${JSON.stringify(c)}`);
  // The opens that hit the denied path were refused by the policy (EACCES), and nothing else failed.
  assert.ok(c.eacces > 0, `some opens hit the denied path and were refused: ${JSON.stringify(c)}`);
  assert.is(c.errors, c.eacces, `every failure is the policy's EACCES: ${JSON.stringify(c)}`);
  // Every refusal is logged once, always with the path tsyd checked, which was the denied file.
  const access = r.records.filter((rec) => rec['ctx'] === 'access');
  assert.is(access.length, c.eacces, `one access record per refusal: ${access.length} records, ${c.eacces} EACCES`);
  const kinds = new Set(access.map((rec) => `${rec['level']} ${rec['cap']} ${rec['sys']} ${rec['path']}`));
  assert.equal([...kinds], [`warn read openat ${deniedPath}`], `access records: ${[...kinds].join(', ')}`);
});

test.run();
