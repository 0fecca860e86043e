// Signals sent to tsyd reach the program; the program's death by signal is reported as 128+N;
// the program does not outlive tsyd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fixture } from '../helpers/fixtures.js';
import { describe, spawnTsyd } from '../helpers/tsyd.js';

const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

for (const name of forwarded) {
  const num = constants.signals[name];

  test(`${name} to tsyd kills the program by default: exit ${128 + num}`, async () => {
    const t = spawnTsyd(['run', '--', fixture('sigwait')]);
    await t.waitForStdout(/^ready pid=\d+\n/);
    process.kill(t.pid, name);
    const r = await t.result;
    assert.is(r.code, 128 + num, describe(r));
    assert.is(r.signal, null, 'tsyd forwards the signal and exits, it is not killed by it');
    assert.is(r.stdout.split('\n').length, 2, `only the ready line: ${JSON.stringify(r.stdout)}`);
  });

  test(`${name} to tsyd reaches the program's handler`, async () => {
    const t = spawnTsyd(['run', '--', fixture('sigwait'), '-h', String(num)]);
    await t.waitForStdout(/^ready pid=\d+\n/);
    process.kill(t.pid, name);
    const r = await t.result;
    assert.is(r.code, 0, describe(r));
    assert.ok(r.stdout.endsWith(`\ngot ${num}\n`), describe(r));
  });
}

/** True once pid is gone or a zombie (dead, not yet reaped by its new parent). */
function dead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

test('the program does not outlive tsyd killed by SIGKILL', async () => {
  const t = spawnTsyd(['run', '--', fixture('sigwait')]);
  const out = await t.waitForStdout(/^ready pid=(\d+)\n/);
  const pid = Number(/^ready pid=(\d+)/.exec(out)?.[1]);
  assert.ok(!dead(pid), 'the program runs');
  process.kill(t.pid, 'SIGKILL');
  // The result only settles when the program's stdout closes too, i.e. when it died.
  const r = await t.result;
  assert.is(r.signal, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (!dead(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert.ok(dead(pid), `program ${pid} still alive after tsyd was killed`);
});

test.run();
