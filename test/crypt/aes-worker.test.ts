// The AES worker (tsyd_aes, addon/aes.cc) on the real kernel: its confinement (an open from it
// fails), a job's result on disk (complete, decryptable, the old file replaced by a rename),
// stop() writing every queued job before it joins, a failed start, and crash consistency: a
// process SIGKILLed in the middle of a 256 MiB write-back leaves the old file whole.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startAes, stopAes } from '../../src/actors/aes.js';
import { confinementFilter } from '../../src/confine/thread-filters.js';
import { native } from '../../src/native/addon.js';
import { referenceDecrypt, referenceEncrypt } from '../helpers/crypt-reference.js';
import { recordLogger } from '../helpers/record-logger.js';
import { fixture, repoRoot } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { tsydBin } from '../helpers/tsyd.js';

const { EPERM, EINVAL, ESRCH, EBUSY } = constants.errno;
/** O_TMPFILE (__O_TMPFILE | O_DIRECTORY): Node passes numeric flags on. */
const O_TMPFILE = 0o20200000;

const key = randomBytes(32);
let handle: number;
let dir: string;

test.before(() => {
  handle = native.cryptKeyLoad(Buffer.from(key));
  dir = tempTree('aes-worker');
});
test.after(() => {
  native.aesStop();
  native.cryptKeyDrop(handle);
});

/** A job writing `plain` to dir/name, its fds opened as the sandbox side would. */
function job(name: string, plain: Buffer) {
  const plainFd = native.cryptMemfd();
  writeSync(plainFd, plain);
  return { handle, plainFd, dirFd: openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY), name, tmpFd: openSync(dir, O_TMPFILE | fsc.O_RDWR, 0o600) };
}

function closeJob(j: ReturnType<typeof job>): void {
  for (const fd of [j.plainFd, j.dirFd, j.tmpFd]) closeSync(fd);
}

test('confined before it starts: an open and a socket from the AES thread fail EPERM (unconfined they work)', () => {
  assert.is(native.aesStart({ probe: true }), 0);
  const free = native.aesStop()!.events.find((e) => e.op === 'probe');
  assert.equal(free, { op: 'probe', openErrno: 0, socketErrno: 0 }, 'without its filter the probe opens');
  assert.is(native.aesStart({ filter: confinementFilter('aes'), probe: true }), 0);
  const confined = native.aesStop()!;
  assert.is(confined.confineErrno, 0);
  assert.equal(confined.events.find((e) => e.op === 'probe'), { op: 'probe', openErrno: EPERM, socketErrno: EPERM });
});

test('the thread is tsyd_aes, with SIGALRM, SIGTERM and SIGINT blocked, and gone after stop', () => {
  const aesThreads = () =>
    readdirSync('/proc/self/task').filter((tid) => {
      try {
        return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() === 'tsyd_aes';
      } catch {
        return false;
      }
    });
  assert.equal(aesThreads(), []);
  assert.is(native.aesStart({ filter: confinementFilter('aes') }), 0);
  const [tid] = aesThreads();
  assert.ok(tid, 'a thread named tsyd_aes');
  const blocked = BigInt(`0x${/SigBlk:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]}`);
  for (const sig of ['SIGALRM', 'SIGTERM', 'SIGINT'] as const) assert.ok((blocked >> BigInt(constants.signals[sig] - 1)) & 1n, sig);
  native.aesStop();
  assert.equal(aesThreads(), []);
});

test('a job: the file is replaced by its complete ciphertext, decryptable, no temporary left', () => {
  writeFileSync(join(dir, 'f'), 'old content');
  assert.is(native.aesStart({ filter: confinementFilter('aes') }), 0);
  const plain = randomBytes(3 * 256 * 1024 + 11);
  const id = native.aesSubmit(job('f', plain));
  assert.ok(id >= 0);
  assert.ok(native.aesDrain(20_000));
  assert.is(native.aesPending(), 0);
  const report = native.aesStop()!;
  assert.equal(report.events, [{ op: 'written', id, name: 'f', bytes: plain.length + 64 }]);
  assert.ok(referenceDecrypt(key, readFileSync(join(dir, 'f')))?.equals(plain));
  assert.equal(readdirSync(dir).sort(), ['f']);
});

test('stop() writes every queued job, then joins', () => {
  assert.is(native.aesStart({ filter: confinementFilter('aes') }), 0);
  const plains = Array.from({ length: 8 }, () => randomBytes(2 << 20));
  plains.forEach((p, i) => assert.ok(native.aesSubmit(job(`q${i}`, p)) >= 0));
  const report = native.aesStop()!;
  assert.is(report.events.filter((e) => e.op === 'written').length, 8);
  plains.forEach((p, i) => assert.ok(referenceDecrypt(key, readFileSync(join(dir, `q${i}`)))?.equals(p), `q${i}`));
  assert.is(native.aesPending(), 0);
  assert.is(native.aesEvents(), undefined, 'no worker after stop');
});

test('one job per file waits: a newer job (seq) replaces the queued one of its file, an older one handed on late is dropped', () => {
  assert.is(native.aesStart({ filter: confinementFilter('aes'), slowJobMs: 300 }), 0);
  const [p1, p2, p3, p4] = [1, 2, 3, 4].map((i) => Buffer.from(`content ${i}`));
  const first = native.aesSubmit({ ...job('one', p1), seq: 1 });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // the worker takes it: running
  native.aesSubmit({ ...job('one', p2), seq: 2 });
  const newest = native.aesSubmit({ ...job('one', p4), seq: 4 });
  native.aesSubmit({ ...job('one', p3), seq: 3 });
  const pending = native.aesPending();
  const report = native.aesStop()!;
  assert.is(pending, 2, 'the running job and one queued');
  assert.equal(report.events.map((e) => e.op === 'written' && e.id), [first, newest]);
  assert.ok(referenceDecrypt(key, readFileSync(join(dir, 'one')))?.equals(p4));
  assert.equal(readdirSync(dir).filter((n) => n.includes('one')), ['one']);
});

test('an older job of a file handed on after a newer one was taken never runs (the newer content stays on disk)', () => {
  // Two threads collected two jobs of one file and handed them on in reverse order.
  assert.is(native.aesStart({ filter: confinementFilter('aes'), slowJobMs: 300 }), 0);
  const [older, newer] = [Buffer.from('older content'), Buffer.from('newer content')];
  const ran = native.aesSubmit({ ...job('late', newer), seq: 8 });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100); // the worker takes it: running
  native.aesSubmit({ ...job('late', older), seq: 7 });
  assert.is(native.aesPending(), 1, 'the older job was not queued behind the running newer one');
  const report = native.aesStop()!;
  assert.equal(report.events.map((e) => e.op === 'written' && e.id), [ran]);
  assert.ok(referenceDecrypt(key, readFileSync(join(dir, 'late')))?.equals(newer));
  assert.equal(readdirSync(dir).filter((n) => n.includes('late')), ['late']);
});

test('aesDrain(timeout, atMost) returns once no more than atMost jobs are queued or running', () => {
  assert.is(native.aesStart({ filter: confinementFilter('aes'), slowJobMs: 200 }), 0);
  for (let i = 0; i < 4; i++) assert.ok(native.aesSubmit({ ...job(`d${i}`, Buffer.from('x')), seq: i + 1 }) >= 0);
  const drained = native.aesDrain(20_000, 2);
  const left = native.aesPending();
  native.aesStop();
  assert.ok(drained);
  assert.ok(left <= 2 && left >= 1, `left ${left}`);
});

test('aesPendingBytes() counts the plaintext queued and running; aesDrain(timeout, atMost, atMostBytes) waits for it', () => {
  assert.is(native.aesStart({ filter: confinementFilter('aes'), slowJobMs: 200 }), 0);
  for (let i = 0; i < 4; i++) assert.ok(native.aesSubmit({ ...job(`p${i}`, Buffer.alloc(1000, 'p')), seq: i + 1 }) >= 0);
  const before = native.aesPendingBytes();
  const drained = native.aesDrain(20_000, 100, 2000);
  const after = native.aesPendingBytes();
  native.aesStop();
  assert.is(before, 4000);
  assert.ok(drained);
  assert.ok(after <= 2000 && after >= 1000, `after ${after}`);
  assert.is(native.aesPendingBytes(), 0);
});

test('32 write-backs submitted at once from 8 threads: every file complete and decryptable', async () => {
  assert.is(native.aesStart({ filter: confinementFilter('aes') }), 0);
  const threads = Array.from({ length: 8 }, (_, t) =>
    new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
       const fs = require('node:fs');
       const native = require(${JSON.stringify(join(repoRoot, 'build/Release/tsyd.node'))});
       const { dir, handle, t } = workerData;
       const ids = [];
       for (let i = 0; i < 4; i++) {
         const plainFd = native.cryptMemfd();
         fs.writeSync(plainFd, Buffer.alloc(100000 + t * 4 + i, t * 4 + i));
         ids.push(native.aesSubmit({ handle, plainFd, dirFd: fs.openSync(dir, 'r'), name: 'c' + (t * 4 + i), tmpFd: fs.openSync(dir, ${O_TMPFILE | fsc.O_RDWR}, 0o600) }));
       }
       parentPort.postMessage(ids);`,
      // The job's fds belong to the AES worker once submitted: Node must not close them when this thread ends.
      { eval: true, workerData: { dir, handle, t }, trackUnmanagedFds: false },
    ),
  );
  const ids = (await Promise.all(threads.map((w) => new Promise<number[]>((r) => w.once('message', r))))).flat();
  assert.ok(ids.every((id) => id >= 0), String(ids));
  assert.is(new Set(ids).size, 32);
  const report = native.aesStop()!;
  assert.is(report.events.filter((e) => e.op === 'written').length, 32);
  for (let k = 0; k < 32; k++) assert.ok(referenceDecrypt(key, readFileSync(join(dir, `c${k}`)))?.equals(Buffer.alloc(100000 + k, k)), `c${k}`);
});

test('refusals: no worker (ESRCH), a second one (EBUSY), a name with a slash (EINVAL); the caller keeps its fds', () => {
  const j = job('x', Buffer.from('x'));
  assert.is(native.aesSubmit(j), -ESRCH);
  assert.is(native.aesStart(), 0);
  assert.is(native.aesStart(), -EBUSY);
  for (const name of ['a/b', '..', '', '.']) assert.is(native.aesSubmit({ ...j, name }), -EINVAL, name);
  closeJob(j);
  native.aesStop();
});

test('started by another thread (a worker env): this thread submits to it, cannot stop it; the starter ending joins it', async () => {
  const starter = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const native = require(${JSON.stringify(join(repoRoot, 'build/Release/tsyd.node'))});
     parentPort.postMessage(native.aesStart());
     parentPort.once('message', () => process.exit(0));`,
    { eval: true },
  );
  assert.is(await new Promise((r) => starter.once('message', r)), 0);
  const plain = randomBytes(1000);
  const id = native.aesSubmit(job('from-main', plain));
  assert.ok(id >= 0, 'same fd table: the job is taken');
  assert.ok(native.aesDrain(20_000));
  assert.is(native.aesStop(), undefined, 'not the starter: refused');
  assert.ok(native.aesEvents()?.events.some((e) => e.op === 'written' && e.id === id));
  starter.postMessage('end');
  await new Promise((r) => starter.once('exit', r));
  assert.is(native.aesEvents(), undefined, "the starter's end stopped and joined it");
  assert.ok(referenceDecrypt(key, readFileSync(join(dir, 'from-main')))?.equals(plain));
});

test('a failed write-back (a bad key handle) is an event with its stage; the old file stays', () => {
  writeFileSync(join(dir, 'kept'), 'old');
  assert.is(native.aesStart(), 0);
  const id = native.aesSubmit({ ...job('kept', Buffer.from('new')), handle: 1e6 });
  const log = recordLogger();
  stopAes(log);
  assert.equal(readFileSync(join(dir, 'kept'), 'utf8'), 'old');
  const failed = log.records.find((r) => r.op === 'write_back_failed');
  assert.equal({ ...failed, msg: undefined }, { ctx: 'crypt', op: 'write_back_failed', job: id, name: 'kept', err: constants.errno.EBADF, stage: 'encrypt', level: 'error', msg: undefined });
});

test('TSYD_FAULT=fail-aes-confine: a filter that fails to load is a failed start, with an alert', () => {
  const log = recordLogger();
  const why = startAes(log, confinementFilter('aes'), 'fail-aes-confine');
  assert.match(why, `errno ${EINVAL}`);
  assert.is(native.aesEvents(), undefined, 'no worker runs');
  assert.ok(log.records.some((r) => r.level === 'alert' && r.op === 'aes_failed'));
});

test('tsyd export pfc shows the AES filter denying opens, socket creation, exec and process_vm_*', () => {
  const r = spawnSync(process.execPath, [tsydBin, 'export', 'pfc'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const aes = r.stdout.slice(r.stdout.indexOf('(tsyd_aes.bpf)'));
  assert.ok(aes.length > 0 && aes.length < r.stdout.length, 'an AES section');
  const section = aes.slice(0, aes.indexOf('# disassembly'));
  for (const call of ['open', 'openat', 'openat2', 'creat', 'socket', 'socketpair', 'execve', 'execveat', 'process_vm_readv', 'process_vm_writev']) {
    assert.match(section, new RegExp(`/\\* ${call} \\*/\\) action ERRNO\\(1\\)`), call);
  }
  assert.not.match(section, /\/\* (read|write|fsync|linkat|renameat2?|pread64|pwrite64) \*\/\) action ERRNO/, 'what a write-back needs stays allowed');
});

test('tsyd export bpf writes tsyd_aes.bpf: loaded, it refuses opens, sockets and exec, and lets a write-back through', () => {
  const out = tempTree('aes-export');
  const r = spawnSync(process.execPath, [tsydBin, 'export', 'bpf'], { cwd: out, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const probe = execFileSync(fixture('aesfilter'), [join(out, 'tsyd_aes.bpf'), out], { encoding: 'utf8' });
  const errnos = Object.fromEntries(probe.trim().split('\n').map((l) => l.split(' errno=')).map(([k, v]) => [k, Number(v)]));
  assert.equal(errnos, { open: EPERM, openat: EPERM, creat: EPERM, socket: EPERM, socketpair: EPERM, execve: EPERM, getrandom: 0, pwrite: 0, fsync: 0, linkat: 0, renameat: 0, unlinkat: 0 });
});

test('SIGKILL in the middle of a 256 MiB write-back: the old file is whole (the rename is the commit)', async () => {
  const old = randomBytes(1000);
  writeFileSync(join(dir, 'big'), referenceEncrypt(key, old));
  writeFileSync(join(dir, 'big.plain'), randomBytes(256 << 20));
  const script = `
    import { openSync } from 'node:fs';
    const { native } = await import(${JSON.stringify(join(repoRoot, 'dist/src/native/addon.js'))});
    const h = native.cryptKeyLoad(Buffer.from(${JSON.stringify(key.toString('hex'))}, 'hex'));
    native.aesStart();
    const dir = ${JSON.stringify(dir)};
    native.aesSubmit({ handle: h, plainFd: openSync(dir + '/big.plain', 'r'), dirFd: openSync(dir, 'r'), name: 'big', tmpFd: openSync(dir, ${O_TMPFILE | fsc.O_RDWR}, 0o600) });
    process.stdout.write('submitted\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('submitted') && resolve());
    child.once('exit', () => reject(new Error('the child ended before it submitted')));
  });
  await new Promise((r) => setTimeout(r, 40));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(referenceDecrypt(key, readFileSync(join(dir, 'big')))?.equals(old), 'the old content, whole');
  assert.equal(readdirSync(dir).filter((n) => n.startsWith('.big')), [], 'no temporary linked');
});

test.run();
