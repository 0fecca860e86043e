// Crypt sandboxing's write-backs: the buffers whose last writer went (addon/crypt-files.cc) go to
// the AES worker (tsyd_aes, src/actors/aes.ts), which encrypts each beside its file and renames
// it onto the name. Called by the emulators after a crypt op, by the monitor in its loop, and at
// the end of the sandbox for every buffer left.
import { CryptCollect, native } from '../native/addon.js';
import type { TsydLogger } from '../log.js';
import { constants } from 'node:os';
import { aesStartOptions, drainAes, logAesEvents, PASSING_WANTS, stopAes } from './aes.js';

const { EBUSY } = constants.errno;

/** For short sleeps of this thread (Atomics.wait). */
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Hands every ready write-back to the AES worker. `how`: CryptCollect (the monitor's loop also
 * frees idle snapshots; at the end every buffer still live is written back as it is). Returns how
 * many were handed on. A job the worker refuses (none runs in this fd table) is written back on
 * this thread, as the worker would. SAFETY: a job that could not be made (no O_TMPFILE beside
 * the file), or that failed for good, drops that buffer: the file keeps its whole old content; an
 * error record says so now, and the end of the sandbox names it again (write_back_lost, exit 101).
 * A job that could not be made for a passing want (EMFILE, ENFILE, ENOMEM, ENOSPC...) is not
 * returned: its buffer is kept and the job made again by the next collect (retry).
 */
export function submitWriteBacks(log: TsydLogger, how: number = CryptCollect.due, handle = -1): number {
  let n = 0;
  for (const job of native.cryptCollect(how, handle)) {
    if (job.lost) {
      lost.push(job.name);
      const why = job.stage === 'retry' ? `could not be made (errno ${job.err}) until the sandbox ended` : `failed for good (errno ${job.err} at ${job.stage})`;
      const stray = job.stray === undefined ? '' : `; its ciphertext stays in the directory as ${job.stray}`;
      log.error({ ctx: 'crypt', op: 'write_back_lost', name: job.name, err: job.err, stage: job.stage, ...(job.stray === undefined ? {} : { stray: job.stray }) },
        `the content written to the crypt file ${job.name} is LOST: its write-back ${why}; the file keeps its old content${stray}`);
      continue;
    }
    if (job.err !== undefined) {
      log.error({ ctx: 'crypt', op: 'write_back', name: job.name, err: job.err }, `cannot write back the crypt file ${job.name}: it keeps its old content`);
      continue;
    }
    let r: number;
    try {
      r = native.aesSubmit(job);
      if (r < 0) r = native.cryptWriteBackNow(job);
    } finally {
      native.cryptHanded(true);
    }
    if (r < 0 && PASSING_WANTS.has(-r)) log.debug({ ctx: 'crypt', op: 'write_back_retry', name: job.name, err: -r }, 'crypt write-back failed for a passing want: retried');
    else if (r < 0) log.error({ ctx: 'crypt', op: 'write_back', name: job.name, err: -r }, `the write-back of the crypt file ${job.name} failed: it keeps its old content`);
    else n++;
  }
  return n;
}

/** The crypt files whose written content was lost at the end of this sandbox (failed for good, or retries that never landed). */
const lost: string[] = [];

/** How long the end of a sandbox retries the write-backs that could not be made (fds, memory, space): within the 5 s the owner gives the supervisor threads to stop (monitor-handle stop()), so that the lost files are named. */
const EXIT_RETRY_MS = 3_000;

/** How long the end of a sandbox waits for its write-backs (256 MiB: ~1.5 s on this machine kind). */
const EXIT_WAIT_MS = 10 * 60_000;

/** This sandbox started the AES worker of its fd table (false: it shares another sandbox's, or none). */
let ownsAes = false;

/**
 * The monitor's startingAes: starts tsyd_aes with its filter (TSYD_FAULT=fail-aes-confine: a
 * filter the kernel refuses). One runs per fd table: a sandbox that starts while another of this
 * process runs Crypt hands its jobs to that one (and, once it is joined, writes them back on the
 * calling thread). Throws when it cannot start (critical, 101: the sandbox must not run with
 * files it could not write back).
 */
export function startAesWorker(log: TsydLogger, filter: Uint8Array | undefined, fault?: string): void {
  const rc = native.aesStart(aesStartOptions(filter, fault));
  ownsAes = rc === 0;
  if (rc === 0) log.info({ ctx: 'boot', op: 'start_aes_thread', confined: filter !== undefined }, 'AES worker is up');
  else if (rc === -EBUSY) log.info({ ctx: 'boot', op: 'start_aes_thread', shared: true }, 'the AES worker of another sandbox of this process writes this one\'s files back');
  else {
    const why = `its seccomp filter failed to load (errno ${-rc})`;
    log.alert({ ctx: 'boot', op: 'aes_failed', err: -rc, msg: `failed to start the AES worker: ${why}` });
    throw new Error(`cannot start the AES worker: ${why}`);
  }
}

/** The monitor's loop: the write-backs due go on, idle snapshots are freed, tsyd_aes's events logged. */
export function writeBackInLoop(log: TsydLogger): void {
  submitWriteBacks(log, CryptCollect.pruneIdle);
  if (ownsAes) logAesEvents(log);
}

/**
 * The monitor's waitingAes, once the program has ended: every buffer still held goes to the AES
 * worker; waits until each is written back, then joins the worker. SAFETY: no encryption is lost
 * (the reference pool joins its AES thread at exit): aesStop writes every job still queued.
 * A write-back that could not be made for a passing want is retried (each landed one frees fds)
 * for up to EXIT_RETRY_MS; what still did not land, and every write-back of this sandbox that
 * failed for good (addon/crypt-lost.cc), is an error record per file, and this throws:
 * tsyd exits 101 (README "Crypt sandboxing": lost content is a critical failure, never silent).
 */
export function finishWriteBacks(log: TsydLogger, handle: number): void {
  lost.length = 0;
  submitWriteBacks(log, CryptCollect.all, handle);
  // A write-back may fail in the AES worker too (ENOSPC while writing the ciphertext): drained first.
  for (const end = Date.now() + EXIT_RETRY_MS; ; ) {
    drainWriteBacks(EXIT_WAIT_MS);
    if (native.cryptBuffers().retrying === 0 || Date.now() >= end) break;
    Atomics.wait(pause, 0, 0, 20);
    submitWriteBacks(log, CryptCollect.all, handle);
  }
  if (!drainWriteBacks(EXIT_WAIT_MS)) log.error({ ctx: 'crypt', op: 'wait_aes', pending: native.aesPending() }, 'crypt write-backs still pending: written before the AES worker is joined');
  if (ownsAes) stopAes(log);
  ownsAes = false;
  // Every entry of this key is dropped (its plaintext freed; the key's number may be reused).
  submitWriteBacks(log, CryptCollect.all, handle);
  submitWriteBacks(log, CryptCollect.forget, handle);
  log.debug({ ctx: 'crypt', op: 'wait_aes', ...native.cryptBuffers() }, 'crypt write-backs done');
  if (lost.length > 0) throw new Error(`the content written to ${lost.length} crypt file(s) was lost: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}`);
}

/**
 * Waits up to `timeoutMs` until every write-back collected has landed: first those another thread
 * collected and is handing on (a rename must not move a file whose write-back is in that gap: git's
 * objects were left 0 bytes, their content written back under the tmp_obj name), then the queue.
 */
export function drainWriteBacks(timeoutMs: number): boolean {
  const end = Date.now() + timeoutMs;
  while (native.cryptHanded() > 0) {
    if (Date.now() >= end) return false;
    Atomics.wait(pause, 0, 0, 1);
  }
  return drainAes(Math.max(0, end - Date.now()));
}
