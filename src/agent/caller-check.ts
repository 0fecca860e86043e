// Is the caller of a notification a process of the container the listener was claimed for?
// The runtime's message names the container (its pid); the listener it sends comes with no
// proof that it is that container's. A client of the agent's socket could send a listener of
// its own with another container's pid, and have its calls decided in that container's view
// (its root, its credentials bound). Each notification's caller is checked instead.
import { native } from '../native/addon.js';
import type { ContainerView } from '../shared/thread-config.js';

/**
 * SAFETY: true only when `pid` (a notification's caller, in the agent's pid namespace) has the
 * pid namespace and the root (device, inode) the claimed process had when the listener came.
 * Read while the caller waits in its notification; a pid reused meanwhile makes the notification
 * invalid, so the answer never reaches another process.
 */
export function inContainer(pid: number, view: Pick<ContainerView, 'pidNs' | 'root'>): boolean {
  return native.procIdentity(pid, 'ns/pid') === view.pidNs && native.procIdentity(pid, 'root') === view.root;
}
