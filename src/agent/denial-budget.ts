// How many denial records a container may write: tsyd agent logs one record per denied call
// (every refusal record of a call: ctx.logsRefusal),
// and a container that loops on a denied call would fill the agent's log (every container's).
// The first DENIAL_RECORDS_PER_SECOND denials of each second are logged; the rest are counted,
// and the count is logged as one summary record (`op: "denials_not_logged"`) with the first
// denial of a later second, and in the container's `container_ended` record.
// Shared by every emulator of the container through three words of its control buffer. The same
// budget (recordBudget) bounds the records of the agent's socket per peer uid (peer-records.ts).
import type { TsydLogger } from '../log.js';
import { Ctl } from '../shared/worker-data.js';

/** SAFETY: at ~200 bytes a record, one container writes at most ~20 KB of denials a second. */
export const DENIAL_RECORDS_PER_SECOND = 100;

/** Denials of the container not logged since the last summary (for its `container_ended` record). */
export function denialsNotLogged(ctl: Int32Array): number {
  return Atomics.load(ctl, Ctl.deniedNotLogged);
}

/** Where a budget keeps its three words: the current second, the records in it, those not logged since the last summary. */
export interface BudgetWords {
  second: number;
  inSecond: number;
  notLogged: number;
}

/**
 * A function to call at each record of a budget kept in `words` of `ctl`: true when the record is
 * to be written (the first DENIAL_RECORDS_PER_SECOND of each second), false when it is only counted.
 * When a new second begins, `summary` gets the count of the records not logged before.
 */
export function recordBudget(ctl: Int32Array, words: BudgetWords, summary: (notLogged: number) => void, now: () => number = Date.now): () => boolean {
  return () => {
    const second = Math.floor(now() / 1000) | 0;
    const window = Atomics.load(ctl, words.second);
    if (window !== second && Atomics.compareExchange(ctl, words.second, window, second) === window) {
      Atomics.store(ctl, words.inSecond, 0);
      const notLogged = Atomics.exchange(ctl, words.notLogged, 0);
      if (notLogged > 0) summary(notLogged);
    }
    if (Atomics.add(ctl, words.inSecond, 1) < DENIAL_RECORDS_PER_SECOND) return true;
    Atomics.add(ctl, words.notLogged, 1);
    return false;
  };
}

/**
 * A function to call at each denial of the container: true when its record is to be written.
 * It writes the summary of the denials not logged before, when a new second begins.
 */
export function denialBudget(ctl: Int32Array, log: TsydLogger, now: () => number = Date.now): () => boolean {
  const words = { second: Ctl.deniedSecond, inSecond: Ctl.deniedInSecond, notLogged: Ctl.deniedNotLogged };
  const summary = (notLogged: number) => log.warn({ ctx: 'agent', op: 'denials_not_logged', count: notLogged }, `${notLogged} denials not logged (over ${DENIAL_RECORDS_PER_SECOND} a second)`);
  return recordBudget(ctl, words, summary, now);
}
