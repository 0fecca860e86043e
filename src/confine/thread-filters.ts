// Self-confinement of supervisor threads: what each thread kind may not do once the sandbox is
// locked. A Node thread needs too many system calls for a short allow-list to stay honest, so
// this is a deny-list of what a supervisor thread never needs and an attacker would want;
// every entry says why. Answered with EPERM (an emulator that tries execve sees it fail).
import { constants as os } from 'node:os';
import { native } from '../native/addon.js';
import { credentialBounds, emulatorFilter, type CredentialBounds } from './emulator-filter.js';

export const THREAD_KINDS = ['emulator', 'interrupter', 'ipc', 'aes'] as const;
export type ThreadKind = (typeof THREAD_KINDS)[number];

/** Export file names, as the reference's syd_*.bpf. */
export const EXPORT_FILES: Record<ThreadKind, string> = {
  emulator: 'tsyd_emu.bpf',
  interrupter: 'tsyd_int.bpf',
  ipc: 'tsyd_ipc.bpf',
  aes: 'tsyd_aes.bpf',
};

const COMMON: Array<[string, string]> = [
  ['execve', 'a supervisor thread never runs programs'],
  ['execveat', 'a supervisor thread never runs programs'],
  ['fork', 'no new processes from supervisor threads'],
  ['vfork', 'no new processes from supervisor threads'],
  ['ptrace', 'no tracing of the program or of tsyd'],
  ['mount', 'no file system changes'],
  ['umount2', 'no file system changes'],
  ['pivot_root', 'no root changes'],
  ['chroot', 'no root changes'],
  ['open_tree', 'no mount trees'],
  ['move_mount', 'no mount trees'],
  ['fsopen', 'no new mounts'],
  ['fsmount', 'no new mounts'],
  ['setns', 'stays in its namespaces'],
  ['kexec_load', 'no kernel replacement'],
  ['kexec_file_load', 'no kernel replacement'],
  ['init_module', 'no kernel modules'],
  ['finit_module', 'no kernel modules'],
  ['delete_module', 'no kernel modules'],
  ['bpf', 'no eBPF programs'],
  ['reboot', 'no reboot'],
  ['swapon', 'no swap changes'],
  ['swapoff', 'no swap changes'],
  ['acct', 'no process accounting'],
  ['userfaultfd', 'a classic exploitation primitive'],
  ['io_uring_setup', 'bypasses seccomp'],
  ['io_uring_enter', 'bypasses seccomp'],
  ['io_uring_register', 'bypasses seccomp'],
  ['open_by_handle_at', 'opens files without a path'],
  ['personality', 'no ABI changes'],
];

const NO_PROGRAM_WRITES: Array<[string, string]> = [['process_vm_writev', "never writes another process's memory"]];

/** Thread kinds that never touch the network (the IPC worker needs sockets; the AES worker's list is AES_NO_OPENS). */
const NO_SOCKETS: Array<[string, string]> = [
  ['socket', 'this thread kind needs no socket'],
  ['listen', 'this thread kind needs no socket'],
  ['accept4', 'this thread kind needs no socket'],
];

/**
 * The AES worker (addon/aes.cc) opens nothing and makes no socket: every fd it uses comes with
 * its job (the plaintext buffer, the O_TMPFILE, the directory), and it links the O_TMPFILE
 * through /proc/thread-self/fd (linkat, not an open). SAFETY: a worker taken over by a bug in
 * the cipher path still reaches no file but those of its jobs.
 */
const AES_NO_OPENS: Array<[string, string]> = [
  ['open', 'the AES worker opens nothing: its fds come with its jobs'],
  ['openat', 'the AES worker opens nothing: its fds come with its jobs'],
  ['openat2', 'the AES worker opens nothing: its fds come with its jobs'],
  ['creat', 'the AES worker opens nothing: its fds come with its jobs'],
  ['pidfd_getfd', "the AES worker takes no other process's fds"],
  ['socket', 'the AES worker needs no socket'],
  ['socketpair', 'the AES worker needs no socket'],
  ['accept', 'the AES worker needs no socket'],
  ['accept4', 'the AES worker needs no socket'],
  ['listen', 'the AES worker needs no socket'],
  ['connect', 'the AES worker needs no socket'],
  ['bind', 'the AES worker needs no socket'],
];

/**
 * tsyd_ipc (src/actors/ipc.worker.ts) confines itself once it listens: from then on it accepts
 * and answers its clients, and opens nothing and makes no other socket. SAFETY: a worker taken
 * over through a client's bytes reaches no file and no other socket; it still cannot read or
 * write the program (process_vm_*), nor run anything.
 */
const IPC_NO_OPENS: Array<[string, string]> = [
  ['open', 'tsyd_ipc opens nothing once it listens'],
  ['openat', 'tsyd_ipc opens nothing once it listens'],
  ['openat2', 'tsyd_ipc opens nothing once it listens'],
  ['creat', 'tsyd_ipc opens nothing once it listens'],
  ['pidfd_getfd', "tsyd_ipc takes no other process's fds"],
  ['socket', 'tsyd_ipc made its one socket before its filter'],
  ['socketpair', 'tsyd_ipc made its one socket before its filter'],
  ['connect', 'tsyd_ipc only accepts'],
  ['bind', 'tsyd_ipc bound its socket before its filter'],
];

/**
 * What an emulator's bind of a UNIX path needs (addon/unixbind.cc): a short-lived child that
 * binds the program's own name from a root and cwd of its own — a private tmpfs in a private
 * mount namespace, the checked directory bind-mounted from its fd; an unprivileged tsyd's child
 * joins tsyd's own user namespace for that (setns). SAFETY: `mount`, `umount2` and `pivot_root`
 * stay denied (the child needs none: the new mount API builds and attaches its mounts, all
 * inside its own namespace, whose mounts it makes private first). What these calls give a
 * thread of an unprivileged tsyd, any unprivileged process has (namespaces of its own).
 */
const UNIX_BIND_CALLS = new Set(['unshare', 'chroot', 'open_tree', 'move_mount', 'fsopen', 'fsmount', 'setns']);

/** The deny-list of one thread kind: [syscall, reason]. */
export function confinementRules(kind: ThreadKind): Array<[string, string]> {
  switch (kind) {
    case 'emulator':
      // Emulators write the results of emulated calls (stat buffers, link targets) into the
      // program with process_vm_writev: it stays allowed for them alone.
      // SAFETY: listen stays allowed for emulators alone: they perform the program's listen on
      // their copy of its socket (handlers/net.ts: decided on that copy, so that a dup2 onto
      // the fd number after the check cannot make the kernel listen on another socket). They
      // still create no socket and accept no connection.
      return [...COMMON.filter(([n]) => !UNIX_BIND_CALLS.has(n)), ...NO_SOCKETS.filter(([n]) => n !== 'listen')];
    case 'interrupter':
      return [...COMMON, ...NO_PROGRAM_WRITES, ['unshare', 'set up before confinement'], ['process_vm_readv', 'reads only /proc status'], ...NO_SOCKETS];
    case 'ipc':
      return [...COMMON, ...NO_PROGRAM_WRITES, ['unshare', 'set up before confinement'], ['process_vm_readv', 'never reads the program'], ...IPC_NO_OPENS];
    case 'aes':
      return [...COMMON, ...NO_PROGRAM_WRITES, ['unshare', 'set up before confinement'], ['process_vm_readv', 'never reads the program'], ...AES_NO_OPENS];
  }
}

/**
 * The BPF program of one thread kind (errno EPERM for the listed calls, allow the rest). The
 * emulators' also bounds the ids of their credential calls (emulator-filter.ts): tsyd's own
 * and, with SafeSetID, the transits' targets (`bounds`; tsyd's own ids only by default).
 */
export function confinementFilter(kind: ThreadKind, bounds?: CredentialBounds): Buffer {
  if (kind === 'emulator') return emulatorFilter(confinementRules(kind).map(([name]) => name), bounds ?? credentialBounds());
  const deny: Array<[number, number]> = [];
  for (const [name] of confinementRules(kind)) {
    const nr = native.syscalls[name];
    if (nr !== undefined) deny.push([nr, os.errno.EPERM]);
  }
  return native.buildFilter([], deny);
}
