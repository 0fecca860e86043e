// The runtime's message on the agent's socket (OCI runtime spec, "Seccomp" / listenerPath): the
// container's seccomp listener as SCM_RIGHTS, with the container process state as JSON text:
// {"ociVersion":…,"fds":["seccompFd"],"pid":…,"metadata":…,"state":{"id":…,"pid":…,"bundle":…}}.
// Anything else on the socket is refused here, its fds closed: the agent never serves an fd it
// did not check.
import { readlinkSync } from 'node:fs';
import { native } from '../native/addon.js';

/** What a container's listener comes with. */
export interface ContainerMessage {
  /** The container's id (state.id). */
  id: string;
  /** The process that loaded the filter, in the agent's pid namespace (runc init, then the container's first process). */
  pid: number;
  /** listenerMetadata, as the runtime passed it ('' when none). */
  metadata: string;
  bundle?: string;
  /** The seccomp listener (the agent owns it). */
  listenerFd: number;
}

/** A message over this size is not a runtime's. */
export const MAX_MESSAGE_BYTES = 64 * 1024;
const MAX_ID_LENGTH = 1024;

/** How the kernel names a seccomp listener in /proc/self/fd. */
const LISTENER_LINK = 'anon_inode:seccomp notify';

export class BadMessage extends Error {}

/** Checks the runtime's message (`text`, the fds received with it); throws BadMessage after closing every fd. */
export function parseMessage(text: string, fds: number[]): ContainerMessage {
  try {
    return checked(text, fds);
  } catch (err) {
    for (const fd of fds) native.close(fd);
    throw err instanceof BadMessage ? err : new BadMessage(String((err as Error).message));
  }
}

function checked(text: string, fds: number[]): ContainerMessage {
  if (fds.length !== 1) throw new BadMessage(`${fds.length} fds: the runtime sends exactly one (seccompFd)`);
  const fd = fds[0]!;
  let link: string;
  try {
    link = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw new BadMessage('the fd is not open');
  }
  // SAFETY: only a seccomp listener is served (another fd would be polled and answered as one).
  if (link !== LISTENER_LINK) throw new BadMessage(`the fd is ${link}, not a seccomp listener`);
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new BadMessage('the message is not JSON');
  }
  const msg = m as { fds?: unknown; pid?: unknown; metadata?: unknown; state?: { id?: unknown; pid?: unknown; bundle?: unknown } };
  if (typeof msg !== 'object' || msg === null) throw new BadMessage('the message is not a JSON object');
  if (!Array.isArray(msg.fds) || msg.fds.length !== 1 || msg.fds[0] !== 'seccompFd') throw new BadMessage('fds is not ["seccompFd"]');
  const id = msg.state?.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) throw new BadMessage('state.id is not a container id');
  const pid = msg.pid ?? msg.state?.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) throw new BadMessage('pid is not a process id');
  const metadata = msg.metadata ?? '';
  if (typeof metadata !== 'string') throw new BadMessage('metadata is not text');
  const bundle = typeof msg.state?.bundle === 'string' ? msg.state.bundle : undefined;
  return { id, pid, metadata, listenerFd: fd, ...(bundle !== undefined ? { bundle } : {}) };
}
