// Logs for people and machines: on a terminal a denial is one short `tsyd:` line on stderr and
// no JSON; piped, or with --log-fd, JSON lines; --log-format forces either. `--log-level debug`
// logs the allowed accesses too (README, Profiles: `-p off`).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import { runTsyd, tsydBin } from '../helpers/tsyd.js';

/** Runs `command` in an interactive bash on a pseudo-terminal; what the terminal showed. */
function onTerminal(command: string): string {
  const r = spawnSync('python3', [join(repoRoot, 'test', 'helpers', 'pty-session.py'), command, '4:echo rc=$?'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.replace(/\r/g, '');
}

const DENY = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/hostname'];
const tsyd = (...args: string[]) => `${process.execPath} ${tsydBin} run ${args.join(' ')} ${DENY.join(' ')} -- cat /etc/hostname`;
const HUMAN = /^tsyd: denied read of \/etc\/hostname \(cat, pid \d+\)$/m;
const JSON_DENIAL = /^\{"level":"warn".*"ctx":"access".*"msg":"denied read of \/etc\/hostname"\}$/m;

test('on a terminal: a denial is one human line on stderr, no JSON', () => {
  const out = onTerminal(tsyd());
  assert.match(out, HUMAN, out);
  assert.not.match(out, /\{"level"/, out);
  assert.match(out, /Permission denied\n[^]*rc=1/, out);
});

test('on a terminal: --log-format json and --log-fd give JSON lines', () => {
  for (const opt of ['--log-format json', '--log-format=json', '--log-fd 2']) {
    const out = onTerminal(tsyd(opt));
    assert.match(out, JSON_DENIAL, `${opt}: ${out}`);
    assert.not.match(out, /^tsyd: denied/m, `${opt}: ${out}`);
  }
});

test('piped stderr: JSON lines; --log-format pretty forces the human line', async () => {
  const piped = await runTsyd(['run', ...DENY, '--', 'cat', '/etc/hostname']);
  assert.is(piped.code, 1, piped.stderr);
  assert.equal(piped.records.filter((r) => r.ctx === 'access').map((r) => [r.level, r.cap, r.path]), [['warn', 'read', '/etc/hostname']], piped.stderr);
  const pretty = await runTsyd(['run', '--log-format', 'pretty', ...DENY, '--', 'cat', '/etc/hostname']);
  assert.is(pretty.code, 1, pretty.stderr);
  assert.equal(pretty.records, [], pretty.stderr);
  assert.match(pretty.stderr, HUMAN, pretty.stderr);
});

test('--log-format takes json or pretty: anything else is a usage error (125)', async () => {
  const r = await runTsyd(['run', '--log-format', 'yaml', '--', 'true']);
  assert.is(r.code, 125, r.stderr);
  assert.match(r.stderr, "tsyd: --log-format must be json or pretty, got 'yaml'");
});

test('-p off --log-level debug logs each access, allowed, at debug', async () => {
  const r = await runTsyd(['run', '-p', 'off', '--log-level', 'debug', '--', 'cat', '/etc/hostname']);
  assert.is(r.code, 0, r.stderr);
  const read = r.records.find((x) => x.ctx === 'access' && x.cap === 'read' && x.path === '/etc/hostname');
  assert.ok(read, `an access record for the read: ${r.stderr.slice(0, 4000)}`);
  assert.equal([read!.level, read!.sys, read!.msg], ['debug', 'openat', 'allowed read of /etc/hostname']);
  // At the default level, an allowed access logs nothing.
  const quiet = await runTsyd(['run', '-p', 'off', '--', 'cat', '/etc/hostname']);
  assert.equal(quiet.records, [], quiet.stderr);
});

test('TSYD_DEBUG_MEMORY: the monitor and each emulator log what their isolate holds, once, at info; without it, nothing', async () => {
  const args = ['run', '--log-level', 'info', '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', 'cat', '/etc/hostname'];
  const r = await runTsyd(args, { env: { TSYD_DEBUG_MEMORY: '1', TSYD_NPROC: '1' } });
  assert.is(r.code, 0, r.stderr);
  const mem = r.records.filter((x) => x.op === 'thread_memory');
  assert.equal([...new Set(mem.map((x) => x.thread))].sort(), ['emulator', 'monitor'], r.stderr);
  assert.is(mem.filter((x) => x.thread === 'monitor').length, 1, r.stderr);
  for (const x of mem) {
    assert.equal([x.level, x.ctx], ['info', 'memory']);
    for (const f of ['heap_used', 'heap_physical', 'new_space', 'old_space', 'malloced', 'code', 'bytecode']) assert.ok(typeof x[f] === 'number' && (x[f] as number) > 0, `${f}: ${JSON.stringify(x)}`);
  }
  const without = await runTsyd(args, { env: { TSYD_DEBUG_MEMORY: undefined, TSYD_NPROC: '1' } });
  assert.equal(without.records.filter((x) => x.ctx === 'memory'), [], without.stderr);
});

test.run();
