// tsyd works for an unprivileged user: seccomp user notification needs neither root nor a user
// namespace. Runs tsyd as nobody (setpriv), the fixtures and the checkout must be readable by it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runNative, runTsyd, tsydBin } from '../helpers/tsyd.js';

const dir = tempTree('unpriv', { 'allowed.txt': 'ALLOWED', 'secret.txt': 'SECRET', 'out/.keep': '' });
chmodSync(join(dir, 'out'), 0o777); // nobody may write here; the write policy decides
const allowed = join(dir, 'allowed.txt');
const secret = join(dir, 'secret.txt');
const asNobody = { user: NOBODY };

test('precondition: nobody can run node with tsyd and read both files without tsyd', async () => {
  if (process.getuid?.() !== 0) {
    assert.unreachable('the unprivileged tests need root to switch to nobody');
  }
  const bin = await runNative(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(tsydBin)}, 4)`], asNobody);
  assert.is(bin.code, 0, `nobody cannot read ${tsydBin}: make the checkout world-readable\n${describe(bin)}`);
  const native = await runNative(fixture('readfile'), [secret], asNobody);
  assert.is(native.stdout, 'SECRET', `nobody must be able to read the file natively: ${describe(native)}`);
});

test('the program runs as nobody and exit codes pass through', async () => {
  const env = await runTsyd(['run', '--', fixture('checkenv'), 'HOME'], asNobody);
  assert.is(env.code, 0, describe(env));
  assert.match(env.stdout, new RegExp(`^uid=${NOBODY} gid=${NOBODY}$`, 'm'));
  const code = await runTsyd(['run', '--', fixture('exitwith'), '7'], asNobody);
  assert.is(code.code, 7, describe(code));
});

test('as nobody: an allowed read works, a denied one is refused and logged', async () => {
  const policy = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', `deny/read+${secret}`];
  const ok = await runTsyd(['run', ...policy, '--', fixture('readfile'), allowed], asNobody);
  assert.is(ok.code, 0, describe(ok));
  assert.is(ok.stdout, 'ALLOWED');
  assert.equal(ok.records, []);

  const denied = await runTsyd(['run', ...policy, '--', fixture('readfile'), '-p', secret], asNobody);
  assert.is(denied.code, 1, describe(denied));
  const pid = Number(/^pid=(\d+)$/m.exec(denied.stdout)?.[1]);
  assert.ok(denied.stdout.endsWith('\nerr errno=13\n'), describe(denied));
  assert.is(denied.records.length, 1, denied.stderr);
  const rec = denied.records[0] ?? {};
  assert.is(rec['ctx'], 'access');
  assert.is(rec['cap'], 'read');
  assert.is(rec['path'], secret);
  assert.is(rec['sys'], 'openat');
  assert.is(rec['pid'], pid);
});

test('as nobody: writes are decided too', async () => {
  const policy = ['-m', 'sandbox/write:on', '-m', `allow/write+${dir}/out/***`, '-m', `deny/write+${dir}/out/no.txt`];
  const ok = await runTsyd(['run', ...policy, '--', fixture('writefile'), join(dir, 'out/yes.txt'), 'yes'], asNobody);
  assert.is(ok.stdout, 'ok bytes=3\n', describe(ok));
  assert.is(readFileSync(join(dir, 'out/yes.txt'), 'utf8'), 'yes');
  const denied = await runTsyd(['run', ...policy, '--', fixture('writefile'), join(dir, 'out/no.txt'), 'no'], asNobody);
  assert.is(denied.stdout, 'err errno=13\n', describe(denied));
  assert.is(denied.records.length, 1, denied.stderr);
  assert.is(denied.records[0]?.['cap'], 'write');
});

test.run();
