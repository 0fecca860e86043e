// The capabilities the program starts without (addon/spawn.cc drops them in the child for good),
// and so the ones an emulator thread acts without (addon/privilege.cc): tsyd never lends a
// privilege. A root program keeps what ordinary root work needs (file ownership and modes,
// DAC override, kill, binding low ports, ...) and loses what reaches around the policy.
import type { Policy } from '../sandbox/policy.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_SYS_PTRACE = 19;

/** Always dropped, with why. */
const ALWAYS: ReadonlyArray<[number, string]> = [
  [19, "CAP_SYS_PTRACE: other processes' /proc/PID/mem, fds and environment past non-dumpable"],
  [21, 'CAP_SYS_ADMIN: freezing file systems, privileged ioctls, quotas, swap: the machine itself'],
  [17, 'CAP_SYS_RAWIO: /dev/mem, /proc/kcore (all memory: every secret in the page cache), raw SCSI'],
  [16, 'CAP_SYS_MODULE: kernel modules (also refused by the filter)'],
  [22, 'CAP_SYS_BOOT: reboot and kexec (also refused by the filter)'],
  [25, "CAP_SYS_TIME: the machine's clock (also refused by the filter)"],
  [26, "CAP_SYS_TTY_CONFIG: hanging up the user's terminal (vhangup, TIOCVHANGUP)"],
  [34, 'CAP_SYSLOG: the kernel log, which /dev/kmsg rules would not decide'],
  [18, 'CAP_SYS_CHROOT: a new root for paths (also refused by the filter)'],
  [20, 'CAP_SYS_PACCT: process accounting into any file (also refused by the filter)'],
  [23, "CAP_SYS_NICE: real-time priorities that starve tsyd's threads and the machine"],
  [9, 'CAP_LINUX_IMMUTABLE: immutable and append-only files that outlive the sandbox'],
  [27, 'CAP_MKNOD: device nodes (mknod of a device is refused as well)'],
  [31, 'CAP_SETFCAP: file capabilities: a binary that gains privileges when run outside the sandbox'],
  [15, "CAP_IPC_OWNER: other users' SysV IPC objects past their modes"],
  [32, 'CAP_MAC_OVERRIDE: the security module'],
  [33, 'CAP_MAC_ADMIN: the security module'],
  [30, 'CAP_AUDIT_CONTROL: the audit subsystem'],
  [37, 'CAP_AUDIT_READ: the audit log'],
  [35, 'CAP_WAKE_ALARM: waking the machine'],
  [36, 'CAP_BLOCK_SUSPEND: keeping the machine awake'],
  [38, 'CAP_PERFMON: performance monitoring of others (also refused by the filter)'],
  [39, 'CAP_BPF: eBPF (also refused by the filter)'],
  [40, 'CAP_CHECKPOINT_RESTORE: other processes through checkpointing interfaces'],
];

/** The capabilities a program under `policy` loses, with why (for the export and the README). */
export function capabilityDrops(policy: Policy): ReadonlyArray<[number, string]> {
  const net = policy.isOn('net/connect') || policy.isOn('net/bind') || policy.stopsEveryDecidedCall;
  // SAFETY: with net rules on, a raw socket (IP_HDRINCL names any destination in its header) or
  // netfilter (NAT of an allowed address to another) would route around every address rule.
  return net
    ? [...ALWAYS, [CAP_NET_RAW, 'CAP_NET_RAW: raw sockets name any destination'], [CAP_NET_ADMIN, 'CAP_NET_ADMIN: NAT and routes rewrite destinations']]
    : ALWAYS;
}

/** The capability numbers a program under `policy` loses. */
export function droppedCapabilities(policy: Policy): number[] {
  return capabilityDrops(policy).map(([cap]) => cap);
}
