// The pool rule of the reference (try_spawn), as a pure function of one atomic load.

import type { SpawnDecision } from '../machines/monitor.machine.js';

export type { SpawnDecision };

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
