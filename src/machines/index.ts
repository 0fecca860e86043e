// Every machine of the supervisor, by name: what `tsyd viz` draws and the tests walk.
import type { AnyStateMachine } from 'xstate';
import { bootMachine } from './boot.machine.js';
import { emulatorMachine } from './emulator.machine.js';
import { exportMachine } from './export.machine.js';
import { monitorMachine } from './monitor.machine.js';
import { sandboxMachine } from './sandbox.machine.js';

export const MACHINES: Record<string, AnyStateMachine> = {
  boot: bootMachine,
  export: exportMachine,
  monitor: monitorMachine,
  emulator: emulatorMachine,
  sandbox: sandboxMachine,
};
