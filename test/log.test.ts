// The log's two forms: JSON records whose `level` every pino tool knows (syd's notice and alert
// included), and the short human line made from the call itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type LogOptions } from '../src/log.js';
import { humanLine, printable } from '../src/log-line.js';
import { tempTree } from './helpers/tmp.js';

/** What a logger made with `opts` wrote for `use`. */
function written(opts: LogOptions, use: (log: ReturnType<typeof createLogger>) => void): string {
  const file = join(tempTree('log'), 'log');
  const fd = openSync(file, 'w');
  use(createLogger({ ...opts, fd }));
  closeSync(fd);
  return readFileSync(file, 'utf8');
}

test("JSON: every record's level is syd's name (DESIGN: alert/error/warn/notice/info/debug)", () => {
  const out = written({ level: 'trace' }, (log) => {
    for (const l of ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'alert', 'fatal'] as const) log[l]({ ctx: 'test', op: l }, `at ${l}`);
  });
  const records = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.is(records.length, 8, out);
  for (const r of records) assert.is(r.level, r.op);
});

test('JSON: the levels still filter as syd orders them (notice above info)', () => {
  const out = written({ level: 'notice' }, (log) => {
    log.info('dropped');
    log.notice('kept');
  });
  assert.equal(out.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['kept']);
});

test('pretty: one tsyd line per record, no JSON; a denial names the program and its pid', () => {
  const out = written({ level: 'info', format: 'pretty' }, (log) => {
    log.child({ module: 'emulator' }).warn({ ctx: 'access', cap: 'read', path: '/etc/hostname', sys: 'openat', pid: process.pid }, 'denied read of /etc/hostname');
    log.alert({ ctx: 'emulator', op: 'blocking_capacity_exceeded' }, '4 calls already wait');
    log.error({ ctx: 'emulator', op: 'recv_failed', err: 9 }, 'receiving a notification failed');
    log.debug('not at this level');
  });
  const comm = readFileSync('/proc/self/comm', 'utf8').trim();
  assert.is(
    out,
    `tsyd: denied read of /etc/hostname (${comm}, pid ${process.pid})\ntsyd: alert: 4 calls already wait\ntsyd: error: receiving a notification failed: Bad file descriptor\n`,
  );
});

test('human line: a process gone has no name; control characters cannot forge a line or reach the terminal', () => {
  assert.is(humanLine('warn', { ctx: 'access', pid: 7 }, 'denied read of /x', () => undefined), 'tsyd: denied read of /x (pid 7)\n');
  assert.is(humanLine('warn', { ctx: 'access', pid: 7 }, 'denied read of /a\ntsyd: fake', () => 'e\x1b[2Jvil'), 'tsyd: denied read of /a\\x0atsyd: fake (e\\x1b[2Jvil, pid 7)\n');
  assert.is(printable('ok\x7f\x9b'), 'ok\\x7f\\x9b');
  assert.is(humanLine('info', undefined, 'program ended'), 'tsyd: info: program ended\n');
  assert.is(humanLine('error', { err: 'handler exploded' }, 'handler threw'), 'tsyd: error: handler threw: handler exploded\n');
});

test.run();
