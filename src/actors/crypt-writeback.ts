// Crypt sandboxing's write-backs: the buffers whose last writer went (addon/crypt-files.cc) go to
// the AES worker, which encrypts each beside its file and renames it onto the name. Called by the
// emulators after a crypt open, by the monitor in its loop, and at exit with `all`.
import { native, type CryptWriteBack } from '../native/addon.js';
import type { TsydLogger } from '../log.js';

/** The AES worker's part of the addon (cryptcore: addon/aes*.cc), while it may not be built. */
interface AesWorker {
  aesSubmit?(job: CryptWriteBack): number;
  aesPending?(): number;
  aesDrain?(timeoutMs: number): boolean;
}
const aes = native as unknown as AesWorker;

/** True once the monitor started the AES worker for this process (actors/aes.ts). */
let aesRunning = false;
export function setAesRunning(on: boolean): void {
  aesRunning = on;
}

/**
 * Hands every ready write-back to the AES worker (or, with none running, writes it back on this
 * thread). `all`: the program has ended: every buffer still live is written back as it is.
 * Returns how many were handed on. SAFETY: a job that could not be made (no O_TMPFILE beside the
 * file) drops that buffer: the file keeps its whole old content; an error record says so.
 */
export function submitWriteBacks(log: TsydLogger, all = false): number {
  const jobs = native.cryptCollect(all);
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
