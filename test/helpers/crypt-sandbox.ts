// Runs programs under tsyd with Crypt sandboxing on a temp directory, and reads crypt files back
// outside tsyd (the addon's cipher) for the tests of test/crypt/sandbox*.test.ts.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { native } from '../../src/native/addon.js';
import { fixture } from './fixtures.js';
import { runTsyd, type RunOptions, type RunResult } from './tsyd.js';

export const KEY = '5a'.repeat(32);
export const OTHER_KEY = 'a5'.repeat(32);

/** The rules that encrypt every file below `dir` with `key`. */
export function cryptPolicy(dir: string, key = KEY): string[] {
  return ['sandbox/crypt:on', `crypt+${dir}/**`, `crypt/key:${key}`];
}

/** cryptPolicy() as `tsyd run` arguments, on the empty profile `off`. */
export function cryptRules(dir: string, key = KEY): string[] {
  return ['-p', 'off', ...cryptPolicy(dir, key).flatMap((rule) => ['-m', rule])];
}

/** `cryptio OP ARGS` under tsyd with Crypt on below `dir`. */
export function cryptio(dir: string, args: string[], opts: RunOptions & { key?: string; extra?: string[] } = {}): Promise<RunResult> {
  return runTsyd(['run', ...cryptRules(dir, opts.key), ...(opts.extra ?? []), '--', fixture('cryptio'), ...args], opts);
}

/** The plaintext of crypt file `path` (decrypted here), or -errno (-EBADMSG: it does not verify). */
export function decryptFile(path: string, key = KEY): Buffer | number {
  const handle = native.cryptKeyLoad(Buffer.from(key, 'hex'));
  if (handle < 0) throw new Error(`cryptKeyLoad: ${handle}`);
  const src = openSync(path, 'r');
  const dst = openSync('/tmp', 0o20200002); // O_TMPFILE | O_RDWR
  try {
    const n = native.cryptDecrypt(handle, src, dst);
    if (n < 0) return n;
    return readFileSync(`/proc/self/fd/${dst}`);
  } finally {
    closeSync(src);
    closeSync(dst);
    native.cryptKeyDrop(handle);
  }
}
