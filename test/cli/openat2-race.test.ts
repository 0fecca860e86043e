// openat2 reads its path and `struct open_how` from the program's memory. A supervisor that
// checks them and answers CONTINUE (tsyd did, for O_PATH opens) lets a sibling thread flip them
// after the check: O_PATH → O_RDONLY of a denied file reads it, O_PATH → O_WRONLY|O_TRUNC of a
// write-denied file truncates it. tsyd performs every open on what it checked: no flip counts.
// Each attack is shown to get through the check-then-CONTINUE checker (bench/csuper.c
// --vulnerable) or, for the flags alone, natively, in the same run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectLeak, runVulnerable } from '../helpers/csuper.js';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

const dir = mkdtempSync(join(tmpdir(), 'tsyd-o2-'));
chmodSync(dir, 0o777);
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const allowed = join(dir, 'aa');
const denied = join(dir, 'dd');
writeFileSync(allowed, 'ALLOWED-CONTENT\n');
writeFileSync(denied, 'DENIED-SECRET\n');
chmodSync(allowed, 0o666);
chmodSync(denied, 0o666);

const counts = (r: RunResult) => {
  const m = /^opens (\d+) leaks (\d+) errors (\d+)$/m.exec(r.stdout);
  assert.ok(m, describe(r));
  return { opens: Number(m[1]), leaks: Number(m[2]), errors: Number(m[3]) };
};

test('O_PATH ↔ O_RDONLY and allowed ↔ denied path: through a check-then-CONTINUE checker, never through tsyd', async () => {
  await expectLeak('openat2 read race', 5, () => runVulnerable(denied, fixture('openat2race'), ['read', allowed, denied, '1']), (r) => counts(r).leaks > 0, (r) => r.stdout.trim());
  for (const user of [undefined, NOBODY]) {
    const r = await runTsyd(['run', '-p', 'none', '--log-fd', '3', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', `deny/read+${denied}`, '--', fixture('openat2race'), 'read', allowed, denied, '2'], { logFd: 3, user });
    const c = counts(r);
    assert.is(c.leaks, 0, `${user ?? 'root'}: ${describe(r)}`);
    assert.ok(c.opens > 0 && c.errors > 0, `both sides of the flip were seen: ${JSON.stringify(c)}`);
    assert.ok(r.records.some((x) => x['ctx'] === 'access' && x['path'] === denied && x['sys'] === 'openat2'), 'denials are logged');
  }
});

test('O_PATH ↔ O_WRONLY|O_TRUNC of a write-denied file: natively it truncates, under tsyd never', async () => {
  const target = join(dir, 'tt');
  writeFileSync(target, 'KEEP-THIS\n');
  const n = await runNative(fixture('openat2race'), ['trunc', target, '1']);
  assert.ok(counts(n).leaks > 0, `natively the flip opens for writing: ${describe(n)}`);
  for (const user of [undefined, NOBODY]) {
    writeFileSync(target, 'KEEP-THIS\n');
    chmodSync(target, 0o666);
    const r = await runTsyd(['run', '-p', 'none', '--log-fd', '3', '-m', 'sandbox/read,write:on', '-m', 'allow/read+/***', '-m', 'allow/write+/dev/**', '--', fixture('openat2race'), 'trunc', target, '2'], { logFd: 3, user });
    const c = counts(r);
    assert.is(c.leaks, 0, `${user ?? 'root'}: ${describe(r)}`);
    assert.is(readFileSync(target, 'utf8'), 'KEEP-THIS\n', 'the file was never truncated');
    assert.ok(r.records.some((x) => x['ctx'] === 'access' && x['cap'] === 'write' && x['path'] === target), 'denials are logged');
  }
});

test.run();
