// V8 heap limits of the supervisor threads (Worker resourceLimits).
//
// The young generation: V8 grows it to its limit while a thread allocates (an emulator building
// its policy), and the pages it touched stay resident. At 4 MiB an emulator under the default
// profile held 4.0 MiB of new space; at 2 (or 1: V8's floor is the same) it holds 2.0 MiB —
// ~2 MiB less RSS per emulator (bench/memory.ts, TSYD_DEBUG_MEMORY records). But emulators keep
// 4: under a flood of denials (test/supervisor/flood.test.ts, ~25 000 logged denials a second)
// the 2 MiB young generation promoted the records' garbage to the old one, and tsyd grew
// 18-47 MiB in the flood's last 5 s (3 runs; 12-14 MiB at 4). The monitor allocates little
// per second: 2 MiB there.
//
// The old generation bounds what an emulator may hold. SAFETY: a legit extreme must fit with
// room: a policy of 10 000 glob rules holds ~25 MiB of heap per emulator, and each decides a
// 4096-byte path (test/supervisor/limits.test.ts); an emulator that hit the limit would die and
// its request be answered EACCES (emulator-pool.ts), never allowed.
import type { ResourceLimits } from 'node:worker_threads';

export const EMULATOR_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 };

/** The monitor: only the young generation is bounded (its old one keeps V8's default). */
export const MONITOR_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 2 };
