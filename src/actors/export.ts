// Exporting the confinement filters of the four supervisor thread kinds: BPF files
// (exclusive create, mode 0400: an existing file is an error, never overwritten) or pseudo
// filter code on stdout.
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants as os } from 'node:os';
import { SystemCallError } from '../errors.js';
import { native } from '../native/addon.js';
import { bpfToPfc } from '../sandbox/bpf-text.js';
import { confinementFilter, EXPORT_FILES, THREAD_KINDS } from './confine.js';

export type ExportMode = 'bpf' | 'pfc';

export function isExportMode(s: string | undefined): s is ExportMode {
  return s === 'bpf' || s === 'pfc';
}

/** Writes tsyd_emu.bpf, tsyd_int.bpf, tsyd_ipc.bpf, tsyd_aes.bpf into `dir`. Returns the paths. */
export function exportBpf(dir: string): string[] {
  const paths = THREAD_KINDS.map((k) => join(dir, EXPORT_FILES[k]));
  // Refuse before writing anything, so an existing file never leaves a partial export.
  for (const p of paths) if (existsSync(p)) throw new SystemCallError('open', os.errno.EEXIST, { path: p });
  THREAD_KINDS.forEach((kind, i) => {
    const fd = openSync(paths[i]!, 'wx', 0o400);
    try {
      writeSync(fd, confinementFilter(kind));
    } finally {
      closeSync(fd);
    }
  });
  return paths;
}

const names = new Map<number, string>();
for (const [name, nr] of Object.entries(native.syscalls)) names.set(nr, name);

/** The four filters as pseudo filter code. */
export function exportPfc(): string {
  return THREAD_KINDS.map((kind) =>
    bpfToPfc(confinementFilter(kind), { title: `tsyd ${kind} thread rules (${EXPORT_FILES[kind]})`, syscallName: (nr) => names.get(nr), arch: native.arch }),
  ).join('\n');
}
