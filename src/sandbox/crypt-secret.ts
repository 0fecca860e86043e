// A key's bytes, kept out of sight. SAFETY: a CryptKey shows as `[crypt key]` in a log, JSON or
// inspection (a rule statement, a policy, a sandbox's configuration), never its bytes; the copy
// handed to the addon is wiped there (cryptKeyLoad).
import { inspect } from 'node:util';

export class CryptKey {
  #bytes: Buffer | undefined;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** A copy of the bytes (a rule's key serves every sandbox of its policy). */
  copy(): Buffer {
    const b = this.#bytes;
    if (b === undefined) throw new Error('the crypt key was taken already');
    return Buffer.from(b);
  }

  /** The bytes, once: the caller hands them to cryptKeyLoad, which wipes them. */
  take(): Buffer {
    const b = this.#bytes;
    if (b === undefined) throw new Error('the crypt key was taken already');
    this.#bytes = undefined;
    return b;
  }

  toJSON(): string {
    return '[crypt key]';
  }

  [inspect.custom](): string {
    return '[crypt key]';
  }
}
