// `tsyd run` exit statuses: the program's code, 128+N for a signal, 127/126 for exec failures,
// 125 when tsyd cannot start the sandbox (bad usage, bad rule).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

for (const code of [0, 3, 255]) {
  test(`exit code ${code} is passed through`, async () => {
    const r = await runTsyd(['run', '--', fixture('exitwith'), String(code)]);
    assert.is(r.code, code, describe(r));
    assert.is(r.signal, null, 'tsyd itself exits normally');
    assert.equal(r.records, [], 'no log records at the default level');
  });
}

for (const [sig, status] of [
  [9, 137],
  [11, 139],
] as const) {
  test(`a program killed by signal ${sig} gives exit status ${status}`, async () => {
    const r = await runTsyd(['run', '--', fixture('exitwith'), '-s', String(sig)]);
    assert.is(r.code, status, describe(r));
    assert.is(r.signal, null, 'tsyd exits with 128+N, it is not killed itself');
  });
}

test('a program that does not exist gives 127 and a message naming it', async () => {
  const missing = join(tempTree('exit'), 'no-such-program');
  const r = await runTsyd(['run', '--', missing]);
  assert.is(r.code, 127, describe(r));
  assert.ok(r.stderr.includes(missing), `stderr names ${missing}: ${r.stderr}`);
});

test('a program name not found on PATH gives 127', async () => {
  const name = 'tsyd-no-such-program-on-path';
  const r = await runTsyd(['run', '--', name]);
  assert.is(r.code, 127, describe(r));
  assert.ok(r.stderr.includes(name), `stderr names ${name}: ${r.stderr}`);
});

test('a file without the x bit gives 126 and a message naming it', async () => {
  const dir = tempTree('exit');
  const script = join(dir, 'not-executable');
  writeFileSync(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
  const r = await runTsyd(['run', '--', script]);
  assert.is(r.code, 126, describe(r));
  assert.ok(r.stderr.includes(script), `stderr names ${script}: ${r.stderr}`);
});

test('a directory as the program gives 126', async () => {
  const dir = tempTree('exit');
  const r = await runTsyd(['run', '--', dir]);
  assert.is(r.code, 126, describe(r));
});

// Rules that no syd-style parser accepts: a bad state, an unknown capability, no +/- operator.
for (const rule of ['sandbox/read:maybe', 'allow/frobnicate+/tmp/***', 'allow/read/etc/hostname']) {
  test(`bad rule ${rule} via -m gives 125, names the rule and -m, and runs nothing`, async () => {
    const r = await runTsyd(['run', '-m', rule, '--', fixture('catstdin')], { input: 'ran\n' });
    assert.is(r.code, 125, describe(r));
    assert.is(r.stdout, '', 'the program did not run');
    assert.ok(r.stderr.includes(rule), `stderr names the rule: ${r.stderr}`);
    assert.ok(r.stderr.includes('-m'), `stderr names the source -m: ${r.stderr}`);
  });
}

test('a bad rule in a -P file gives 125 and names FILE:LINE and the rule', async () => {
  const dir = tempTree('exit');
  const profile = join(dir, 'policy.syd');
  const bad = 'allow/bogus+/tmp/***';
  // Line 5 (1-based, counting the comment and the blank line).
  writeFileSync(profile, `# a policy\nsandbox/read:on\n\nallow/read+/***\n${bad}\nallow/read+/tmp/***\n`);
  const r = await runTsyd(['run', '-P', profile, '--', fixture('catstdin')], { input: 'ran\n' });
  assert.is(r.code, 125, describe(r));
  assert.is(r.stdout, '', 'the program did not run');
  assert.ok(r.stderr.includes(`${profile}:5`), `stderr names ${profile}:5: ${r.stderr}`);
  assert.ok(r.stderr.includes(bad), `stderr names the rule: ${r.stderr}`);
});

test('a good -P file with comments and blank lines is accepted', async () => {
  const dir = tempTree('exit');
  const profile = join(dir, 'policy.syd');
  writeFileSync(profile, '# comment\n\nsandbox/read:on\nallow/read+/***\n');
  const r = await runTsyd(['run', '-P', profile, '--', fixture('exitwith'), '4']);
  assert.is(r.code, 4, describe(r));
});

test('a missing -P file gives 125 and names it', async () => {
  const missing = join(tempTree('exit'), 'missing.syd');
  const r = await runTsyd(['run', '-P', missing, '--', fixture('exitwith'), '0']);
  assert.is(r.code, 125, describe(r));
  assert.ok(r.stderr.includes(missing), `stderr names ${missing}: ${r.stderr}`);
});

test('run without a program is a usage error: 125', async () => {
  const r = await runTsyd(['run', '--']);
  assert.is(r.code, 125, describe(r));
});

test('an unknown option is a usage error: 125, and nothing runs', async () => {
  const r = await runTsyd(['run', '--no-such-option', '--', fixture('catstdin')], { input: 'ran\n' });
  assert.is(r.code, 125, describe(r));
  assert.is(r.stdout, '');
});

test.run();
