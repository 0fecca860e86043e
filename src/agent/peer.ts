// Who may hand the agent a listener: the peer of a connection (SO_PEERCRED) is root, the agent's
// own user, or a user the operator allows (--allow-uid: rootless podman's user). The message's
// claims are checked against that peer: an allowed user's container process must be its own.
import { inOtherNamespace } from '../proc/namespaces.js';
import { native } from '../native/addon.js';
import { readCredentials } from '../proc/proc-status.js';

/** Root or the agent's own user: the runtime, trusted to name any container. */
export function isRuntimeUid(uid: number): boolean {
  return uid === 0 || uid === process.getuid!();
}

/** SAFETY: a connection of any other uid is closed before a byte of it is read. */
export function peerServed(uid: number, allowed: ReadonlySet<number>): boolean {
  return isRuntimeUid(uid) || allowed.has(uid);
}

/**
 * Why `pid` (the process the message claims loaded the filter) may not be claimed by a peer of
 * `uid`, or undefined when it may. Root and the agent's own user are the runtime: trusted. SAFETY:
 * an allowed user (its runtime in a user namespace: the container's root is that user) claims
 * only a process whose real and effective uid are its own, or one in a user namespace it owns
 * (not the agent's), never another user's container.
 */
export function claimRefused(pid: number, uid: number): string | undefined {
  if (isRuntimeUid(uid)) return undefined;
  const creds = readCredentials(pid);
  if (creds === null) return `pid ${pid} is gone`;
  if (creds.uid[0] === uid && creds.uid[1] === uid) return undefined;
  // A user namespace that uid owns (rootless: process.user mapped to one of its sub-uids): that
  // uid holds every capability over its processes already.
  if (ownedUserNs(pid) === uid) return undefined;
  return `pid ${pid} is not a process of uid ${uid}, the client, nor in a user namespace it owns`;
}

/** The owner of `pid`'s user namespace when it is not the agent's, else -1. */
function ownedUserNs(pid: number): number {
  try {
    if (!inOtherNamespace(pid, 'user')) return -1;
  } catch {
    return -1;
  }
  return native.userNsOwner(pid);
}
