// The IPC socket's address as the kernel sees it: exactly the bytes of the policy's byte string
// (ipc:PATH, or ipc:@NAME given as a NUL and the name), never re-encoded: the name tsyd listens
// on, stats and guards is the name the rule gave (a non-ASCII name included). And the socket
// file's mode and removal.
import { lstatSync, unlinkSync } from 'node:fs';

/** The owner alone may connect; ipc/uid:N of another uid is given the file (chown: see README). */
export const IPC_SOCKET_MODE = 0o600;

/** The bytes libuv and the kernel get for `address` (`/path` or `@name`, a byte string). */
export function addressBytes(address: string): Buffer {
  return Buffer.from(address.startsWith('@') ? `\0${address.slice(1)}` : address, 'latin1');
}

/** Removes the socket file at `address` if it is still the one tsyd bound (dev, ino); never another file. */
export function removeSocketFile(address: string, dev: bigint, ino: bigint): void {
  const path = addressBytes(address);
  const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  if (st === undefined || !st.isSocket() || st.dev !== dev || st.ino !== ino) return;
  try {
    unlinkSync(path);
  } catch {
    // Gone meanwhile: nothing to remove.
  }
}
