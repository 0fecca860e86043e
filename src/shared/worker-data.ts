// The supervisor's shared words (one SharedArrayBuffer seen by every supervisor thread):
// the packed emulator counts, the exit and lock flags, thread ids, and one slot per emulator.
//
// `curr` (emulators alive or starting) and `busy` (emulators handling a request right now)
// live in ONE Int32 word, curr in the high 16 bits and busy in the low 16, so the monitor
// reads both with a single atomic load and emulators change them with single atomic adds.
import type { EmulatorKind } from '../machines/emulator.machine.js';
import { Slot, SLOT_KIND_CORE, SLOT_KIND_HELPER, SLOT_WORDS } from './slot.js';

/**
 * Control words. The counts word sits alone on its cache line: emulators add to it on every
 * request, while idle emulators (woken together by each notification) read the flags; sharing
 * a line made every request bounce it between CPUs (one of the suspects of the hot-path regression, see bench/RESULTS.md).
 */
export const Ctl = {
  counts: 0,
  shouldExit: 16,
  locked: 17,
  monitorTid: 18,
  interrupterTid: 19,
  /** How many entries the job table has (set once at create). */
  maxJobs: 20,
  /** Bumped (and Atomics.notify'd) when the monitor should look again: pool exhausted, emulator died, exit. */
  wake: 32,
  /** 1 while the monitor waits and wants to hear of exhaustion; the first emulator to tell clears it. */
  monitorWaiting: 33,
  /** The emulator states (bit = state code) seen in slots since released: what the inspector reports as visited. */
  visited: 34,
  /** tsyd agent: 1 once a call came from the container's program (src/agent/runtime-phase.ts). */
  programStarted: 40,
  /** tsyd agent: the second of the denial records being counted, their count, the denials not logged (src/agent/denial-budget.ts). */
  deniedSecond: 41,
  deniedInSecond: 42,
  deniedNotLogged: 43,
  words: 48,
} as const;

/** A slot's state word: 0 while the slot is free, else a state code of the emulator machine (src/shared/emulator-states.ts). */
export const SLOT_FREE = 0;

/**
 * The job table: one entry per call that a native job thread performs for the program (a FIFO
 * open, a blocking connect: addon/offload.cc), JOB_WORDS words each. At most maxJobs (default
 * DEFAULT_MAX_JOBS) block at once; the next such call is answered EAGAIN.
 */
export const DEFAULT_MAX_JOBS = 1024;
export const JOB_WORDS = 8;
/**
 * kib: what the job holds of the program's data (a waiting send's copy), at most 64 MiB over the
 * table. restart: the seq of the job the interrupter cut short for a restart (EINTR is answered
 * -ERESTARTSYS).
 */
export const Job = { state: 0, tid: 1, caller: 2, idLo: 3, idHi: 4, seq: 5, kib: 6, restart: 7 } as const;
export const JobState = { free: 0, starting: 1, running: 2, blocking: 3 } as const;

export const MAX_COUNT = 0x7fff;
const BUSY_MASK = 0xffff;

export function split(word: number): { curr: number; busy: number } {
  return { curr: word >>> 16, busy: word & BUSY_MASK };
}

export class WorkerData {
  readonly ctl: Int32Array;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly maxEmulators: number,
  ) {
    this.ctl = new Int32Array(buffer);
  }

  static create(maxEmulators: number, maxJobs = DEFAULT_MAX_JOBS): WorkerData {
    if (maxEmulators < 1 || maxEmulators > MAX_COUNT) throw new RangeError(`emulator maximum must be 1..${MAX_COUNT}`);
    const words = Ctl.words + SLOT_WORDS * maxEmulators + JOB_WORDS * maxJobs;
    const wd = new WorkerData(new SharedArrayBuffer(4 * words), maxEmulators);
    Atomics.store(wd.ctl, Ctl.maxJobs, maxJobs);
    return wd;
  }

  /** How many calls may block on job threads at once. */
  get maxJobs(): number {
    return Atomics.load(this.ctl, Ctl.maxJobs);
  }

  /** curr and busy from one atomic load. */
  counts(): { curr: number; busy: number } {
    return split(Atomics.load(this.ctl, Ctl.counts));
  }

  addCurr(n: number): number {
    return Atomics.add(this.ctl, Ctl.counts, n << 16) + (n << 16);
  }

  /** Adds to busy; returns the new packed word. */
  addBusy(n: number): number {
    return Atomics.add(this.ctl, Ctl.counts, n) + n;
  }

  wake(): void {
    Atomics.add(this.ctl, Ctl.wake, 1);
    Atomics.notify(this.ctl, Ctl.wake);
  }

  /**
   * From the hot path: every emulator looks busy. Wakes the monitor at most once per wait of
   * its (so a burst of requests does not keep it spinning).
   */
  tellExhausted(): void {
    if (Atomics.compareExchange(this.ctl, Ctl.monitorWaiting, 1, 0) === 1) this.wake();
  }

  get shouldExit(): boolean {
    return Atomics.load(this.ctl, Ctl.shouldExit) !== 0;
  }

  get locked(): boolean {
    return Atomics.load(this.ctl, Ctl.locked) !== 0;
  }

  /** Locks the policy for good (supervisor threads confine themselves on their next turn). */
  lock(): void {
    Atomics.store(this.ctl, Ctl.locked, 1);
  }

  /** The Int32 view of emulator slot `i` (what bindBuffers gets: the addon writes the request there). */
  slot(i: number): Int32Array {
    if (i < 0 || i >= this.maxEmulators) throw new RangeError(`no emulator slot ${i}`);
    return new Int32Array(this.buffer, 4 * (Ctl.words + SLOT_WORDS * i), SLOT_WORDS);
  }

  /**
   * A free slot index, claimed (its state word set to `initial`, the emulator machine's initial
   * state) for an emulator of `kind`, or -1. The kind word is written BEFORE the state word leaves
   * free: a reader that sees the slot taken sees its kind too, also while the emulator's thread
   * has not started (~100 ms, seconds on a loaded machine). Only the pool's thread claims and
   * releases slots, so a free slot's kind word is nobody else's to write.
   */
  claimSlot(initial: number, kind: EmulatorKind): number {
    for (let i = 0; i < this.maxEmulators; i++) {
      const s = this.slot(i);
      if (Atomics.load(s, Slot.state) !== SLOT_FREE) continue;
      Atomics.store(s, Slot.kind, kind === 'helper' ? SLOT_KIND_HELPER : SLOT_KIND_CORE);
      if (Atomics.compareExchange(s, Slot.state, SLOT_FREE, initial) === SLOT_FREE) {
        Atomics.store(s, Slot.visited, 1 << initial);
        return i;
      }
    }
    return -1;
  }

  /** The emulator states seen so far (bit = state code): those of released slots and of live ones. */
  visitedStates(): number {
    let bits = Atomics.load(this.ctl, Ctl.visited);
    for (let i = 0; i < this.maxEmulators; i++) bits |= Atomics.load(this.slot(i), Slot.visited);
    return bits;
  }

  /** Notifications the emulators received so far: every slot's seq (bumped per request, never reset). */
  notificationsReceived(): number {
    let n = 0;
    for (let i = 0; i < this.maxEmulators; i++) n += Atomics.load(this.slot(i), Slot.seq);
    return n;
  }

  /** The job table (addon/offload.cc writes it; the interrupter and the exit read it). */
  jobs(): Int32Array {
    return new Int32Array(this.buffer, 4 * this.jobsAt, JOB_WORDS * this.maxJobs);
  }

  /** Where the job table starts, in words of the buffer (after the slots). */
  get jobsAt(): number {
    return Ctl.words + SLOT_WORDS * this.maxEmulators;
  }

  releaseSlot(i: number): void {
    const s = this.slot(i);
    Atomics.store(s, Slot.tid, 0);
    Atomics.store(s, Slot.blocking, 0);
    Atomics.store(s, Slot.counted, 0);
    // Even: a thread that died inside NOTIF_RECV must not leave the next one's parity inverted.
    Atomics.store(s, Slot.recvGen, 0);
    Atomics.or(this.ctl, Ctl.visited, Atomics.exchange(s, Slot.visited, 0));
    Atomics.store(s, Slot.state, SLOT_FREE);
  }
}
