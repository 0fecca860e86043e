// What the program's calls do to crypt files (Crypt sandboxing, README "Crypt sandboxing"):
// opens get a plaintext buffer (addon/crypt-files.cc); the calls that would hand out or change
// the ciphertext on disk by name are refused (fail closed).
import { constants as os } from 'node:os';
import { native } from '../native/addon.js';
import { fromBytes } from '../sandbox/bytes.js';
import { submitWriteBacks } from '../actors/crypt-writeback.js';
import type { EmulatorContext } from './context.js';

const { EACCES, EBADMSG, ESRCH } = os.errno;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;

/** Is `path` (canonical) a crypt file? Only while Crypt is on. */
export function isCryptPath(ctx: EmulatorContext, path: string): boolean {
  return ctx.policy.crypt.on && ctx.policy.crypt.encrypts(path);
}

/** Is the directory `dir`, or a file directly in it, a crypt path? (O_TMPFILE: its file may get any name there.) */
export function cryptDirectory(ctx: EmulatorContext, dir: string): boolean {
  return isCryptPath(ctx, dir) || isCryptPath(ctx, `${dir === '/' ? '' : dir}/x`);
}

/**
 * Opens the checked crypt file `path` for the program (its plaintext buffer), after the policy
 * allowed the open. True when answered; false: not a regular file, open it as any other.
 * O_PATH gets a read-only snapshot of the plaintext, as a reader (SAFETY: never the ciphertext).
 */
export function openCryptFile(ctx: EmulatorContext, sys: string, path: string, flags: number, mode: number): boolean {
  const crypt = ctx.crypt;
  // SAFETY: Crypt on without a key's handle here (a caller's bug): no plaintext, no ciphertext.
  if (crypt === undefined) {
    ctx.req.fail(EACCES);
    return true;
  }
  if (flags & O_PATH) flags = flags & O_CLOEXEC;
  const r = native.cryptOpenInject(crypt.handle, flags, mode, crypt.tmp);
  if (r === native.CRYPT_NOT_REGULAR) return false;
  if (r === -EBADMSG) {
    const name = fromBytes(path);
    ctx.log.warn({ ctx: 'crypt', op: 'decrypt', sys, path: name, pid: ctx.req.pid, err: EBADMSG }, `the crypt file ${name} does not verify (tampered, truncated or another key): EBADMSG`);
  }
  if (r !== -ESRCH) submitWriteBacks(ctx.log);
  return true;
}
