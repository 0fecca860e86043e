// The export machine with the real writers: runs to its end synchronously (its actors are
// callbacks), so boot can go on in the same turn. Throws the writer's error.
import { createActor, fromCallback, type InspectionEvent } from 'xstate';
import { exportMachine, type ExportEvent } from '../machines/export.machine.js';
import { bootMachine, type BootEvent, type ExportMode } from '../machines/boot.machine.js';
import { exportBpf, exportPfc } from './export.js';
import type { CredentialBounds } from '../confine/emulator-filter.js';

function writer(write: () => void) {
  return fromCallback<ExportEvent>(({ sendBack }) => {
    try {
      write();
      sendBack({ type: 'export.written' });
    } catch (error) {
      sendBack({ type: 'export.failed', error });
    }
  });
}

/** Writes the filters (bpf: files in the working directory, named on stderr; pfc: stdout). `inspect` observes the export machine. */
export function runExport(mode: ExportMode, inspect?: (machine: typeof exportMachine) => (e: InspectionEvent) => void, bounds?: CredentialBounds): void {
  const machine = exportMachine.provide({
    actors: {
      writeBpf: writer(() => {
        for (const p of exportBpf(process.cwd(), bounds)) process.stderr.write(`tsyd: wrote ${p}\n`);
      }),
      printPfc: writer(() => void process.stdout.write(exportPfc(bounds))),
    },
  });
  const actor = createActor(machine, { input: { mode }, inspect: inspect?.(machine) }).start();
  const snap = actor.getSnapshot();
  if (snap.status !== 'done') throw new Error(`export machine did not end (${JSON.stringify(snap.value)})`);
  if (!snap.output!.ok) throw snap.output!.error;
}

/** Boot's export step: the export machine run to its end, its outcome sent back to boot. */
export function exportStep(mode: ExportMode, inspect?: Parameters<typeof runExport>[1], bounds?: CredentialBounds) {
  return fromCallback<BootEvent>(({ sendBack }) => {
    try {
      runExport(mode, inspect, bounds);
      sendBack({ type: 'export.done' });
    } catch (error) {
      sendBack({ type: 'export.failed', error });
    }
  });
}

/** `tsyd export bpf|pfc`: boot with an export mode and no program. Throws the export's error. */
export function bootExport(mode: ExportMode, bounds?: CredentialBounds): void {
  const boot = createActor(bootMachine.provide({ actors: { runExport: exportStep(mode, undefined, bounds) } }), { input: { exportMode: mode, program: false } }).start();
  const snap = boot.getSnapshot();
  if (snap.status === 'error') throw snap.error;
  if (snap.value !== 'done') throw snap.context.startError;
}
