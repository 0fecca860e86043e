// Which system calls stop in the kernel for tsyd, and which handler decides each.
import { constants as os } from 'node:os';
import { native } from '../../native/addon.js';
import type { Handler } from '../emulator-context.js';
import { openHandlers } from './open.js';
import { sigactionHandlers } from './sigaction.js';

export interface HandlerEntry {
  name: string;
  handle: Handler;
}

/** System calls answered in the filter itself, with the errno and the reason. */
export const DENIED_SYSCALLS: ReadonlyArray<{ name: string; errno: number; why: string }> = [
  // SAFETY: io_uring performs opens, connects and more inside the kernel without any
  // system call the filter could see: it would bypass every rule.
  { name: 'io_uring_setup', errno: os.errno.ENOSYS, why: 'io_uring bypasses seccomp' },
  { name: 'io_uring_enter', errno: os.errno.ENOSYS, why: 'io_uring bypasses seccomp' },
  { name: 'io_uring_register', errno: os.errno.ENOSYS, why: 'io_uring bypasses seccomp' },
  // SAFETY: a tracer can rewrite a tracee's system call after the check, and read or
  // write memory of processes tsyd acts for.
  { name: 'ptrace', errno: os.errno.EPERM, why: 'tracing could rewrite checked calls' },
  { name: 'process_vm_writev', errno: os.errno.EPERM, why: 'writes other processes memory' },
  // SAFETY: opens a file by handle, with no path that a rule could match.
  { name: 'open_by_handle_at', errno: os.errno.EPERM, why: 'opens files without a path' },
  // SAFETY: a new root would make the program's paths differ from the ones tsyd decides on.
  { name: 'chroot', errno: os.errno.EPERM, why: 'changes the root paths are resolved in' },
  { name: 'pivot_root', errno: os.errno.EPERM, why: 'changes the root paths are resolved in' },
];

export interface HandlerDeps {
  /** Records a process's SA_RESTART handler (for the interrupter). */
  recordRestart(tgid: number, sig: number, restart: boolean, gone: (tgid: number) => boolean): void;
}

/** nr → handler, for the system calls that notify. */
export function buildHandlerTable(deps: HandlerDeps): Map<number, HandlerEntry> {
  const table = new Map<number, HandlerEntry>();
  for (const [name, handle] of [...openHandlers(), ...sigactionHandlers(deps.recordRestart)]) {
    const nr = native.syscalls[name];
    if (nr !== undefined) table.set(nr, { name, handle });
  }
  return table;
}

/** The child's filter: notify on every handled call, deny the escape hatches, allow the rest. */
export function buildChildFilter(): Buffer {
  const notify = [...buildHandlerTable({ recordRestart: () => {} }).keys()];
  const deny: Array<[number, number]> = [];
  for (const d of DENIED_SYSCALLS) {
    const nr = native.syscalls[d.name];
    if (nr !== undefined) deny.push([nr, d.errno]);
  }
  return native.buildFilter(notify, deny);
}
