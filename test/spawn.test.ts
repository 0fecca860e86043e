// The library API: one result shape, violations as events, piped stdio.
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError, run, spawn, type Violation } from '../src/index.js';

let dir: string;
test.before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'tsyd-lib-')));
  writeFileSync(join(dir, 'secret'), 'SECRET\n');
  writeFileSync(join(dir, 'public'), 'PUBLIC\n');
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const collect = async (s: NodeJS.ReadableStream | null) => {
  let out = '';
  for await (const chunk of s!) out += String(chunk);
  return out;
};

test('violations are events and part of the result; stdout can be piped', async () => {
  const child = spawn('cat', [join(dir, 'public'), join(dir, 'secret')], {
    policy: [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }, { rule: `deny/read+${dir}/secret` }],
    stdio: ['ignore', 'pipe', 'ignore'],
    logLevel: 'silent',
  });
  const events: Violation[] = [];
  child.on('violation', (v: Violation) => events.push(v));
  const [out, result] = await Promise.all([collect(child.stdout), child.result]);
  assert.is(out, 'PUBLIC\n');
  assert.is(result.exitCode, 1);
  assert.is(result.signal, null);
  assert.is(result.violationCount, 1);
  assert.equal(result.violations, events);
  assert.is(events[0]!.cap, 'read');
  assert.is(events[0]!.path, `${dir}/secret`);
  assert.is(events[0]!.sys, 'openat');
  assert.is(events[0]!.pid, child.pid);
});

test('a signal ends the program: 128+N and the signal name', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore', logLevel: 'silent' });
  assert.ok(child.kill('SIGKILL'));
  const r = await child.result;
  assert.is(r.exitCode, 137);
  assert.is(r.signal, 'SIGKILL');
  assert.is(child.kill('SIGKILL'), false, 'no signal after the end');
});

test('one error path: nothing throws, the result carries the error (125/126/127) and spawn() emits it', async () => {
  const bad = spawn('true', [], { policy: [{ profile: 'user' }, { rule: 'allow/read+relative' }], logLevel: 'silent' });
  const emitted: Error[] = [];
  bad.on('error', (e) => emitted.push(e));
  const r = await bad.result;
  assert.is(bad.pid, undefined);
  assert.is(r.exitCode, 125);
  assert.ok(r.error instanceof PolicyError);
  assert.match(r.error!.message, /\(from library rule 2\)/, 'a library rule is named by its place in the policy option');
  assert.equal(emitted, [r.error]);
  const missing = await run('no-such-program-tsyd', [], { logLevel: 'silent' });
  assert.is(missing.exitCode, 127);
  assert.is(missing.error?.code, 'ENOENT');
  writeFileSync(join(dir, 'noexec'), '#!/bin/sh\n');
  const noexec = await run(join(dir, 'noexec'), [], { logLevel: 'silent' });
  assert.is(noexec.exitCode, 126);
  const cwd = await run('true', [], { cwd: join(dir, 'nowhere'), logLevel: 'silent' });
  assert.is(cwd.exitCode, 125);
  assert.is(cwd.error?.code, 'ENOENT');
  assert.ok(cwd.error!.message.includes(`option cwd: cannot change directory to '${dir}/nowhere'`), cwd.error!.message);
  const opt = await run('true', [], { timeout: -1, logLevel: 'silent' });
  assert.is(opt.exitCode, 125);
  assert.match(opt.error!.message, /option timeout must be/);
  const file = await run('true', [], { policy: [{ file: join(dir, 'no.policy') }], logLevel: 'silent' });
  assert.is(file.exitCode, 125);
  assert.match(file.error!.message, /cannot read policy file/);
});

test('an exec the policy denies resolves with 126', async () => {
  const r = await run('sh', ['-c', 'exec cat /dev/null'], {
    policy: [{ rule: 'sandbox/exec:on' }, { rule: 'allow/exec+/***' }, { rule: 'deny/exec+/**/cat' }],
    stdio: 'ignore',
    logLevel: 'silent',
  });
  assert.is(r.exitCode, 126);
  assert.ok(r.violations.some((v) => v.cap === 'exec' && v.path?.endsWith('/cat') === true));
});

test('captured output, input, maxBuffer', async () => {
  const r = await run('sh', ['-c', 'cat; echo err >&2'], { input: 'hello\n', stdio: 'pipe', logLevel: 'silent' });
  assert.is(r.exitCode, 0);
  assert.is(r.stdout, 'hello\n');
  assert.is(r.stderr, 'err\n');
  const big = await run('sh', ['-c', 'while :; do echo 0123456789; done'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1000, killGrace: 100, logLevel: 'silent' });
  assert.is(big.error?.code, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER');
  assert.is(big.stdout!.length, 1000);
  assert.is(big.signal, 'SIGTERM');
  const inherit = await run('true', [], { stdio: 'ignore', logLevel: 'silent' });
  assert.is(inherit.stdout, undefined, 'nothing captured when not piped');
});

test('timeout and signal kill the program: SIGTERM, then SIGKILL after killGrace', async () => {
  const t0 = Date.now();
  const timed = await run('sleep', ['30'], { timeout: 200, stdio: 'ignore', logLevel: 'silent' });
  assert.ok(timed.timedOut);
  assert.is(timed.error?.code, 'ETIMEDOUT');
  assert.is(timed.signal, 'SIGTERM');
  assert.ok(Date.now() - t0 < 5000);
  const ac = new AbortController();
  // The shell ignores SIGTERM (then says so): the SIGKILL after killGrace ends it.
  const child = spawn('sh', ['-c', "trap '' TERM; echo ready; sleep 30 & wait; sleep 30"], { signal: ac.signal, killGrace: 300, stdio: ['ignore', 'pipe', 'ignore'], logLevel: 'silent' });
  child.stdout!.once('data', () => ac.abort());
  const aborted = await child.result;
  assert.ok(aborted.aborted);
  assert.is(aborted.error?.code, 'ABORT_ERR');
  assert.is(aborted.signal, 'SIGKILL');
  const early = await run('true', [], { signal: AbortSignal.abort(), logLevel: 'silent' });
  assert.is(early.error?.code, 'ABORT_ERR');
  assert.ok(early.aborted);
});

test('run() resolves with the exit code, environment and cwd pass through', async () => {
  const r = await run('sh', ['-c', 'test "$X" = 1 && test "$(pwd)" = "$D" && exit 7'], {
    env: { PATH: process.env.PATH, X: '1', D: dir },
    cwd: dir,
    stdio: 'ignore',
    logLevel: 'silent',
  });
  assert.is(r.exitCode, 7);
});

test.run();
