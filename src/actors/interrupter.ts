// The interrupter (tsyd_int): a native thread of the monitor's (addon/interrupter.cc), no isolate.
// Every 10 ms it sends SIGALRM to the emulators and job threads whose blocked call for the program
// must be cut short (request withdrawn, thread gone, or woken by a signal), and frees emulators
// stuck in NOTIF_RECV. It blocks every signal, confines itself with its own filter and then
// writes the handshake byte 42; the monitor stops and joins it at exit.
import type { TsydLogger } from '../log.js';
import { native, type InterrupterReport } from '../native/addon.js';
import { EmuState } from '../shared/emulator-states.js';
import { Ctl, WorkerData } from '../shared/worker-data.js';

export const INTERRUPTER_CYCLE_MS = 10;

/**
 * Test only (TSYD_FAULT=fail-interrupter-confine, fail-aes-confine): a filter the kernel refuses
 * (an unknown BPF instruction: seccomp fails EINVAL), to prove that a failed load is a failed start.
 */
export const INVALID_FILTER = new Uint8Array([0xff, 0xff, 0, 0, 0, 0, 0, 0]);

/** Creates tsyd_int; it owns `handshakeFd` once this returns. */
export function startInterrupter(wd: WorkerData, notifyFd: number, handshakeFd: number, filter: Uint8Array | undefined, fault?: string): void {
  native.startInterrupter({
    words: wd.ctl,
    shouldExitWord: Ctl.shouldExit,
    tidWord: Ctl.interrupterTid,
    slotsAt: Ctl.words,
    maxEmulators: wd.maxEmulators,
    jobsAt: wd.jobsAt,
    maxJobs: wd.maxJobs,
    notifyFd,
    handshakeFd,
    filter: fault === 'fail-interrupter-confine' ? INVALID_FILTER : filter,
    cycleMs: INTERRUPTER_CYCLE_MS,
    busyState: EmuState.busy,
  });
}

/** Logs what tsyd_int did since the last call (the thread has no logger of its own). */
export function logInterrupterEvents(log: TsydLogger, report = native.interrupterEvents()): void {
  for (const e of report?.events ?? []) {
    const where = e.op === 'interrupt_job' ? { job: e.index } : { slot: e.index };
    const who = e.op === 'free_stuck_receiver' ? {} : { pid: e.pid, why: e.why };
    log.debug({ ctx: 'interrupt', op: e.op, ...where, thread: e.thread, ...who }, MESSAGES[e.op]);
  }
  if (report && report.dropped > 0) log.debug({ ctx: 'interrupt', op: 'interrupts_not_recorded', dropped: report.dropped }, 'more interruptions, not recorded one by one');
}

const MESSAGES = {
  free_stuck_receiver: 'freeing an emulator stuck in NOTIF_RECV',
  interrupt_emulator: 'interrupting a blocked emulator',
  interrupt_job: 'interrupting a blocked job thread',
} as const;

/** Ends and joins tsyd_int (a no-op when it is not running), logging its last events. */
export function stopInterrupter(log: TsydLogger): void {
  logInterrupterEvents(log, native.stopInterrupter());
}

/** Why the handshake failed, when the thread could not load its filter ('' otherwise). */
export function interrupterFailure(): string {
  const err = native.interrupterEvents()?.confineErrno ?? 0;
  return err === 0 ? '' : `: its seccomp filter failed to load (errno ${err})`;
}
