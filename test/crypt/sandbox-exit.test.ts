// Crypt sandboxing at the end of a run: nothing written is lost, and every crypt file is its
// whole old or whole new content — the program SIGKILLed right after close, tsyd SIGTERMed during
// a 256 MiB write-back; readers that open while a writer works see whole contents only.
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptio, cryptPolicy, cryptRules, decryptFile, KEY, OTHER_KEY } from '../helpers/crypt-sandbox.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, spawnTsyd } from '../helpers/tsyd.js';
import { native } from '../../src/native/addon.js';
import { spawn } from '../../src/spawn.js';

test('the program SIGKILLed right after close: the file is its new content', async () => {
  const dir = tempTree('crypt-kill');
  await cryptio(dir, ['write', `${dir}/f`, 'old content']);
  const r = await cryptio(dir, ['killed', `${dir}/f`, 'new content']);
  assert.is(r.code, 137, describe(r));
  assert.is(String(decryptFile(`${dir}/f`)), 'new content');
});

test('a program that leaves a buffer open at exit (a background child still writing when the sandbox ends): written back whole', async () => {
  const dir = tempTree('crypt-open-exit');
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', `exec 3>${dir}/f; printf 'abc' >&3; printf 'def' >&3`]);
  assert.is(r.code, 0, describe(r));
  assert.is(String(decryptFile(`${dir}/f`)), 'abcdef');
});

test('a write-back at exit longer than the owner\'s stop timeout (TSYD_FAULT=slow-aes: each starts 6 s late): tsyd waits for it, the file is its new content', async () => {
  // Before: the owner gave the supervisor threads 5 s whatever they were doing, so an exit
  // write-back of a big file (or a slow disk) was cut off: 'supervisor threads did not stop'.
  const dir = tempTree('crypt-slow-exit');
  await cryptio(dir, ['write', `${dir}/f`, 'old content']);
  const r = await cryptio(dir, ['write', `${dir}/f`, 'new content'], { env: { TSYD_FAULT: 'slow-aes' }, timeoutMs: 60_000 });
  assert.is(r.code, 0, describe(r));
  assert.not.match(r.stderr, /did not stop/, describe(r));
  assert.is(String(decryptFile(`${dir}/f`)), 'new content');
});

test('SIGTERM to tsyd during a 256 MiB write-back: the file is its whole old or whole new content, never anything else', async () => {
  const dir = tempTree('crypt-term');
  const f = `${dir}/big`;
  const old = await cryptio(dir, ['big', f, '256', 'A'], { timeoutMs: 180_000 });
  assert.is(old.code, 0, describe(old));
  const t = spawnTsyd(['run', ...cryptRules(dir), '--', fixture('cryptio'), 'big', f, '256', 'B'], { timeoutMs: 180_000 });
  await t.waitForStdout(/ok/, 120_000);
  // The program ends right after its close: its buffer is being written back now.
  await new Promise((res) => setTimeout(res, 150));
  t.child.kill('SIGTERM');
  const r = await t.result;
  assert.ok(r.code !== null, describe(r));
  const check = await cryptio(dir, ['check', f, '256'], { timeoutMs: 180_000 });
  assert.match(check.stdout, /^whole-(old|new)$/m, describe(check));
});

test('several readers while one writes: each read is a whole old or whole new content, never a mix', async () => {
  const dir = tempTree('crypt-readers');
  const f = `${dir}/f`;
  await cryptio(dir, ['writeloop', f, '1', '65536']);
  const C = fixture('cryptio');
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', `${C} writeloop ${f} 60 65536 & for i in 1 2 3; do ${C} readloop ${f} 60 & done; wait`], { timeoutMs: 120_000 });
  assert.is(r.code, 0, describe(r));
  const lines = r.stdout.trim().split('\n').sort();
  assert.equal(lines, ['ok', 'whole', 'whole', 'whole'], describe(r));
});

test('the AES worker cannot start (TSYD_FAULT=fail-aes-confine): exit 101 and the program never writes', async () => {
  const dir = tempTree('crypt-aesfail');
  const r = await cryptio(dir, ['write', `${dir}/f`, 'never'], { env: { TSYD_FAULT: 'fail-aes-confine' } });
  assert.is(r.code, 101, describe(r));
  assert.match(r.stderr, /cannot start the AES worker/);
  assert.not.ok(existsSync(`${dir}/f`));
});

test('two Crypt sandboxes of one process at once share its AES worker; the end of one leaves the other\'s open files alone', async () => {
  const dir = tempTree('crypt-two');
  const other = tempTree('crypt-two-b');
  const policy = (d: string, key: string) => [{ profile: 'off' }, ...cryptPolicy(d, key).map((rule) => ({ rule }))];
  const a = spawn('/bin/sh', ['-c', `echo A > ${dir}/a; sleep 0.5; echo A2 >> ${dir}/a`], { policy: policy(dir, KEY), stdio: 'ignore', logLevel: 'silent' });
  await new Promise((res) => setTimeout(res, 300));
  // B holds its file open for writing while A ends (and drops its key).
  const b = spawn('/bin/sh', ['-c', `exec 3>${other}/b; echo B >&3; sleep 1.5; echo B2 >&3`], { policy: policy(other, OTHER_KEY), stdio: 'ignore', logLevel: 'silent' });
  const [ra, rb] = await Promise.all([a.result, b.result]);
  assert.equal([ra.exitCode, rb.exitCode, rb.error?.message], [0, 0, undefined]);
  assert.is(String(decryptFile(`${dir}/a`)), 'A\nA2\n');
  assert.is(String(decryptFile(`${other}/b`, OTHER_KEY)), 'B\nB2\n');
});

test('the plaintext is freed: a snapshot idle for 5 s is dropped while the sandbox runs, every buffer at its end', async () => {
  const dir = tempTree('crypt-prune');
  const rules = cryptPolicy(dir).map((rule) => ({ rule }));
  const child = spawn('/bin/sh', ['-c', `${fixture('cryptio')} write ${dir}/f x && ${fixture('cryptio')} read ${dir}/f && sleep 8`], { policy: [{ profile: 'off' }, ...rules], stdio: 'ignore', logLevel: 'silent' });
  let held = 0;
  for (let i = 0; i < 40 && held === 0; i++, await new Promise((res) => setTimeout(res, 50))) held = native.cryptBuffers().entries;
  assert.is(held, 1, 'the file has its snapshot after the read');
  await new Promise((res) => setTimeout(res, 6500));
  assert.is(native.cryptBuffers().entries, 0, 'dropped while the program still runs');
  assert.is((await child.result).exitCode, 0);
  assert.equal(native.cryptBuffers(), { entries: 0, live: 0, writers: 0, retrying: 0 });
});

test.run();
