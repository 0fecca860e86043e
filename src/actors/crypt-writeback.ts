// Crypt sandboxing's write-backs: the buffers whose last writer went (addon/crypt-files.cc) go to
// the AES worker, which encrypts each beside its file and renames it onto the name. Called by the
// emulators after a crypt open, by the monitor in its loop, and at exit with `all`.
import { CryptCollect, native, type CryptWriteBack } from '../native/addon.js';
import type { TsydLogger } from '../log.js';

/** The AES worker's part of the addon (cryptcore: addon/aes*.cc), while it may not be built. */
interface AesWorker {
  aesStart?(): number;
  aesSubmit?(job: CryptWriteBack): number;
  aesPending?(): number;
  aesDrain?(timeoutMs: number): boolean;
  aesStop?(): void;
}
const aes = native as unknown as AesWorker;

/** True once the monitor started the AES worker for this process (actors/aes.ts). */
let aesRunning = false;
export function setAesRunning(on: boolean): void {
  aesRunning = on;
}

/**
 * Hands every ready write-back to the AES worker (or, with none running, writes it back on this
 * thread). `how`: CryptCollect (the monitor's loop also frees idle snapshots; at the end every
 * buffer still live is written back as it is). Returns how many were handed on. SAFETY: a job
 * that could not be made (no O_TMPFILE beside the file) drops that buffer: the file keeps its
 * whole old content; an error record says so.
 */
export function submitWriteBacks(log: TsydLogger, how: number = CryptCollect.due): number {
  const jobs = native.cryptCollect(how);
  let n = 0;
  for (const job of jobs) {
    if (job.err !== undefined) {
      log.error({ ctx: 'crypt', op: 'write_back', name: job.name, err: job.err }, `cannot write back the crypt file ${job.name}: it keeps its old content`);
      continue;
    }
    const r = aesRunning && aes.aesSubmit ? aes.aesSubmit(job) : native.cryptWriteBackNow(job);
    if (r < 0) log.error({ ctx: 'crypt', op: 'write_back', name: job.name, err: -r }, `the write-back of the crypt file ${job.name} failed: it keeps its old content`);
    else n++;
  }
  return n;
}

/** Waits until the AES worker has written back every job (true), or `timeoutMs` passed (false). */
export function drainWriteBacks(timeoutMs: number): boolean {
  if (!aesRunning || !aes.aesDrain) return true;
  return aes.aesDrain(timeoutMs);
}

/** How long the exit waits for the write-backs (a 256 MiB file takes seconds on this machine kind). */
const EXIT_WAIT_MS = 10 * 60_000;

/**
 * The monitor's startingAes: starts the AES worker (tsyd_aes). Throws when it cannot (critical:
 * the sandbox must not run with files it could not encrypt). Without an AES worker in this
 * build, write-backs run on the thread that collects them (an info record says so).
 */
export function startAesWorker(log: TsydLogger, fault?: string): void {
  if (!aes.aesStart) {
    log.info({ ctx: 'crypt', op: 'start_aes_thread' }, 'no AES worker in this build: crypt files are written back by the emulator and monitor threads');
    return;
  }
  const r = aes.aesStart();
  if (r < 0) {
    log.alert({ ctx: 'crypt', op: 'start_aes_thread', err: -r, msg: `failed to start the AES worker (${fault ?? 'errno'})` });
    throw Object.assign(new Error(`cannot start the AES worker: errno ${-r}`), { errno: -r });
  }
  aesRunning = true;
  log.info({ ctx: 'crypt', op: 'start_aes_thread' }, 'AES worker is up');
}

/**
 * The monitor's waitingAes, once the program has ended: every buffer still held goes to the AES
 * worker; waits until each is written back, then joins the worker. SAFETY: no encryption is lost
 * (the reference pool joins its AES thread at exit).
 */
export function finishWriteBacks(log: TsydLogger): void {
  submitWriteBacks(log, CryptCollect.all);
  if (!drainWriteBacks(EXIT_WAIT_MS)) log.error({ ctx: 'crypt', op: 'wait_aes', pending: aes.aesPending?.() }, 'crypt write-backs still pending at exit');
  if (aesRunning) aes.aesStop?.();
  aesRunning = false;
  // The entries written back are dropped (their plaintext freed).
  submitWriteBacks(log, CryptCollect.all);
  const left = native.cryptBuffers();
  log.debug({ ctx: 'crypt', op: 'wait_aes', ...left }, 'crypt write-backs done');
}
