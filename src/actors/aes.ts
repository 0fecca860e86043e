// The AES worker (tsyd_aes): a native thread (addon/aes.cc), no isolate, one per sandbox (the
// monitor's fd table). It writes crypt files back: encrypt the plaintext buffer into an
// O_TMPFILE beside the file, fsync, link under a temporary name, rename onto the file (the
// commit point: a crash leaves the whole old or the whole new content). It blocks every signal
// and confines itself with its own filter (src/confine/thread-filters.ts: no open, no socket,
// no exec) before aesStart returns; at exit the monitor stops it, which writes every queued job
// before the thread is joined: no write-back is lost.
import { constants } from 'node:os';
import type { TsydLogger } from '../log.js';
import { native, type AesEvent, type AesReport, type AesStartOptions } from '../native/addon.js';
import { INVALID_FILTER } from './interrupter.js';

/** Test only (TSYD_FAULT=slow-aes): how late each write-back starts — longer than the owner's stop timeout (5 s). */
export const SLOW_AES_MS = 6000;

/** aesStart's options for `filter` under the test fault `fault` (fail-aes-confine: a filter the kernel refuses; slow-aes). */
export function aesStartOptions(filter: Uint8Array | undefined, fault?: string): AesStartOptions {
  return { filter: fault === 'fail-aes-confine' ? INVALID_FILTER : filter, ...(fault === 'slow-aes' ? { slowJobMs: SLOW_AES_MS } : {}) };
}

/**
 * Starts tsyd_aes with `filter` (absent: unconfined, TSYD_SKIP_SCMP): '' once it runs confined,
 * else why it did not start.
 */
export function startAes(log: TsydLogger, filter: Uint8Array | undefined, fault?: string): string {
  const rc = native.aesStart(aesStartOptions(filter, fault));
  if (rc === 0) {
    log.info({ ctx: 'boot', op: 'start_aes_thread', confined: filter !== undefined }, 'AES worker is up');
    return '';
  }
  const why = rc === -constants.errno.EBUSY ? 'one runs already for this fd table' : `its seccomp filter failed to load (errno ${-rc})`;
  log.alert({ ctx: 'boot', op: 'aes_failed', err: -rc, msg: `failed to start the AES worker: ${why}` });
  return why;
}

/** The errnos of a write-back that is kept and retried (addon/crypt-files.cc Transient). */
const { EMFILE, ENFILE, ENOMEM, ENOSPC, EDQUOT, EAGAIN, EINTR } = constants.errno;
export const PASSING_WANTS = new Set([EMFILE, ENFILE, ENOMEM, ENOSPC, EDQUOT, EAGAIN, EINTR]);

/** Logs what tsyd_aes did since the last call (the thread has no logger of its own). */
export function logAesEvents(log: TsydLogger, report: AesReport | undefined = native.aesEvents()): void {
  for (const e of report?.events ?? []) logEvent(log, e);
  if (report && report.dropped > 0) log.warn({ ctx: 'crypt', op: 'aes_events_not_recorded', dropped: report.dropped }, 'more AES worker events, not recorded one by one');
}

function logEvent(log: TsydLogger, e: AesEvent): void {
  switch (e.op) {
    case 'written':
      log.debug({ ctx: 'crypt', op: 'write_back', job: e.id, name: e.name, bytes: e.bytes }, 'crypt file written back');
      return;
    case 'failed':
      if (e.stage !== 'fsync_dir' && PASSING_WANTS.has(e.errno)) {
        // Kept and retried (addon/crypt-files.cc); what never lands gets its own error record.
        log.debug({ ctx: 'crypt', op: 'write_back_retry', job: e.id, name: e.name, err: e.errno, stage: e.stage }, 'crypt write-back failed for a passing want: retried');
        return;
      }
      // After the rename (fsync_dir) the new content is in place, its durability unsure.
      log.error(
        { ctx: 'crypt', op: 'write_back_failed', job: e.id, name: e.name, err: e.errno, stage: e.stage },
        e.stage === 'fsync_dir' ? 'crypt file written back, but its directory could not be synced' : 'crypt file not written back: the old content stays',
      );
      return;
    case 'probe':
      log.debug({ ctx: 'crypt', op: 'aes_probe', open_errno: e.openErrno, socket_errno: e.socketErrno }, 'AES worker probe');
  }
}

/** Waits up to `timeoutMs` until no more than `atMost` write-backs are queued or running (default: none left), holding no more than `atMostBytes` of plaintext (or only the running one is left): true once so. */
export function drainAes(timeoutMs: number, atMost = 0, atMostBytes?: number): boolean {
  return atMostBytes === undefined ? native.aesDrain(timeoutMs, atMost) : native.aesDrain(timeoutMs, atMost, atMostBytes);
}

/** Writes every queued job, then joins tsyd_aes (a no-op when none runs), logging its last events. */
export function stopAes(log: TsydLogger): void {
  const report = native.aesStop();
  if (report === undefined) return;
  logAesEvents(log, report);
  log.debug({ ctx: 'boot', op: 'exit_aes_thread' }, 'AES worker joined');
}
