// The program starts as it would from a shell: stdio, argv and environment passed through, default
// signal dispositions, an empty signal mask and no fd of tsyd's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

/** checkenv's "key=value" lines as a map (fd=... lines collected under "fd"). */
function report(stdout: string): { values: Map<string, string>; args: string[]; fds: string[] } {
  const values = new Map<string, string>();
  const args: string[] = [];
  const fds: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line.startsWith('arg=')) args.push(line.slice(4));
    else if (line.startsWith('fd=')) fds.push(line.slice(3));
    else if (line.startsWith('uid=')) {
      for (const part of line.split(' ')) {
        const [k, v] = part.split('=');
        values.set(k ?? '', v ?? '');
      }
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      values.set(line.slice(0, at), line.slice(at + 1));
    } else if (line !== '') values.set(line, '');
  }
  return { values, args, fds };
}

test('stdin reaches the program, its stdout and stderr reach the caller', async () => {
  const r = await runTsyd(['run', '--', fixture('catstdin')], { input: 'hello\nworld\n' });
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'hello\nworld\n');
  assert.equal(r.otherStderr, ['err-line']);
  assert.equal(r.records, [], 'nothing logged at the default level');
});

test('a large stdin passes through intact', async () => {
  const chunk = 'abcdefghijklmnopqrstuvwxyz0123456789\n';
  const input = chunk.repeat(Math.ceil((1 << 20) / chunk.length));
  const r = await runTsyd(['run', '--', fixture('catstdin')], { input });
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.length, input.length);
  assert.ok(r.stdout === input, 'stdout equals stdin byte for byte');
});

test('argv after the program name belongs to the program, options included', async () => {
  const args = ['', 'two words', '--', '-m', 'sandbox/read:on', '--log-level', 'debug'];
  const r = await runTsyd(['run', '--', fixture('checkenv'), 'TSYD_TEST_UNSET', ...args]);
  assert.is(r.code, 0, describe(r));
  assert.equal(report(r.stdout).args, args);
});

test('the environment is passed through', async () => {
  const value = 'some value = with spaces';
  const r = await runTsyd(['run', '--', fixture('checkenv'), 'TSYD_TEST_VAR'], {
    env: { TSYD_TEST_VAR: value },
  });
  assert.is(r.code, 0, describe(r));
  assert.is(report(r.stdout).values.get('env'), value);
});

test('SIGPIPE has its default action, nothing is ignored, the mask is empty', async () => {
  const r = await runTsyd(['run', '--', fixture('checkenv'), 'HOME']);
  assert.is(r.code, 0, describe(r));
  const { values } = report(r.stdout);
  assert.is(values.get('sigpipe'), 'default', 'Node ignores SIGPIPE; the program must not inherit that');
  assert.is(values.get('sigign'), 'none', 'no signal is ignored');
  assert.is(values.get('sigmask'), 'empty');
});

test('no fd of tsyd leaks into the program', async () => {
  const r = await runTsyd(['run', '--', fixture('checkenv'), 'HOME']);
  assert.is(r.code, 0, describe(r));
  const { values, fds } = report(r.stdout);
  assert.is(values.get('fds'), '0', `open fds above 2: ${fds.join(', ')}`);
});

test('with --log-fd the log fd does not leak into the program either', async () => {
  const r = await runTsyd(['run', '--log-fd', '3', '--', fixture('checkenv'), 'HOME'], { logFd: 3 });
  assert.is(r.code, 0, describe(r));
  const { values, fds } = report(r.stdout);
  assert.is(values.get('fds'), '0', `open fds above 2: ${fds.join(', ')}`);
});

test.run();
