// What tsyd stops for a policy, taken from tsyd itself (never a copy that can drift): the system
// call names for strace's fastest form (`--seccomp-bpf -e trace=…`), and the program filter's
// bytes for the C limit (`csuper -f`).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsydBin, work } from './tools.js';

function tsydExport(args: string[]): Buffer {
  return execFileSync(process.execPath, [tsydBin, 'export', ...args], { maxBuffer: 16 * 2 ** 20 });
}

/**
 * The calls the program filter may stop for `policy` (`tsyd export syscalls` outcome `notify`,
 * or `rules` with a rule that notifies): strace cannot test arguments, so a call stopped only
 * for some arguments (mmap with PROT_EXEC, a few ioctls) is traced whole.
 */
export function notifiedCalls(policy: string[]): string[] {
  const names: string[] = [];
  let rulesOf: string | undefined;
  for (const line of String(tsydExport(['syscalls', ...policy])).split('\n')) {
    const entry = /^\d+\s+(\S+)\s+\S+\s+(\S+)/.exec(line);
    if (entry) {
      rulesOf = entry[2] === 'rules' ? entry[1] : undefined;
      if (entry[2] === 'notify') names.push(entry[1]!);
    } else if (rulesOf && /→ notify\b/.test(line)) {
      names.push(rulesOf);
      rulesOf = undefined;
    }
  }
  if (names.length === 0) throw new Error(`tsyd export syscalls ${policy.join(' ')}: no notified call found`);
  return names;
}

const filters = new Map<string, string>();
/** A file holding the program filter tsyd loads for `policy` (`tsyd export program`), written once. */
export function programFilterFile(policy: string[]): string {
  const key = policy.join('\0');
  let file = filters.get(key);
  if (!file) {
    file = join(work, `program-${filters.size}.bpf`);
    writeFileSync(file, tsydExport(['program', ...policy]));
    filters.set(key, file);
  }
  return file;
}
