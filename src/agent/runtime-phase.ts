// The runtime's own calls under a container's filter. An OCI runtime loads the container's
// seccomp filter in its init process, sends the listener to the agent, and then still runs its
// own code before it executes the container's program: runc opens its exec FIFO (a host file,
// through /proc/self/fd) and execs. Those calls are the runtime's, not the container's: they run
// as the runtime made them. The container's first exec is decided, as every call after it.
import { Answer, native } from '../native/addon.js';
import type { ContainerView } from '../shared/thread-config.js';
import type { Request } from '../syscalls/request.js';

/**
 * Answers CONTINUE and returns true when `req` comes from the runtime's init process (before the
 * container's program runs) and is not an exec. Returns false (the call is decided) otherwise;
 * the first call of the container's program ends the runtime's part for good (`ctl[programWord]`).
 * SAFETY: the caller is the runtime's binary: its /proc/PID/exe is the very file (device, inode)
 * the init process ran when the listener came — runc's sealed copy of itself (a memfd that no
 * process of the container can reach or exec). The exe is read while the caller waits in this
 * notification, and the notification is checked valid afterwards: the pid was not reused, and
 * no other thread of the caller has exec'd since (an exec ends every other thread, and with it
 * the notification).
 */
export function runtimeCall(req: Request, view: ContainerView, ctl: Int32Array, execNrs: ReadonlySet<number>): boolean {
  if (Atomics.load(ctl, view.programWord) !== 0 || execNrs.has(req.nr)) return false;
  const exe = native.exeIdentity(req.pid);
  if (typeof exe === 'number') return false;
  if (exe !== view.runtimeExe) {
    Atomics.store(ctl, view.programWord, 1);
    return false;
  }
  if (!req.idValid()) return false;
  native.respond(Answer.continue);
  return true;
}
