// The library's 'warning' events, as the CLI says them: one plain line on stderr each.
import type { SandboxedProcess } from '../spawn.js';

/** Prints the child's warnings (`tsyd: no sandbox capability is on: PROG runs unconfined`). */
export function printWarnings(child: SandboxedProcess): void {
  child.on('warning', (w: { code: string; message: string }) => process.stderr.write(`tsyd: ${w.message}\n`));
}
