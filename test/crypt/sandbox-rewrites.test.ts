// A crypt file rewritten faster than it is encrypted (README "Crypt sandboxing"): one write-back
// per file waits at a time (a newer content replaces the queued one), so tsyd's memory and fds
// stay bounded, and the program never fails for the write-backs it left behind.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptPolicy, cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { fixture } from '../helpers/fixtures.js';
import { treesLeftForExit, withTempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd, spawnTsyd, tsydBin } from '../helpers/tsyd.js';
import { native } from '../../src/native/addon.js';
import { spawn } from '../../src/spawn.js';

/** The plaintext buffers (memfds) tsyd's AES worker's fd table holds now: how many, and their bytes. */
function cryptMemfds(pid: number): { count: number; bytes: number } {
  const seen = new Map<number, number>();
  try {
    const aes = readdirSync(`/proc/${pid}/task`).find((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim() === 'tsyd_aes');
    if (aes === undefined) return { count: 0, bytes: 0 };
    const fds = `/proc/${pid}/task/${aes}/fd`;
    for (const fd of readdirSync(fds)) {
      try {
        if (!readlinkSync(`${fds}/${fd}`).startsWith('/memfd:tsyd-crypt')) continue;
        const sb = statSync(`${fds}/${fd}`);
        seen.set(sb.ino, sb.size);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // tsyd ended meanwhile
  }
  return { count: seen.size, bytes: [...seen.values()].reduce((a, b) => a + b, 0) };
}

/** Runs tsyd with `args`; its result and the most plaintext its buffers held at once (sampled every 20 ms). */
async function runSampled(args: string[]) {
  const run = spawnTsyd(args, { timeoutMs: 300_000 });
  let peak = { count: 0, bytes: 0 };
  const sampler = setInterval(() => {
    const now = cryptMemfds(run.pid);
    if (now.bytes > peak.bytes) peak = now;
  }, 20);
  const r = await run.result.finally(() => clearInterval(sampler));
  return { r, peak };
}

test('2000 rewrites of one 1 MiB crypt file: tsyd holds a few plaintext buffers at most, the last content lands', () =>
  withTempTree('crypt-rewrites', async (dir) => {
    const { r, peak } = await runSampled(['run', ...cryptRules(dir), '--', fixture('cryptrewrite'), `${dir}/f`, '2000', '1024']);
    assert.is(r.stdout.trim(), 'ok 2000', describe(r));
    assert.is(r.code, 0, describe(r));
    // Before: one queued job (its buffer) per rewrite, hundreds of MiB.
    assert.ok(peak.bytes <= 16 << 20, `peak ${peak.count} buffers, ${peak.bytes} bytes\n${describe(r)}`);
    const plain = decryptFile(`${dir}/f`);
    assert.ok(Buffer.isBuffer(plain) && plain.length === 1 << 20 && plain.subarray(0, 15).toString() === '000000000001999', String(plain).slice(0, 15));
  }));

test('120 crypt files of 8 MiB written as fast as possible: the plaintext tsyd holds stays bounded by bytes, every file lands', () =>
  withTempTree('crypt-bulk', async (dir) => {
    const { r, peak } = await runSampled(['run', ...cryptRules(dir), '--', fixture('cryptbulk'), dir, '120', '8']);
    assert.is(r.stdout.trim(), 'ok 120', describe(r));
    assert.is(r.code, 0, describe(r));
    // Before: every snapshot was kept 5 s after its write-back landed, and jobs were bounded by
    // count only: ~1 GiB of the 960 MiB written was held at once.
    assert.ok(peak.bytes <= 448 << 20, `peak ${peak.count} buffers, ${peak.bytes >> 20} MiB\n${describe(r)}`);
    for (const i of [0, 119]) {
      const plain = decryptFile(`${dir}/b${i}`);
      assert.ok(Buffer.isBuffer(plain) && plain.length === 8 << 20 && plain[0] === 0x62, `b${i}`);
    }
  }));

test('tsyd limited to 1500 fds, 4000 rewrites of one small crypt file: no open fails for the write-backs left behind', () =>
  withTempTree('crypt-rewrites-fds', async (dir) => {
    const r = await runNative('/usr/bin/prlimit', ['--nofile=1500:1500', process.execPath, tsydBin, 'run', ...cryptRules(dir), '--', fixture('cryptrewrite'), `${dir}/f`, '4000', '1'], { timeoutMs: 300_000 });
    assert.is(r.stdout.trim(), 'ok 4000', describe(r));
    assert.is(r.code, 0, describe(r));
    const plain = decryptFile(`${dir}/f`);
    assert.ok(Buffer.isBuffer(plain) && plain.subarray(0, 15).toString() === '000000000003999', describe(r));
  }));

test('1000 rewrites of one crypt file: the names of its buffers go with the buffers (not one kept per rewrite)', () =>
  withTempTree('crypt-rewrites-names', async (dir) => {
    const rules = cryptPolicy(dir).map((rule) => ({ rule }));
    const child = spawn(fixture('cryptrewrite'), [`${dir}/f`, '1000', '1'], { policy: [{ profile: 'off' }, ...rules], stdio: 'ignore', logLevel: 'silent' });
    let peak = 0;
    let running = true;
    const ended = child.result.finally(() => (running = false));
    // The registry is this process's: sampled while the program runs (its end forgets every name).
    while (running) {
      peak = Math.max(peak, native.cryptBufferNames());
      await new Promise((res) => setTimeout(res, 5));
    }
    assert.is((await ended).exitCode, 0);
    // Before: one per buffer ever made (about 1000 at the end of the loop).
    assert.ok(peak <= 16, `peak ${peak} buffer names`);
    assert.ok(String(decryptFile(`${dir}/f`)).startsWith('000000000000999'));
  }));

test('8500 snapshots closed at once (more buffer-gone events than inotify queues): a writer closed meanwhile is still committed', () =>
  withTempTree('crypt-many-close', async (dir) => {
    const r = await runTsyd(['run', ...cryptRules(dir), '--', fixture('cryptmanyclose'), dir, '8500'], { timeoutMs: 300_000 });
    assert.is(r.stdout.trim(), 'read new', describe(r));
    assert.is(r.code, 0, describe(r));
    assert.is(String(decryptFile(`${dir}/w`)), 'new');
  }));

test('every tree these tests wrote (~1 GB, 8500 files) is removed by its test, none is left for the exit', () => {
  // The exit handler runs after uvu's summary, where test/run.mjs allows a file 20 s to end.
  assert.equal(treesLeftForExit().filter((d) => d.includes('tsyd-crypt-')), []);
});

test.run();
