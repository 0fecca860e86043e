// Which system calls stop in the kernel for tsyd, and which handler decides each.
import { constants as os } from 'node:os';
import { native } from '../../native/addon.js';
import type { Capability } from '../../sandbox/rules.js';
import type { Policy } from '../../sandbox/policy.js';
import type { Handler, HandlerSpec } from '../emulator-context.js';
import { attributeHandlers } from './attributes.js';
import { createHandlers } from './create.js';
import { credentialHandlers } from './credentials.js';
import { deleteHandlers } from './delete.js';
import { execHandlers } from './exec.js';
import { netHandlers } from './net.js';
import { openHandlers } from './open.js';
import { renameHandlers } from './rename.js';
import { statHandlers } from './stat.js';
import { truncateHandlers } from './truncate.js';
import { sigactionHandlers } from './sigaction.js';

export interface HandlerEntry {
  name: string;
  caps: readonly Capability[];
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
  // SAFETY: a new root or new mounts would make the program's view of paths differ from the
  // one tsyd decides and opens in (a bind mount of /proc reaches tsyd's own /proc entries).
  { name: 'chroot', errno: os.errno.EPERM, why: 'changes the root paths are resolved in' },
  { name: 'pivot_root', errno: os.errno.EPERM, why: 'changes the root paths are resolved in' },
  { name: 'mount', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'umount2', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'open_tree', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'move_mount', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'fsopen', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'fsmount', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'fspick', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  { name: 'mount_setattr', errno: os.errno.EPERM, why: 'changes the paths tsyd decides on' },
  // SAFETY: new namespaces give an unprivileged program mount rights (user namespace) or a
  // different view of the file system; entering others' namespaces likewise.
  { name: 'unshare', errno: os.errno.EPERM, why: 'new namespaces change the view tsyd decides on' },
  { name: 'setns', errno: os.errno.EPERM, why: 'other namespaces change the view tsyd decides on' },
  // SAFETY: tsyd's threads, fds (the seccomp listener!) and memory must be out of reach:
  // pidfd_getfd copies another process's fd, process_vm_readv reads its memory, kcmp probes it.
  { name: 'pidfd_getfd', errno: os.errno.EPERM, why: "takes fds out of other processes (tsyd's listener)" },
  { name: 'process_vm_readv', errno: os.errno.EPERM, why: "reads other processes' memory" },
  { name: 'kcmp', errno: os.errno.EPERM, why: 'probes other processes' },
  // SAFETY: tsyd opens files with its own credentials (see credentials.ts, where changes of
  // uids and gids are refused and no-op calls let through): a changed group list or capability
  // set would make tsyd a confused deputy in the same way.
  { name: 'setgroups', errno: os.errno.EPERM, why: 'credentials must stay those tsyd opens with' },
  { name: 'capset', errno: os.errno.EPERM, why: 'credentials must stay those tsyd opens with' },
  // SAFETY: a privileged program could reach around every path rule through the kernel
  // itself: fanotify hands out fds of files others open, eBPF and perf read kernel and other
  // processes' memory, modules and kexec replace the kernel's code.
  { name: 'fanotify_init', errno: os.errno.EPERM, why: 'hands out fds of files without a path check' },
  { name: 'bpf', errno: os.errno.EPERM, why: 'eBPF reads memory around the policy' },
  { name: 'perf_event_open', errno: os.errno.EPERM, why: 'reads other processes and the kernel' },
  { name: 'init_module', errno: os.errno.EPERM, why: 'loads kernel code' },
  { name: 'finit_module', errno: os.errno.EPERM, why: 'loads kernel code' },
  { name: 'delete_module', errno: os.errno.EPERM, why: 'changes kernel code' },
  { name: 'kexec_load', errno: os.errno.EPERM, why: 'replaces the kernel' },
  { name: 'kexec_file_load', errno: os.errno.EPERM, why: 'replaces the kernel' },
  { name: 'iopl', errno: os.errno.EPERM, why: 'raw hardware access' },
  { name: 'ioperm', errno: os.errno.EPERM, why: 'raw hardware access' },
  // SAFETY: memory under a userfaultfd stalls tsyd's reads of the program's arguments.
  { name: 'userfaultfd', errno: os.errno.EPERM, why: "stalls tsyd's reads of program memory" },
];

export interface HandlerDeps {
  /** Records a process's SA_RESTART handler (for the interrupter). */
  recordRestart(tgid: number, sig: number, restart: boolean, gone: (tgid: number) => boolean): void;
}

function allHandlers(deps: HandlerDeps): Array<[string, HandlerSpec]> {
  return [
    ...openHandlers(),
    ...truncateHandlers(),
    ...attributeHandlers(),
    ...createHandlers(),
    ...deleteHandlers(),
    ...renameHandlers(),
    ...statHandlers(),
    ...execHandlers(),
    ...sigactionHandlers(deps.recordRestart),
    ...credentialHandlers(),
    ...netHandlers(),
  ];
}

/** nr → handler, for every system call tsyd can decide. */
export function buildHandlerTable(deps: HandlerDeps): Map<number, HandlerEntry> {
  const table = new Map<number, HandlerEntry>();
  for (const [name, spec] of allHandlers(deps)) {
    const nr = native.syscalls[name];
    if (nr !== undefined) table.set(nr, { name, caps: spec.caps, handle: spec.handle });
  }
  return table;
}

/** The capabilities some handler decides: a capability outside this set is not enforced. */
export function enforcedCapabilities(): Set<Capability> {
  const caps = new Set<Capability>();
  for (const [, spec] of allHandlers({ recordRestart: () => {} })) for (const c of spec.caps) caps.add(c);
  return caps;
}

/**
 * The child's filter: notify on the calls whose capabilities are on, deny the escape hatches,
 * allow the rest. SAFETY: while the policy can still change at run time (lock:off), every
 * handled call notifies, so that a capability turned on later is enforced from then on.
 */
export function buildChildFilter(policy: Policy): Buffer {
  const notify: number[] = [];
  for (const [nr, entry] of buildHandlerTable({ recordRestart: () => {} })) {
    if (entry.caps.length === 0 || policy.lock === 'off' || entry.caps.some((c) => policy.isOn(c))) notify.push(nr);
  }
  const deny: Array<[number, number]> = [];
  for (const d of DENIED_SYSCALLS) {
    const nr = native.syscalls[d.name];
    if (nr !== undefined) deny.push([nr, d.errno]);
  }
  return native.buildFilter(notify, deny);
}
