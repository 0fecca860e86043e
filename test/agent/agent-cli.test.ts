// `tsyd agent`'s command line: what it refuses before it listens (exit 125, a line that says why),
// and its help.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tsydBin } from '../helpers/tsyd.js';
import { scratch } from './container.js';

const tmp = scratch('cli');
const agent = (...args: string[]) => spawnSync(process.execPath, [tsydBin, 'agent', ...args], { encoding: 'utf8', timeout: 20_000 });

test.after(() => tmp.remove());

test('no --listen, a policy it cannot serve, a path that is not a socket: 125 and why', () => {
  const none = agent('-p', 'none');
  assert.is(none.status, 125);
  assert.match(none.stderr, /--listen/);
  const ipc = agent('--listen', join(tmp.dir, 'a.sock'), '-m', 'ipc:@tsyd-agent-test');
  assert.is(ipc.status, 125);
  assert.match(ipc.stderr, /ipc: is not served/);
  const file = join(tmp.dir, 'file');
  writeFileSync(file, 'not a socket');
  const taken = agent('--listen', file, '-p', 'none');
  assert.is(taken.status, 125);
  assert.match(taken.stderr, /is not a socket/);
  const badRule = agent('--listen', join(tmp.dir, 'b.sock'), '-m', 'allow/nosuch+/x');
  assert.is(badRule.status, 125);
});

test('agent --help and tsyd help agent print its usage', () => {
  for (const r of [agent('--help'), spawnSync(process.execPath, [tsydBin, 'help', 'agent'], { encoding: 'utf8' })]) {
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /tsyd agent --listen SOCK/);
    assert.match(r.stdout, /--policies DIR/);
  }
});

test.run();
