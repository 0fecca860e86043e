// The emulators' set*id bound for a container (tsyd agent): the ids its user namespace maps, as
// whole ranges, and nothing past their ends; a map of many lines stays a program the kernel takes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { runBpf } from '../helpers/bpf-run.js';
import { native } from '../../src/native/addon.js';
import { emulatorFilter } from '../../src/confine/emulator-filter.js';
import { BPF_MAXINSNS } from '../../src/confine/bpf.js';
import { joinRanges, MAX_RANGES, readIdMap } from '../../src/proc/id-maps.js';

const AUDIT = native.arch === 'x86_64' ? 0xc000003e : 0xc00000b7;
const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const call = (prog: Buffer, name: string, ...ids: number[]) => runBpf(prog, { nr: native.syscalls[name]!, arch: AUDIT, args: ids.map((i) => BigInt(i >>> 0)) });

test('set*id within a mapped range is allowed, one past either end is EPERM, listed ids and -1 stay allowed', () => {
  const prog = emulatorFilter(['execve'], { uids: [0], gids: [0], uidRanges: [{ first: 100000, count: 65536 }], gidRanges: [{ first: 200000, count: 10 }] });
  assert.is(call(prog, 'setresuid', 100000, 165535, 0), ALLOW);
  assert.is(call(prog, 'setuid', 101000), ALLOW);
  assert.is(call(prog, 'setfsuid', -1), ALLOW);
  assert.is(call(prog, 'setuid', 165536), EPERM);
  assert.is(call(prog, 'setuid', 99999), EPERM);
  assert.is(call(prog, 'setresuid', 100000, 100000, 165536), EPERM, 'every argument is checked');
  assert.is(call(prog, 'setgid', 200009), ALLOW);
  assert.is(call(prog, 'setgid', 200010), EPERM);
  assert.is(call(prog, 'setgid', 100000), EPERM, 'the uid range is not a gid range');
  assert.is(call(prog, 'execve'), EPERM, 'the deny-list stays');
  // The agent's own namespace (a rootful container): every id.
  const all = emulatorFilter([], { uids: [0], gids: [0], uidRanges: [{ first: 0, count: 0xffffffff }], gidRanges: [] });
  assert.is(call(all, 'setuid', 0xfffffffe), ALLOW);
  assert.is(call(all, 'setgid', 5), EPERM);
});

test('a map of 340 lines (the kernel\'s most) is joined into one range and the filter stays within BPF_MAXINSNS', () => {
  const lines = Array.from({ length: 340 }, (_, i) => ({ first: 100000 + 2 * i, count: 1 }));
  assert.equal(joinRanges(lines, true), [{ first: 100000, count: 679 }], "the runtime's container: the covering range");
  // An allowed client's map: never wider than the map (17 single ids far apart: the first 16 only).
  const far = Array.from({ length: 17 }, (_, i) => ({ first: 1001 + 6000 * i, count: 1 }));
  assert.equal(joinRanges(far, false), far.slice(0, MAX_RANGES));
  assert.equal(joinRanges([{ first: 10, count: 5 }, { first: 0, count: 10 }, { first: 30, count: 1 }], false), [{ first: 0, count: 15 }, { first: 30, count: 1 }]);
  const ranges = Array.from({ length: MAX_RANGES }, (_, i) => ({ first: 1000 * i, count: 10 }));
  const prog = emulatorFilter(['execve'], { uids: [0, 1, 2], gids: [0], uidRanges: ranges, gidRanges: ranges });
  assert.ok(prog.length / 8 <= BPF_MAXINSNS, `${prog.length / 8} instructions`);
  assert.is(call(prog, 'setresuid', 15009, 15009, 15009), ALLOW);
  assert.is(call(prog, 'setresuid', 15010, 0, 0), EPERM);
});

test("readIdMap: tsyd's own namespace maps every id; a new user namespace's map is read from tsyd's side", async () => {
  assert.equal(readIdMap(process.pid, 'uid_map'), [{ first: 0, count: 0xffffffff }]);
  assert.equal(readIdMap(0x7ffffff0, 'uid_map'), [], 'no such process: no ids');
  if (process.getuid?.() !== 0) return;
  // A new user namespace whose root is the host's 4242 (root writes its map): tsyd reads "0 4242 1".
  const child = spawn('unshare', ['--user', 'sleep', '30'], { stdio: 'ignore' });
  try {
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 20))) {
      const ns = (p: number) => readlinkSync(`/proc/${p}/ns/user`);
      if (ns(child.pid!) !== ns(process.pid)) break;
      assert.ok(Date.now() < deadline, 'unshare made no user namespace');
    }
    assert.equal(readIdMap(child.pid!, 'uid_map'), [], 'not written yet: no ids');
    writeFileSync(`/proc/${child.pid}/uid_map`, '0 4242 1\n');
    writeFileSync(`/proc/${child.pid}/gid_map`, '0 4343 1\n');
    assert.equal(readIdMap(child.pid!, 'uid_map'), [{ first: 4242, count: 1 }]);
    assert.equal(readIdMap(child.pid!, 'gid_map'), [{ first: 4343, count: 1 }]);
  } finally {
    child.kill('SIGKILL');
  }
});

test.run();
