// Every IPC socket of this process (one per sandbox with ipc:), shared by all its threads: a
// program is refused each of them, not only its own sandbox's (two sandboxes of one library
// process, same uid: A's program could otherwise control B). A SharedArrayBuffer made once by
// the main thread; each monitor adds its sandbox's socket once tsyd_ipc listens and removes it
// at the sandbox's exit; the emulators read it when its generation changes.
import type { IpcGuard } from './thread-config.js';

const GENERATION = 0;
const MUTEX = 1;
const HEADER = 16;
/** Sockets at once (sandboxes with ipc: in one process); a sandbox past this does not start its socket. */
export const MAX_IPC_SOCKETS = 256;
/** Per entry: kind (0 free, 1 path, 2 abstract), name length, dev, ino, the abstract name's bytes (`@` and up to 106). */
const ENTRY = 24 + 112;
const FREE = 0;
const PATH = 1;
const ABSTRACT = 2;

let processSockets: SharedArrayBuffer | undefined;

/** The process's registry (main thread: made on first use). */
export function processIpcSockets(): SharedArrayBuffer {
  processSockets ??= new SharedArrayBuffer(HEADER + MAX_IPC_SOCKETS * ENTRY);
  return processSockets;
}

export class IpcSockets {
  private readonly words: Int32Array;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private seen = -1;
  private cached: IpcGuard[] = [];

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  /** Changes so far: a reader whose copy is of an older generation reads again. */
  get generation(): number {
    return Atomics.load(this.words, GENERATION);
  }

  /** Adds `guard`: its entry's index, or -1 when every entry is taken. */
  add(guard: IpcGuard): number {
    return this.locked(() => {
      for (let i = 0; i < MAX_IPC_SOCKETS; i++) {
        const at = HEADER + i * ENTRY;
        if (this.view.getInt32(at, true) !== FREE) continue;
        if (guard.abstract !== undefined) {
          const name = Buffer.from(guard.abstract, 'latin1');
          this.bytes.set(name.subarray(0, 112), at + 24);
          this.view.setInt32(at + 4, Math.min(name.length, 112), true);
          this.view.setInt32(at, ABSTRACT, true);
        } else {
          this.view.setBigUint64(at + 8, guard.dev ?? 0n, true);
          this.view.setBigUint64(at + 16, guard.ino ?? 0n, true);
          this.view.setInt32(at, PATH, true);
        }
        return i;
      }
      return -1;
    });
  }

  remove(index: number): void {
    if (index < 0) return;
    this.locked(() => this.view.setInt32(HEADER + index * ENTRY, FREE, true));
  }

  /** Every socket registered now (cached until the next change). */
  list(): IpcGuard[] {
    if (this.generation === this.seen) return this.cached;
    return this.locked(() => {
      const out: IpcGuard[] = [];
      for (let i = 0; i < MAX_IPC_SOCKETS; i++) {
        const at = HEADER + i * ENTRY;
        const kind = this.view.getInt32(at, true);
        if (kind === PATH) out.push({ dev: this.view.getBigUint64(at + 8, true), ino: this.view.getBigUint64(at + 16, true) });
        else if (kind === ABSTRACT) out.push({ abstract: Buffer.from(this.bytes.subarray(at + 24, at + 24 + this.view.getInt32(at + 4, true))).toString('latin1') });
      }
      this.cached = out;
      this.seen = Atomics.load(this.words, GENERATION);
      return out;
    }, false);
  }

  private locked<T>(fn: () => T, changes = true): T {
    while (Atomics.compareExchange(this.words, MUTEX, 0, 1) !== 0) Atomics.wait(this.words, MUTEX, 1, 10);
    try {
      return fn();
    } finally {
      if (changes) Atomics.add(this.words, GENERATION, 1);
      Atomics.store(this.words, MUTEX, 0);
      Atomics.notify(this.words, MUTEX, 1);
    }
  }
}
