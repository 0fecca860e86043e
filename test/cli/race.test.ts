// A program that flips its path buffer between an allowed and a denied file while other threads
// open it must never read the denied file: tsyd opens what it checked (emulation), it does not
// let the kernel read the program's memory again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

// Same length, one byte apart: every state of the flipped buffer is one of the two paths.
const dir = tempTree('race', { fileA: 'ALLOWED', fileD: 'SECRET' });
const allowedPath = `${dir}/fileA`;
const deniedPath = `${dir}/fileD`;

interface Counts {
  denied: number;
  allowed: number;
  errors: number;
}

function counts(r: RunResult): Counts {
  const m = /^denied_reads=(\d+) allowed_reads=(\d+) errors=(\d+)$/m.exec(r.stdout);
  assert.ok(m, `race printed its counts: ${describe(r)}`);
  return { denied: Number(m[1]), allowed: Number(m[2]), errors: Number(m[3]) };
}

test('natively the race reads the denied file (so the sandboxed test can fail)', async () => {
  const attempts: Counts[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await runNative(fixture('race'), [allowedPath, deniedPath, '1']);
    assert.is(r.code, 0, describe(r));
    const c = counts(r);
    attempts.push(c);
    if (c.denied > 0) return;
  }
  assert.unreachable(
    `race never read the denied file natively in ${attempts.length} runs ` +
      `(${JSON.stringify(attempts)}): the flipper does not change the path under the openers, ` +
      'so the sandboxed race test would prove nothing',
  );
});

test('under tsyd the race never reads the denied file', async () => {
  const r = await runTsyd(
    [
      'run',
      '-m', 'sandbox/read:on',
      '-m', 'allow/read+/***',
      '-m', `deny/read+${deniedPath}`,
      '--',
      fixture('race'), allowedPath, deniedPath, '3',
    ],
    { timeoutMs: 120_000 },
  );
  assert.is(r.code, 0, describe(r));
  const c = counts(r);
  assert.is(c.denied, 0, `the program read the denied file ${c.denied} times: ${JSON.stringify(c)}`);
  assert.ok(c.allowed > 0, `the allowed file was read: ${JSON.stringify(c)}`);
  assert.ok(c.errors > 0, `some opens hit the denied path and were refused: ${JSON.stringify(c)}`);
  // Every refusal is logged, always with the path tsyd checked, which was the denied file.
  const access = r.records.filter((rec) => rec['ctx'] === 'access');
  assert.ok(access.length > 0, 'denials were logged');
  const paths = new Set(access.map((rec) => rec['path']));
  assert.equal([...paths], [deniedPath], `access records name only the denied file: ${[...paths].join(', ')}`);
});

test.run();
