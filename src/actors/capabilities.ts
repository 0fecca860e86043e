// The capabilities the program starts without (addon/spawn.cc drops them in the child), and so
// the ones an emulator thread acts without (addon/privilege.cc): tsyd never lends a privilege.
import type { Policy } from '../sandbox/policy.js';

export const CAP_NET_ADMIN = 12;
export const CAP_NET_RAW = 13;
export const CAP_SYS_PTRACE = 19;

/**
 * SAFETY: CAP_SYS_PTRACE always (it opens other processes' /proc/PID/mem, fds and environment
 * past non-dumpable); with a net capability on (or a policy that can still change) CAP_NET_RAW
 * and CAP_NET_ADMIN (a raw socket names any destination in its header; NAT rewrites one).
 */
export function droppedCapabilities(policy: Policy): number[] {
  const net = policy.isOn('net/connect') || policy.isOn('net/bind') || policy.lock === 'off';
  return net ? [CAP_SYS_PTRACE, CAP_NET_RAW, CAP_NET_ADMIN] : [CAP_SYS_PTRACE];
}
