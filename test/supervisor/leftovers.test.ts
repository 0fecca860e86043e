// What the program left behind is looked for below the reaper: a reaper with no child (the
// usual end) is told by one read of its children, without reading every process's stat.
import { spawn as spawnChild } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasNoChild } from '../../src/proc/proc-tree.js';
import { killLeftovers } from '../../src/supervisor/leftovers.js';
import { until } from './helpers.js';

test('hasNoChild: false with a child (in any thread), true without, false for a process that is gone', async () => {
  const sh = spawnChild('sh', ['-c', 'sleep 30 & read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await until(() => !hasNoChild(sh.pid!), 'sh has a child');
  assert.not.ok(hasNoChild(process.pid), 'this process has the sh child');
  assert.not.ok(hasNoChild(sh.pid!), 'sh has its sleep');
  const lone = spawnChild('sleep', ['30'], { stdio: 'ignore' });
  
  assert.ok(hasNoChild(lone.pid!));
  lone.kill('SIGKILL');
  sh.kill('SIGKILL');
  await new Promise((r) => lone.once('exit', r));
  assert.not.ok(hasNoChild(99_999_999), 'no such process: cannot tell');
});

test('killLeftovers: nothing below a childless root; a grandchild below a root is still found and killed', async () => {
  const lone = spawnChild('sleep', ['30'], { stdio: 'ignore' });
  assert.equal(await killLeftovers(lone.pid!, 1000), { killed: 0, left: 0 });
  lone.kill('SIGKILL');
  const sh = spawnChild('sh', ['-c', '(sleep 30; true) & read x'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await until(() => !hasNoChild(sh.pid!), 'sh has a child');
  const r = await killLeftovers(sh.pid!, 500);
  assert.ok(r.killed >= 1, JSON.stringify(r));
  sh.kill('SIGKILL');
});

test.run();
