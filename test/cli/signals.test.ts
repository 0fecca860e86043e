// Signals sent to tsyd reach the program; the program's death by signal is reported as 128+N;
// the program does not outlive tsyd.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { fixture } from '../helpers/fixtures.js';
import { describe, spawnProgram, spawnTsyd, tsydBin } from '../helpers/tsyd.js';
import { sandboxBelow } from '../helpers/procstat.js';

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

/** The state letter of a process (R, S, T...), from /proc/PID/stat. */
function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2)[0]!;
}

// A job of its own in a session with no terminal (as under a CI runner or a service that starts
// jobs): its process group is not orphaned, so the kernel would deliver a SIGTSTP tsyd raised at
// itself and nothing would ever continue it.
const JOB_WITHOUT_TERMINAL = [
  'import os, sys',
  'pid = os.fork()',
  'if pid == 0:',
  '    os.setpgid(0, 0)',
  '    os.execv(sys.argv[1], sys.argv[1:])',
  'print(pid, flush=True)',
  'os.waitpid(pid, 0)',
].join('\n');

test('without a terminal, a program that stops itself (SIGTSTP) does not stop tsyd', async () => {
  // spawnProgram detaches (setsid): a session with no controlling terminal.
  const script = 'echo stopping; kill -TSTP $$; echo continued';
  const t = spawnProgram('python3', ['-c', JOB_WITHOUT_TERMINAL, process.execPath, tsydBin, 'run', '--', 'sh', '-c', script]);
  const tsyd = Number(/^(\d+)\n/.exec(await t.waitForStdout(/stopping\n/))![1]);
  let program: number | undefined;
  for (let i = 0; i < 100; i++) {
    program = sandboxBelow(tsyd).find((p) => state(p) === 'T');
    if (program !== undefined) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(program, 'the program stopped itself');
  await new Promise((res) => setTimeout(res, 300));
  assert.is(state(tsyd), 'S', 'tsyd runs on (a stopped tsyd would wait for a SIGCONT no shell sends)');
  process.kill(program!, 'SIGCONT');
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
  assert.ok(r.stdout.endsWith('stopping\ncontinued\n'), r.stdout);
});

test.run();
