// The start-up timeline (bench/startup.ts): with TSYD_TIMELINE_FD=N in the environment, each
// named step of a run writes one line "STEP EPOCH_MS" to fd N, from whichever thread reaches it
// (performance.timeOrigin + performance.now(): one wall clock for every thread, µs-precise).
// Unset (always, outside the bench), mark() is one comparison: no clock read, no write.
// The fd is close-on-exec'd for the program by the spawn (addon/spawn.cc closes fds ≥ 3).
import { writeSync } from 'node:fs';

const fd = ((v) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : -1))(process.env.TSYD_TIMELINE_FD);

/** Whether marks are recorded in this process. */
export const timelineOn = fd >= 0;

/** Records that `step` happens now (or at `at`, an epoch time in ms). */
export function mark(step: string, at?: number): void {
  if (fd < 0) return;
  try {
    writeSync(fd, `${step} ${(at ?? performance.timeOrigin + performance.now()).toFixed(3)}\n`);
  } catch {
    // A timeline must never change a run: a closed or refused fd only loses the mark.
  }
}

/** The process's own start and Node's bootstrap, as marks (called once, from the CLI's entry). */
export function markProcessStart(): void {
  if (fd < 0) return;
  mark('process.start', performance.timeOrigin);
  mark('node.ready', performance.timeOrigin + performance.nodeTiming.bootstrapComplete);
}
