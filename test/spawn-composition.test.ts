// The library's policy composes as the CLI's (issue 13, point 1): `{rule}`s and `{file}`s apply
// on top of the user profile unless a `{profile}` is given; nothing on is warned about once.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from '../src/index.js';
import { tempTree } from './helpers/tmp.js';

const home = tempTree('spawn-composition', { '.ssh/id_x': 'PRIVATE KEY\n' });

test('a library rule adds to the user profile: the secret stays hidden', async () => {
  const child = spawn('cat', [join(home, '.ssh/id_x')], {
    policy: [{ rule: 'allow/net/connect+10.0.0.0/8!443' }],
    env: { ...process.env, HOME: home },
    cwd: home,
    stdio: ['ignore', 'ignore', 'ignore'],
    logLevel: 'silent',
  });
  const r = await child.result;
  assert.is(r.exitCode, 1);
  assert.ok(r.violations.some((v) => v.path === join(home, '.ssh/id_x')), JSON.stringify(r.violations));
});

test("nothing on: one 'warning' event (UNCONFINED), and no log record when someone listens", async () => {
  const dir = tempTree('spawn-composition-log');
  const fd = openSync(join(dir, 'log'), 'w');
  const child = spawn('true', [], { policy: [{ profile: 'none' }, { rule: 'allow/read+/***' }], stdio: 'ignore', logFd: fd });
  const warnings: Array<{ code: string; message: string }> = [];
  child.on('warning', (w: { code: string; message: string }) => warnings.push(w));
  const r = await child.result;
  closeSync(fd);
  assert.is(r.exitCode, 0);
  assert.equal(warnings, [{ code: 'UNCONFINED', message: 'no sandbox capability is on: true runs unconfined' }]);
  assert.not.match(readFileSync(join(dir, 'log'), 'utf8'), /unconfined/);
});

test('nothing on and nobody listening: one warn record; -p none alone: none', async () => {
  const dir = tempTree('spawn-composition-log');
  for (const [name, policy, expected] of [
    ['rules', [{ profile: 'none' }, { rule: 'allow/read+/***' }], 1],
    ['none alone', [{ profile: 'none' }], 0],
  ] as const) {
    const fd = openSync(join(dir, name), 'w');
    const r = await spawn('true', [], { policy: [...policy], stdio: 'ignore', logFd: fd }).result;
    closeSync(fd);
    assert.is(r.exitCode, 0);
    const records = readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((l) => l.includes('run_unconfined'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.is(records.length, expected, name);
    if (expected === 1) assert.is(records[0]!.msg, 'no sandbox capability is on: true runs unconfined');
  }
});

test.run();
