// The supervisor threads' logger writes what the root pino logger writes for the same calls:
// the record format is a contract (DESIGN §1 Logging, README), whichever logger made it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type LogOptions, type TsydLogger } from '../src/log.js';
import { createThreadLogger } from '../src/thread-log.js';
import { tempTree } from './helpers/tmp.js';

function written(make: (opts: LogOptions) => TsydLogger, opts: LogOptions, use: (log: TsydLogger) => void): string {
  const file = join(tempTree('thread-log'), 'log');
  const fd = openSync(file, 'w');
  use(make({ ...opts, fd }));
  closeSync(fd);
  return readFileSync(file, 'utf8');
}

/** The calls the supervisor threads make, in every form. */
function calls(log: TsydLogger): void {
  const emu = log.child({ module: 'emulator' });
  for (const l of ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'alert', 'fatal'] as const) emu[l]({ ctx: 'test', op: l }, `at ${l}`);
  emu.warn({ ctx: 'access', cap: 'read', path: '/a"b\n\x01é', addr: undefined, sys: 'openat', pid: 7, audit: undefined }, 'denied read of /a');
  emu.info({ ctx: 'spawn', op: 'x', busy_worker_count: 1, curr_worker_count: 2, nested: { a: [1, 'x'], b: undefined } }, 'spawning');
  emu.error({ ctx: 'emulator', op: 'recv_failed', err: 9 }, 'receiving a notification failed');
  emu.info('a message alone');
  emu.debug({ ctx: 'only fields' });
  emu.child({ slot: 3 }).alert({ ctx: 'spawn', op: 'emulator_died' }, 'an emulator thread died');
}

/** Records without their time (the only field that differs from one call to the next). */
function records(out: string): unknown[] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      assert.type(r.time, 'number');
      delete r.time;
      return r;
    });
}

for (const level of ['trace', 'info', 'warn', 'silent'] as const) {
  test(`JSON at ${level}: the same records, fields in the same order, as pino's`, () => {
    const pino = written(createLogger, { level }, calls);
    const own = written(createThreadLogger, { level }, calls);
    assert.equal(records(own).map((r) => JSON.stringify(r)), records(pino).map((r) => JSON.stringify(r)));
  });
}

test('pretty: the same lines as the root logger', () => {
  const pino = written(createLogger, { level: 'debug', format: 'pretty' }, calls);
  assert.ok(pino.length > 0);
  assert.is(written(createThreadLogger, { level: 'debug', format: 'pretty' }, calls), pino);
});

test('isLevelEnabled follows the level, children included', () => {
  const log = createThreadLogger({ level: 'notice' }).child({ module: 'm' });
  assert.equal(
    ['debug', 'info', 'notice', 'warn', 'alert'].map((l) => log.isLevelEnabled(l)),
    [false, false, true, true, true],
  );
});

test.run();
