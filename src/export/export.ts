// Exporting the confinement filters of the four supervisor thread kinds: BPF files
// (exclusive create, mode 0400: an existing file is an error, never overwritten) or pseudo
// filter code on stdout; and the program's system call table for a policy.
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { constants as os } from 'node:os';
import { TsydError } from '../errors.js';
import { native } from '../native/addon.js';
import { bpfToPfc } from './bpf-text.js';
import { confinementFilter, EXPORT_FILES, THREAD_KINDS } from '../confine/thread-filters.js';
import type { CredentialBounds } from '../confine/emulator-filter.js';
import { buildChildFilter, buildHandlerTable } from '../syscalls/index.js';
import { resolveEntry, RET, syscallNumbers, TSYD_PID_PLACEHOLDER } from '../confine/program-filter.js';
import { SYSCALLS, type ArgTest } from '../confine/syscall-table.js';
import { CAPABILITIES, type Capability } from '../sandbox/rules.js';
import type { Policy } from '../sandbox/policy.js';

export type ExportMode = 'bpf' | 'pfc';

export function isExportMode(s: string | undefined): s is ExportMode {
  return s === 'bpf' || s === 'pfc';
}

/**
 * Writes tsyd_emu.bpf, tsyd_int.bpf, tsyd_ipc.bpf, tsyd_aes.bpf into `dir`. Returns the paths.
 * `bounds`: the ids the emulators' credential calls may take (the policy's transits).
 */
export function exportBpf(dir: string, bounds?: CredentialBounds): string[] {
  const paths = THREAD_KINDS.map((k) => join(dir, EXPORT_FILES[k]));
  // Refuse before writing anything, so an existing file never leaves a partial export.
  for (const p of paths) {
    if (existsSync(p)) throw new TsydError('EEXIST', `export: ${p} already exists: an export never overwrites a file (remove it, or export from another directory)`);
  }
  THREAD_KINDS.forEach((kind, i) => {
    const fd = openSync(paths[i]!, 'wx', 0o400);
    try {
      writeSync(fd, confinementFilter(kind, bounds));
    } finally {
      closeSync(fd);
    }
  });
  return paths;
}

const names = new Map<number, string>();
for (const [name, nr] of Object.entries(native.syscalls)) names.set(nr, name);

/** The four filters as pseudo filter code. */
export function exportPfc(bounds?: CredentialBounds): string {
  return THREAD_KINDS.map((kind) =>
    bpfToPfc(confinementFilter(kind, bounds), { title: `tsyd ${kind} thread rules (${EXPORT_FILES[kind]})`, syscallName: (nr) => names.get(nr), arch: native.arch }),
  ).join('\n');
}

/**
 * The program's filter for `policy` (struct sock_filter[], the bytes tsyd loads), with
 * TSYD_PID_PLACEHOLDER and REAPER_PID_PLACEHOLDER where tsyd's and the reaper's pids go: another
 * supervisor (bench/csuper.c) loads it to stop exactly the calls tsyd stops.
 */
export function exportProgramFilter(policy: Policy): Buffer {
  return buildChildFilter(policy, TSYD_PID_PLACEHOLDER);
}

/**
 * The program's system call table (src/confine/syscall-table.ts) as text: every call with its
 * number, its class, what the filter does with it under `policy`, and why; argument rules
 * indented below their call. Numbers the table does not name are ENOSYS.
 */
export function exportSyscalls(policy: Policy): string {
  const arch = native.arch;
  const handlerCaps = new Map<string, readonly Capability[]>();
  for (const h of buildHandlerTable().values()) handlerCaps.set(h.name, h.caps);
  const ctx = { arch, tsydPid: 0, isOn: (c: Capability) => policy.isOn(c), lockOff: policy.stopsEveryDecidedCall, handlerCaps };
  const on = CAPABILITIES.filter((c) => policy.isOn(c));
  const lines = [
    `# tsyd: the program's system calls on ${arch}, for the policy with ${on.length ? on.join(', ') : 'no capability'} on (lock:${policy.lock})`,
    '# every number not listed: ENOSYS. outcome: allow | notify (stops for tsyd) | ERRNO | rules (argument tests, first match wins)',
    '# nr  name                      class     outcome   why',
  ];
  const outcome = (v: number) => (v === RET.allow ? 'allow' : v === RET.notify ? 'notify' : errnoName(v & 0xffff));
  const numbers = syscallNumbers(arch);
  for (const [name, nr] of Object.entries(numbers).sort((a, b) => a[1] - b[1])) {
    const e = SYSCALLS[name];
    if (!e) continue;
    const r = resolveEntry(name, e, ctx);
    const what = r.kind === 'ret' ? outcome(r.value) : 'rules';
    lines.push(`${String(nr).padEnd(4)}${name.padEnd(26)}${e.class.padEnd(10)}${what.padEnd(10)}${e.why}`);
    if (r.kind === 'rules') {
      for (const rule of e.rules ?? []) {
        const tests = rule.when.map(testText).join(' && ') || 'otherwise';
        const single = resolveEntry(name, { ...e, rules: [{ ...rule, when: [] }] }, ctx);
        lines.push(`      ${tests} → ${single.kind === 'ret' ? outcome(single.value) : 'rules'}: ${rule.why}`);
      }
      lines.push(`      otherwise → ${outcome(r.otherwise)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function testText(t: ArgTest): string {
  const arg = `arg${t.arg}`;
  switch (t.op) {
    case 'eq':
      return `${arg} == 0x${(t.value >>> 0).toString(16)}`;
    case 'ne':
      return `${arg} != 0x${(t.value >>> 0).toString(16)}`;
    case 'any':
      return `${arg} & 0x${(t.value >>> 0).toString(16)}`;
    case 'none':
      return `!(${arg} & 0x${(t.value >>> 0).toString(16)})`;
    case 'null':
      return `${arg} == NULL`;
    case 'nonnull':
      return `${arg} != NULL`;
    case 'tsyd':
      return `${arg} == tsyd's pid`;
    case 'reaper':
      return `${arg} == the reaper's pid`;
  }
}

function errnoName(n: number): string {
  for (const [name, v] of Object.entries(os.errno)) if (v === n) return name;
  return `errno ${n}`;
}
