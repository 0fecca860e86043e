// The machines' current states, where the IPC worker can read them (`stat`): each machine's
// owner writes its state value (JSON) into its own slot of a SharedArrayBuffer on every
// transition (a handful per run); the reader copies a slot under its small lock.
const MACHINES = ['boot', 'sandbox', 'monitor'] as const;
export type BoardMachine = (typeof MACHINES)[number];

const SLOT_BYTES = 256;
/** Per slot: lock word, length word, then the text. */
const SLOT_HEADER = 8;
const TEXT_MAX = SLOT_BYTES - SLOT_HEADER;

export class StateBoard {
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  static create(): StateBoard {
    return new StateBoard(new SharedArrayBuffer(SLOT_BYTES * MACHINES.length));
  }

  /** Writes `value` (a state value: a string or nested object) as the machine's current state. */
  set(machine: BoardMachine, value: unknown): void {
    const at = MACHINES.indexOf(machine) * SLOT_BYTES;
    let text = Buffer.from(JSON.stringify(value));
    // A value too long to keep whole is kept as its top level state only.
    if (text.length > TEXT_MAX) text = Buffer.from(JSON.stringify(typeof value === 'object' && value !== null ? Object.keys(value)[0] ?? null : null));
    this.locked(at, () => {
      this.bytes.set(text.subarray(0, TEXT_MAX), at + SLOT_HEADER);
      Atomics.store(this.words, at / 4 + 1, Math.min(text.length, TEXT_MAX));
    });
  }

  /** Every machine written so far, with its state value. */
  read(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    MACHINES.forEach((name, i) => {
      const at = i * SLOT_BYTES;
      const text = this.locked(at, () => Buffer.from(this.bytes.subarray(at + SLOT_HEADER, at + SLOT_HEADER + Atomics.load(this.words, at / 4 + 1))).toString());
      if (text !== '') out[name] = JSON.parse(text) as unknown;
    });
    return out;
  }

  private locked<T>(at: number, fn: () => T): T {
    const w = at / 4;
    while (Atomics.compareExchange(this.words, w, 0, 1) !== 0);
    try {
      return fn();
    } finally {
      Atomics.store(this.words, w, 0);
    }
  }
}
