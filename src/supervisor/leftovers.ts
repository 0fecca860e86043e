// The program's leftovers. The program's parent is tsyd's reaper (addon/spawn.cc), a child
// subreaper: every process the program leaves behind becomes the reaper's child, never init's,
// in the CLI and in the library alike. Once the program has ended, tsyd kills the whole tree
// below the reaper, then releases the reaper, which kills and reaps what is left until nothing is.
import { native } from '../native/addon.js';
import { hasNoChild, parentPid, procPids } from '../proc/proc-tree.js';

interface Proc {
  ppid: number;
}

function procParent(pid: number | string): Proc | undefined {
  const ppid = parentPid(pid);
  return ppid === undefined ? undefined : { ppid };
}

/** Every process on the machine, from /proc. */
function allProcesses(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  for (const name of procPids()) {
    const p = procParent(name);
    if (p) all.set(Number(name), p);
  }
  return all;
}

/** Every process below `root` (children, grandchildren, …), from /proc. */
export function descendants(root: number): Map<number, Proc> {
  const all = allProcesses();
  const below = new Map<number, Proc>();
  let frontier = new Set([root]);
  while (frontier.size > 0) {
    const next = new Set<number>();
    for (const [pid, p] of all) {
      if (frontier.has(p.ppid) && !below.has(pid)) {
        below.set(pid, p);
        next.add(pid);
      }
    }
    frontier = next;
  }
  return below;
}

/** SIGKILL through a pidfd, only if the process is still below `root` once the pidfd is held. */
function killBelow(pid: number, root: number, tree: Map<number, unknown>): boolean {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(pid);
  } catch {
    return false; // reaped meanwhile
  }
  try {
    // SAFETY: the pidfd pins this process: if its parent is still in the tree, it is the one
    // we listed, not a process that got a recycled pid; if it died meanwhile, the signal goes
    // nowhere.
    const ppid = procParent(pid)?.ppid;
    if (ppid === undefined || (ppid !== root && !tree.has(ppid))) return false;
    return native.pidfdSendSignal(pidfd, 9) === 0;
  } catch {
    return false;
  } finally {
    native.close(pidfd);
  }
}

/**
 * Kills (SIGKILL) every process below `root` (the reaper), the whole tree each round (a chain
 * must not be peeled one level per round), until none is left; the reaper reaps them.
 * SAFETY: a process in state Z is signalled too: a thread-group leader that ended with
 * SYS_exit shows Z while its other threads run on (a zombie leader is not a dead process).
 * Resolves with how many were killed, and how many are left after `timeoutMs` (a critical
 * failure for the caller).
 */
export async function killLeftovers(root: number, timeoutMs = 5000): Promise<{ killed: number; left: number }> {
  const killed = new Set<number>();
  const end = Date.now() + timeoutMs;
  for (;;) {
    // Most programs leave nothing: one read of the reaper's children, not every process's stat.
    const tree = hasNoChild(root) ? new Map<number, Proc>() : descendants(root);
    if (tree.size === 0) return { killed: killed.size, left: 0 };
    // Every round, every process: a recycled pid below the reaper is a new process.
    for (const pid of tree.keys()) if (killBelow(pid, root, tree)) killed.add(pid);
    if (Date.now() > end) return { killed: killed.size, left: tree.size };
    await new Promise((r) => setTimeout(r, 1));
  }
}
