// The interrupter (tsyd_int): every cycle it looks at the emulators that registered a call
// that may block, and sends the emulator thread SIGALRM (handler without SA_RESTART → the call
// returns EINTR) when the request is no longer valid (the program's thread died, or the
// kernel withdrew it) or when a signal woke the program's thread — exactly when the kernel's own
// interruptible wait would have been cut short. That call is answered -ERESTARTSYS (the
// interrupter marks the request, see RestartAnswer in addon/offload.cc), and the kernel does what
// it does natively: runs the handler, then restarts the call or fails it with EINTR as the
// handler's SA_RESTART says; or stops the thread (SIGSTOP, Ctrl-Z) and restarts the call after
// SIGCONT. A restarted call stops in the filter again and is decided again.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createThreadLogger } from '../thread-log.js';
import { native } from '../native/addon.js';
import type { InterrupterConfig } from '../shared/thread-config.js';
import { Ctl, Job, JOB_WORDS, JobState, WorkerData } from '../shared/worker-data.js';
import { Slot } from '../shared/slot.js';
import { mark } from '../shared/timeline.js';

const SIGALRM = 14;
const tid = native.gettid();
native.setThreadName('tsyd_int');
// SIGALRM is for emulators only (the monitor blocked it before creating this thread).
native.threadSignalMask(0, [SIGALRM]);

let confined = false;
let confinedWith: Uint8Array | undefined;

/** What a warm interrupter is sent between sandboxes (src/actors/monitor.worker.ts). */
export type InterrupterCommand = { type: 'interrupter.serve'; config: InterrupterConfig } | { type: 'interrupter.close' };

/** Serves one sandbox: scans its emulators and job threads until its should_exit, then tells the monitor. */
function serve(data: InterrupterConfig): void {
  const log = createThreadLogger(data.log).child({ module: 'interrupter' });
  const wd = new WorkerData(data.shared, data.maxEmulators);
  Atomics.store(wd.ctl, Ctl.interrupterTid, tid);

  mark('interrupter.up');
  // Handshake: one byte, 42, tells the monitor this thread is up (and serves this sandbox).
  native.writeByte(data.handshakeFd, 42);

  /** Why a blocked call is cut short, and whether it is answered -ERESTARTSYS (else EINTR). */
  interface Cut {
    why: string;
    restart: boolean;
  }

  /** The state letter of thread `tid` (/proc/TID/stat: R, S, D, T...), '' once it is gone. */
  function threadState(tid: number): string {
    try {
      const stat = readFileSync(`/proc/${tid}/stat`, 'latin1');
      return stat[stat.lastIndexOf(')') + 2]!;
    } catch {
      return '';
    }
  }

  /**
   * The program's thread waits for tsyd's answer interruptibly (S) until something wakes it, then
   * killably (D: WAIT_KILLABLE_RECV). Only a signal wakes it while its request waits (the other
   * wake-ups are answers, and tsyd adds no fd without answering): a signal sent to it, or a group
   * stop begun by another thread, as natively the same signal would wake its interruptible wait.
   * SAFETY (fidelity): the answer -ERESTARTSYS (RestartAnswer in addon/offload.cc) reaches the
   * program as errno 512 unless the thread's signal-pending flag is set when the answer wakes it:
   * the kernel set it before it woke the thread, and nothing but the thread clears it.
   */
  function shouldInterrupt(target: number, idLo: number, idHi: number): Cut | null {
    if (!native.idValidFor(data.notifyFd, idLo, idHi)) return { why: 'request no longer valid', restart: false };
    const state = threadState(target);
    if (state === '') return { why: 'thread gone', restart: false };
    return state === 'D' ? { why: 'woken by a signal', restart: true } : null;
  }

  // A request is interrupted only when it was seen blocking in two scans in a row (same seq):
  // one that completes within a cycle is never hit by a SIGALRM meant for an older one.
  const seenBlocking = new Int32Array(wd.maxEmulators).fill(-1);
  // An emulator inside NOTIF_RECV for a whole cycle (same odd generation in two scans) lost the
  // race for a notification another emulator took, and would wait for the next one.
  const seenInRecv = new Int32Array(wd.maxEmulators).fill(-1);

  /** Frees an emulator stuck in NOTIF_RECV (see addon/notify.cc Recv). */
  function freeStuckReceiver(i: number, s: Int32Array): void {
    const gen = Atomics.load(s, Slot.recvGen);
    if ((gen & 1) === 0) {
      seenInRecv[i] = -1;
      return;
    }
    if (seenInRecv[i] !== gen) {
      seenInRecv[i] = gen;
      return;
    }
    const emu = Atomics.load(s, Slot.tid);
    if (emu > 0 && Atomics.load(s, Slot.recvGen) === gen) {
      native.tgkill(process.pid, emu, SIGALRM);
      log.debug({ ctx: 'interrupt', op: 'free_stuck_receiver', slot: i, emulator: emu }, 'freeing an emulator stuck in NOTIF_RECV');
    }
  }
  // One view per slot, made once: the scan runs every cycle and should allocate nothing.
  const slots = Array.from({ length: wd.maxEmulators }, (_, i) => wd.slot(i));
  const jobs = wd.jobs();
  const seenJob = new Int32Array(wd.maxJobs).fill(-1);

  /** Job threads (addon/offload.cc) blocked in a call for the program: as emulators above. */
  function scanJobs(): void {
    for (let i = 0; i < wd.maxJobs; i++) {
      const at = i * JOB_WORDS;
      if (Atomics.load(jobs, at + Job.state) !== JobState.blocking) {
        seenJob[i] = -1;
        continue;
      }
      const seq = Atomics.load(jobs, at + Job.seq);
      if (seenJob[i] !== seq) {
        seenJob[i] = seq;
        continue;
      }
      const cut = shouldInterrupt(jobs[at + Job.caller]!, jobs[at + Job.idLo]! >>> 0, jobs[at + Job.idHi]! >>> 0);
      if (cut?.restart) Atomics.store(jobs, at + Job.restart, seq);
      const tid = Atomics.load(jobs, at + Job.tid);
      if (cut && tid > 0 && Atomics.load(jobs, at + Job.seq) === seq && Atomics.load(jobs, at + Job.state) === JobState.blocking) {
        native.tgkill(process.pid, tid, SIGALRM);
        log.debug({ ctx: 'interrupt', op: 'interrupt_job', job: i, thread: tid, pid: jobs[at + Job.caller], why: cut.why }, 'interrupting a blocked job thread');
      }
    }
  }

  log.info({ ctx: 'boot', op: 'start_interrupter_thread', tid }, 'interrupter started');
  while (!wd.shouldExit) {
    // SAFETY: a filter never comes off; a warm interrupter confined for an earlier sandbox serves
    // only sandboxes with the same filter (src/supervisor/supervisor.ts): it does not stack another.
    if (confined && !sameBytes(confinedWith, data.confinement)) throw new Error('a confined interrupter cannot take another filter');
    if (!confined && data.confinement && wd.locked) {
      native.loadThreadFilter(data.confinement);
      confined = true;
      confinedWith = data.confinement;
      log.info({ ctx: 'confine', op: 'confine_interrupter_thread', tid }, 'interrupter thread confined');
    }
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      freeStuckReceiver(i, s);
      const seq = Atomics.load(s, Slot.seq);
      if (Atomics.load(s, Slot.state) !== data.busyState || Atomics.load(s, Slot.blocking) !== 1) {
        seenBlocking[i] = -1;
        continue;
      }
      if (seenBlocking[i] !== seq) {
        seenBlocking[i] = seq;
        continue;
      }
      const idLo = s[Slot.idLo]! >>> 0;
      const idHi = s[Slot.idHi]! >>> 0;
      const cut = shouldInterrupt(s[Slot.pid]!, idLo, idHi);
      if (cut?.restart) Atomics.store(s, Slot.restart, seq);
      // Still the same request, still blocking: interrupt (the window left is a few µs).
      if (cut && Atomics.load(s, Slot.seq) === seq && Atomics.load(s, Slot.blocking) === 1) {
        const emu = Atomics.load(s, Slot.tid);
        native.tgkill(process.pid, emu, SIGALRM);
        log.debug({ ctx: 'interrupt', op: 'interrupt_emulator', slot: i, emulator: emu, pid: s[Slot.pid], why: cut.why }, 'interrupting a blocked emulator');
      }
    }
    scanJobs();
    Atomics.wait(wd.ctl, Ctl.shouldExit, 0, data.cycleMs);
  }
  log.debug({ ctx: 'boot', op: 'exit_interrupter_thread', tid }, 'interrupter leaves the sandbox');
  parentPort?.postMessage({ type: 'interrupter.idle' });
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

serve(workerData as InterrupterConfig);
parentPort?.on('message', (m: InterrupterCommand) => {
  if (m.type === 'interrupter.serve') serve(m.config);
  else parentPort?.close();
});
