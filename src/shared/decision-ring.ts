// Decisions (denials, and in learning mode every access) on their way from the emulators to the
// sandbox's owner, through a ring of fixed size in shared memory: a flood of denials costs
// constant memory. (A BroadcastChannel, used before, queued every message in every emulator
// too — their event loops never run — and grew tsyd's memory by ~80 MiB/s under denied opens.)
// Emulators write under a small spin lock; the owner's thread reads. When the ring is full a
// denial is counted and dropped (every denial is in the log all the same); a recorded access
// (learning) waits for room instead: nothing of a learned run may be lost.

const W = {
  /** 0 free, 1 held by a writer. */
  lock: 0,
  /** Byte offset where the next record goes. */
  head: 1,
  /** Byte offset of the oldest unread record. */
  tail: 2,
  /** Bytes between tail and head, padding included. */
  used: 3,
  /** Records dropped because the ring was full. */
  dropped: 4,
  /** Bumped for every record written: the reader waits on it. */
  written: 5,
  /** Bumped for every drain: a writer waiting for room waits on it. */
  drained: 6,
  /** Denials so far (countViolation), dropped ones included. */
  violations: 7,
} as const;
const HEADER = 64;
/** A record that would cross the end of the ring starts again at 0; this length says so. */
const WRAP = 0xffffffff;
const enc = new TextEncoder();
const dec = new TextDecoder();

export const DEFAULT_RING_BYTES = 1 << 20;

export class DecisionRing {
  private readonly words: Int32Array;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly capacity: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, HEADER / 4);
    this.capacity = buffer.byteLength - HEADER;
    this.data = new Uint8Array(buffer, HEADER, this.capacity);
    this.view = new DataView(buffer, HEADER, this.capacity);
  }

  static create(bytes = DEFAULT_RING_BYTES): DecisionRing {
    return new DecisionRing(new SharedArrayBuffer(HEADER + bytes));
  }

  /** Records dropped so far because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.words, W.dropped);
  }

  /** Counts one denial (the IPC worker's `stat` reads the count). */
  countViolation(): void {
    Atomics.add(this.words, W.violations, 1);
  }

  /** Denials counted so far. */
  get violations(): number {
    return Atomics.load(this.words, W.violations);
  }

  private lock(): void {
    while (Atomics.compareExchange(this.words, W.lock, 0, 1) !== 0) {
      // Held for a copy of one record: wait a moment rather than spin hot.
      Atomics.wait(this.words, W.lock, 1, 1);
    }
  }

  private unlock(): void {
    Atomics.store(this.words, W.lock, 0);
    Atomics.notify(this.words, W.lock, 1);
  }

  /**
   * Writes one record. Returns false when it was dropped (the ring full and `wait` false).
   * With `wait`, blocks until the reader has made room (at most `waitMs` in all, then drops).
   */
  push(json: string, wait = false, waitMs = 5000): boolean {
    const bytes = enc.encode(json);
    const need = 4 + ((bytes.length + 3) & ~3);
    if (need > this.capacity / 2) return this.drop();
    const deadline = wait ? Date.now() + waitMs : 0;
    for (;;) {
      this.lock();
      const head = this.words[W.head]!;
      const pad = head + need > this.capacity ? this.capacity - head : 0;
      if (this.words[W.used]! + pad + need <= this.capacity) {
        let at = head;
        if (pad > 0) {
          if (pad >= 4) this.view.setUint32(at, WRAP, true);
          at = 0;
        }
        this.view.setUint32(at, bytes.length, true);
        this.data.set(bytes, at + 4);
        this.words[W.head] = (at + need) % this.capacity;
        this.words[W.used] = this.words[W.used]! + pad + need;
        this.unlock();
        Atomics.add(this.words, W.written, 1);
        Atomics.notify(this.words, W.written);
        return true;
      }
      const drained = Atomics.load(this.words, W.drained);
      this.unlock();
      if (!wait || Date.now() >= deadline) return this.drop();
      Atomics.wait(this.words, W.drained, drained, Math.max(1, deadline - Date.now()));
    }
  }

  private drop(): false {
    Atomics.add(this.words, W.dropped, 1);
    return false;
  }

  /** Reads every record written so far (the reader's thread only). */
  drain(each: (json: string) => void): number {
    this.lock();
    let tail = this.words[W.tail]!;
    const used = this.words[W.used]!;
    this.unlock();
    // Writers never touch [tail, tail + used): read it without the lock.
    let consumed = 0;
    let n = 0;
    const texts: string[] = [];
    while (consumed < used) {
      const room = this.capacity - tail;
      const len = room >= 4 ? this.view.getUint32(tail, true) : WRAP;
      if (len === WRAP) {
        consumed += room;
        tail = 0;
        continue;
      }
      const need = 4 + ((len + 3) & ~3);
      texts.push(dec.decode(this.data.slice(tail + 4, tail + 4 + len)));
      consumed += need;
      tail = (tail + need) % this.capacity;
      n++;
    }
    this.lock();
    this.words[W.tail] = tail;
    this.words[W.used] = this.words[W.used]! - consumed;
    this.unlock();
    Atomics.add(this.words, W.drained, 1);
    Atomics.notify(this.words, W.drained);
    for (const t of texts) each(t);
    return n;
  }

  /** Resolves when a record may have been written since `seen` (or after `ms`). */
  async written(seen: number, ms: number): Promise<number> {
    const r = Atomics.waitAsync(this.words, W.written, seen, ms);
    if (r.async) await r.value;
    return Atomics.load(this.words, W.written);
  }

  /** Wakes a reader waiting in written() (the sandbox is ending). */
  wake(): void {
    Atomics.notify(this.words, W.written);
  }

  get writes(): number {
    return Atomics.load(this.words, W.written);
  }
}
