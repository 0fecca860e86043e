// The emulator machine compiled for the pool's slots: one table per kind of emulator (the
// machine's only guard reads the kind), and the state codes stored in a slot's state word.
// Every write of that word steps one of these tables (the emulator, the pool for a death) or
// stores its initial state (a claimed slot) or `free` (a released one): no other code.
import type { EmulatorKind } from '../machines/emulator.machine.js';
import { emulatorMachine } from '../machines/emulator.machine.js';
import { compileFlat, type FlatTable } from '../machines/flat-transitions.js';

export const EMULATOR_TABLES: Record<EmulatorKind, FlatTable> = {
  core: compileFlat(emulatorMachine, { kind: 'core' }, 'free'),
  helper: compileFlat(emulatorMachine, { kind: 'helper' }, 'free'),
};

/** The state codes the supervisor's code names (a name the machine lacks throws at load). */
function codes<K extends string>(table: FlatTable, names: readonly K[]): Readonly<Record<K, number>> {
  return Object.fromEntries(names.map((n) => [n, n === 'free' ? 0 : table.code(n)])) as Record<K, number>;
}

export const EmuState = codes(EMULATOR_TABLES.core, ['free', 'starting', 'idle', 'busy', 'retiring', 'stopped', 'dead'] as const);
export type EmuStateName = keyof typeof EmuState;

/** The events, by code (the same in both tables). */
export const EmuEvent = {
  ready: EMULATOR_TABLES.core.event('emulator.ready'),
  received: EMULATOR_TABLES.core.event('request.received'),
  answered: EMULATOR_TABLES.core.event('request.answered'),
  keepAliveExpired: EMULATOR_TABLES.core.event('keepalive.expired'),
  shouldExit: EMULATOR_TABLES.core.event('pool.should_exit'),
  crashed: EMULATOR_TABLES.core.event('emulator.crashed'),
} as const;

/** The name of a state code read from a slot. */
export function emulatorStateName(code: number): string {
  return EMULATOR_TABLES.core.names[code] ?? `unknown(${code})`;
}
