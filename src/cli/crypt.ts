// `tsyd crypt encrypt|decrypt [--key HEX | --key-env NAME] < IN > OUT`: the crypt file format
// outside a sandbox (recovery, backups, tests). Exit 0; 1 when the input does not verify or
// the copy fails, with a message; nothing of an unverified plaintext reaches OUT.
import { closeSync, fstatSync } from 'node:fs';
import { constants } from 'node:os';
import { errnoName, errnoText, UsageError } from '../errors.js';
import type { CryptCommand } from './crypt-args.js';
import { keyFromHex } from '../crypt/format.js';
import { native } from '../native/addon.js';

export const EXIT_CRYPT_FAILED = 1;
const STDIN = 0;
const STDOUT = 1;

/** The key's bytes. SAFETY: no message quotes the key or the variable's value. */
function keyBytes(key: CryptCommand['key']): Buffer {
  if ('hex' in key) {
    const k = keyFromHex(key.hex);
    if (!k) throw new UsageError('crypt: --key must be 64 hex digits (256 bits)');
    return k;
  }
  const value = process.env[key.env];
  if (value === undefined) throw new UsageError(`crypt: --key-env ${key.env}: no such environment variable`);
  const k = keyFromHex(value.trim());
  if (!k) throw new UsageError(`crypt: --key-env ${key.env}: its value must be 64 hex digits (256 bits)`);
  return k;
}

/** A failure of the command itself (exit 1), as opposed to a usage error (125). */
class CryptFailure extends Error {}

/** `rc` when ≥ 0; else a failure that names `what` and the errno. */
function check(rc: number, what: string): number {
  if (rc >= 0) return rc;
  throw new CryptFailure(`${what}: ${errnoText(-rc)} (${errnoName(-rc)})`);
}

function memfd(): number {
  return check(native.cryptMemfd(), 'memfd_create');
}

/** A file the cipher can pread from 0: stdin itself when it is a regular file, else a memfd copy of it. */
function readableInput(): number {
  if (fstatSync(STDIN).isFile()) return STDIN;
  const fd = memfd();
  check(native.cryptCopy(STDIN, fd), 'reading stdin');
  return fd;
}

/** Runs the command: the exit status. */
export function runCrypt(cmd: CryptCommand): number {
  const key = keyBytes(cmd.key);
  const handle = native.cryptKeyLoad(key); // wipes `key`
  if (handle < 0) {
    // mlock of the key's page: EPERM (RLIMIT_MEMLOCK 0), ENOMEM (the limit reached).
    const why = handle === -constants.errno.EPERM || handle === -constants.errno.ENOMEM ? ' (its memory page could not be locked: see ulimit -l)' : '';
    throw new UsageError(`crypt: the key could not be loaded: ${errnoText(-handle)} (${errnoName(-handle)})${why}`);
  }
  const fds: number[] = [];
  try {
    const input = readableInput();
    if (input !== STDIN) fds.push(input);
    if (cmd.op === 'encrypt') encrypt(handle, input, fds);
    else decrypt(handle, input, fds);
    return 0;
  } catch (err) {
    if (!(err instanceof CryptFailure)) throw err;
    process.stderr.write(`tsyd: crypt ${cmd.op}: ${err.message}\n`);
    return EXIT_CRYPT_FAILED;
  } finally {
    for (const fd of fds) closeSync(fd);
    native.cryptKeyDrop(handle);
  }
}

function encrypt(handle: number, input: number, fds: number[]): void {
  const out = memfd();
  fds.push(out);
  check(native.cryptEncrypt(handle, input, out), 'encrypting');
  check(native.cryptCopy(out, STDOUT), 'writing stdout');
}

/**
 * SAFETY: the plaintext goes to a memfd first and reaches stdout only once its tag verified; a
 * file that does not verify writes nothing to stdout (a `> OUT` stays empty).
 */
function decrypt(handle: number, input: number, fds: number[]): void {
  const out = memfd();
  fds.push(out);
  const rc = native.cryptDecrypt(handle, input, out);
  if (rc === -constants.errno.EBADMSG) {
    throw new CryptFailure('the input is not a crypt file for this key, or it was changed or truncated (its tag does not verify): nothing written');
  }
  check(rc, 'decrypting');
  check(native.cryptCopy(out, STDOUT), 'writing stdout');
}
