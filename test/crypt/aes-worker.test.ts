// The AES worker (tsyd_aes, addon/aes.cc) on the real kernel: its confinement (an open from it
// fails), a job's result on disk (complete, decryptable, the old file replaced by a rename),
// stop() writing every queued job before it joins, a failed start, and crash consistency: a
// process SIGKILLed in the middle of a 256 MiB write-back leaves the old file whole.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsc, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startAes, stopAes } from '../../src/actors/aes.js';
import { confinementFilter } from '../../src/confine/thread-filters.js';
import { native } from '../../src/native/addon.js';
import { referenceDecrypt, referenceEncrypt } from '../helpers/crypt-reference.js';
import { recordLogger } from '../helpers/record-logger.js';
import { repoRoot } from '../helpers/fixtures.js';
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

test('refusals: no worker (ESRCH), a second one (EBUSY), a name with a slash (EINVAL); the caller keeps its fds', () => {
  const j = job('x', Buffer.from('x'));
  assert.is(native.aesSubmit(j), -ESRCH);
  assert.is(native.aesStart(), 0);
  assert.is(native.aesStart(), -EBUSY);
  for (const name of ['a/b', '..', '', '.']) assert.is(native.aesSubmit({ ...j, name }), -EINVAL, name);
  closeJob(j);
  native.aesStop();
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
