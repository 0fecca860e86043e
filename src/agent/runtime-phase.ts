// The runtime's own calls under a container's filter. An OCI runtime loads the container's
// seccomp filter in its init process, sends the listener to the agent, and then still runs its
// own code before it executes the container's program: runc opens its exec FIFO (a host file,
// through /proc/self/fd) and execs. Those calls are the runtime's, not the container's: they run
// as the runtime made them. The container's first exec is decided, as every call after it.
import { existsSync } from 'node:fs';
import { Answer, native } from '../native/addon.js';
import type { ContainerView } from '../shared/thread-config.js';
import type { Request } from '../syscalls/request.js';

/** Whether thread `tid` is a thread of process `pid` now (the caller of a live notification: its tid is not reused while it waits). */
function threadOf(tid: number, pid: number): boolean {
  return tid === pid || existsSync(`/proc/${pid}/task/${tid}`);
}

/**
 * Answers CONTINUE and returns true when `req` comes from the runtime's init process before any
 * exec was notified, and is not an exec. Returns false (the call is decided) otherwise.
 * SAFETY: the runtime's part is the init process the listener came with (`view.runtimePid`, any
 * of its threads) until the first exec of anything ends it for good (`ctl[programWord]`): from
 * then on that very pid is the container's program, whatever file it runs (a bind mount of the
 * runtime's own binary included). The exported profile always notifies execve and execveat
 * (src/export/oci-seccomp.ts), so no exec goes unseen. A caller whose exe is no longer the one
 * the init process ran when the listener came (`view.runtimeExe`) ends it too: a profile that
 * lets an exec through unseen still has the container's program decided (unless that program is
 * the runtime's binary: such a profile is not tsyd's). The caller is checked while it waits in
 * this notification, and the notification is checked valid afterwards (no reused tid).
 */
export function runtimeCall(req: Request, view: ContainerView, ctl: Int32Array, execNrs: ReadonlySet<number>): boolean {
  if (Atomics.load(ctl, view.programWord) !== 0) return false;
  if (execNrs.has(req.nr)) {
    Atomics.store(ctl, view.programWord, 1);
    return false;
  }
  if (!threadOf(req.pid, view.runtimePid)) return false;
  if (native.exeIdentity(req.pid) !== view.runtimeExe) {
    Atomics.store(ctl, view.programWord, 1);
    return false;
  }
  if (!req.idValid()) return false;
  native.respond(Answer.continue);
  return true;
}
