// A flood of denials costs tsyd constant memory: 8 threads of denied opens for 8 s. (Before the
// decision ring, every denial was queued in every emulator's undrained BroadcastChannel: tsyd
// grew by ~80 MiB/s, 1.9 GiB after 55 s.) The denials are all logged; the library's result
// counts every one of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { describe, spawnTsyd } from '../helpers/tsyd.js';

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

test('8 threads of denied opens for 8 s: once the pool has grown, tsyd does not grow; every denial logged', async () => {
  const t = spawnTsyd(['run', '--log-fd', '3', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/hostname', '--', fixture('denyflood'), '/etc/hostname', '8', '8'], {
    logFd: 3,
    keepStdinOpen: true,
    timeoutMs: 60_000,
  });
  await t.waitForStdout(/^ready$/m);
  const start = rssKiB(t.pid);
  t.child.stdin!.end('g');
  // The pool grows to one emulator per busy program thread (each with its heap) in the first
  // seconds; from then on a denial must cost nothing that stays.
  await new Promise((r) => setTimeout(r, 3000));
  const before = rssKiB(t.pid);
  let peak = before;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssKiB(t.pid));
    } catch {
      // ended
    }
  }, 100);
  const r = await t.result;
  clearInterval(sampler);
  assert.is(r.code, 0, describe(r));
  const denied = Number(/denied (\d+)/.exec(r.stdout)![1]);
  const logged = r.records.filter((x) => x['ctx'] === 'access').length;
  assert.ok(denied > 20_000, `a flood: ${denied} denials`);
  assert.is(logged, denied, 'every denial logged');
  const growthMiB = (peak - before) / 1024;
  console.log(`flood: ${denied} denials in 8 s; tsyd RSS ${Math.round(start / 1024)} MiB at the start, ${Math.round(before / 1024)} MiB after 3 s, peak ${Math.round(peak / 1024)} MiB after`);
  assert.ok(growthMiB < 30, `tsyd grew by ${growthMiB.toFixed(1)} MiB in the last 5 s`);
});

test.run();
