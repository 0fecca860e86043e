// How many denial records a container may write: tsyd agent logs one record per denied call
// (every refusal record of a call: ctx.logsRefusal),
// and a container that loops on a denied call would fill the agent's log (every container's).
// The first DENIAL_RECORDS_PER_SECOND denials of each second are logged; the rest are counted,
// and the count is logged as one summary record (`op: "denials_not_logged"`) with the first
// denial of a later second, and in the container's `container_ended` record.
// Shared by every emulator of the container through three words of its control buffer.
import type { TsydLogger } from '../log.js';
import { Ctl } from '../shared/worker-data.js';

/** SAFETY: at ~200 bytes a record, one container writes at most ~20 KB of denials a second. */
export const DENIAL_RECORDS_PER_SECOND = 100;

/** Denials of the container not logged since the last summary (for its `container_ended` record). */
export function denialsNotLogged(ctl: Int32Array): number {
  return Atomics.load(ctl, Ctl.deniedNotLogged);
}

/**
 * A function to call at each denial of the container: true when its record is to be written.
 * It writes the summary of the denials not logged before, when a new second begins.
 */
export function denialBudget(ctl: Int32Array, log: TsydLogger, now: () => number = Date.now): () => boolean {
  return () => {
    const second = Math.floor(now() / 1000) | 0;
    const window = Atomics.load(ctl, Ctl.deniedSecond);
    if (window !== second && Atomics.compareExchange(ctl, Ctl.deniedSecond, window, second) === window) {
      Atomics.store(ctl, Ctl.deniedInSecond, 0);
      const notLogged = Atomics.exchange(ctl, Ctl.deniedNotLogged, 0);
      if (notLogged > 0) log.warn({ ctx: 'agent', op: 'denials_not_logged', count: notLogged }, `${notLogged} denials not logged (over ${DENIAL_RECORDS_PER_SECOND} a second)`);
    }
    if (Atomics.add(ctl, Ctl.deniedInSecond, 1) < DENIAL_RECORDS_PER_SECOND) return true;
    Atomics.add(ctl, Ctl.deniedNotLogged, 1);
    return false;
  };
}
