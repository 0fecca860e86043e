// The pool rule of the reference (try_spawn), as a pure function of one atomic load.

/** `exiting`: should_exit is set, no emulator is started (not part of the reference rule). */
export type SpawnDecision = 'core' | 'idle_exists' | 'helper' | 'capacity_exceeded' | 'exiting';

/**
 * curr < core → a core emulator (never retires); busy < curr → an idle one exists, nothing;
 * curr < max → a helper that retires after keep_alive idle; else capacity exceeded.
 */
export function decideSpawn(curr: number, busy: number, coreSize: number, maxSize: number): SpawnDecision {
  if (curr < coreSize) return 'core';
  if (busy < curr) return 'idle_exists';
  if (curr < maxSize) return 'helper';
  return 'capacity_exceeded';
}
