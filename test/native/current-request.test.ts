// The addon's request ops act only on the request the emulator's Request stands for: the
// notification this thread received and has not answered, whose id the slot names
// (addon/common.h CurrentRequest). Otherwise they throw, and a request held under another id is
// answered EACCES (fail closed).
import { existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FsOp, native, PATH_BUF_SIZE, Recv, Resolve } from '../../src/native/addon.js';
import { Slot, SLOT_WORDS } from '../../src/shared/slot.js';
import { tempTree } from '../helpers/tmp.js';

// This test thread acts as an emulator: the addon writes requests into these.
const slot = new Int32Array(SLOT_WORDS);
native.bindBuffers(slot, Buffer.alloc(PATH_BUF_SIZE));

/** Waits (≤ 5 s) until `pred` holds. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 5000; !pred(); await new Promise((r) => setTimeout(r, 10))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

test('without a request (none received yet) a request op throws, it does not act', () => {
  assert.throws(() => native.fsOp(FsOp.mkdir, 1), /fsOp\(\) with no current request/);
  assert.throws(() => native.resolvePath(-1, 0, 0), /resolvePath\(\) with no current request/);
});

test('an op on a request other than the one the slot names answers EACCES and throws; later ops find no request', async () => {
  const dir = tempTree('current');
  const target = join(dir, 'made');
  const errFile = join(dir, 'stderr');
  const stderr = openSync(errFile, 'w');
  const { mkdir, mkdirat } = native.syscalls;
  const spawned = native.spawn({
    file: '/bin/mkdir',
    argv: ['mkdir', target],
    env: ['LC_ALL=C'],
    stdio: [-1, -1, stderr],
    filter: native.buildFilter([mkdir!, mkdirat!].filter((n) => n !== undefined), []),
  });
  try {
    let r: number = Recv.none;
    for (const end = Date.now() + 5000; r !== Recv.got && Date.now() < end; ) r = native.recv(spawned.notifyFd, -1, 500);
    assert.is(r, Recv.got, 'the program made its mkdir');
    assert.ok(slot[Slot.nr] === mkdir || slot[Slot.nr] === mkdirat);
    // The request the JS side stands for is no longer the one the addon holds.
    slot[Slot.idLo] = slot[Slot.idLo]! ^ 1;
    assert.throws(() => native.resolvePath(slot[Slot.nr] === mkdirat ? 0 : -1, slot[Slot.nr] === mkdirat ? 1 : 0, Resolve.noFollow), /not this thread's current one \(answered EACCES\)/);
    // The program got EACCES: nothing was made.
    await until(() => readFileSync(errFile, 'utf8').includes('Permission denied'), 'mkdir to report EACCES');
    assert.not.ok(existsSync(target));
    // Answered: no op acts for it any more, whatever the slot says.
    slot[Slot.idLo] = slot[Slot.idLo]! ^ 1;
    assert.throws(() => native.fsOp(FsOp.mkdir, 1), /fsOp\(\) with no current request/);
    assert.is(native.respond(1, 13), -22, 'nothing left to answer (EINVAL)');
  } finally {
    native.releaseReaper(spawned.controlFd);
    for (const fd of [spawned.notifyFd, spawned.pidfd, spawned.reaperPidfd, spawned.controlFd, spawned.statusFd, stderr]) native.close(fd);
  }
});

test.run();
