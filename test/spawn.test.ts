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

test('bad policy throws PolicyError before anything runs; a missing program is ENOENT', async () => {
  assert.throws(() => spawn('true', [], { policy: [{ rule: 'allow/read+relative' }] }), (e: unknown) => e instanceof PolicyError);
  assert.throws(() => spawn('no-such-program-tsyd', []), (e: unknown) => (e as { code?: string }).code === 'ENOENT');
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
