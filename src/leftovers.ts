// The program's leftovers. A process the program started that outlives it is orphaned; with
// this process as a child subreaper (the CLI: PR_SET_CHILD_SUBREAPER) it becomes our child
// instead of init's, so tsyd can reap it while the program runs and kill it when the program
// has ended. Only for a process that runs nothing but one sandbox: every child is the sandbox's.
import { readdirSync, readFileSync } from 'node:fs';
import { native } from './native/addon.js';

interface Proc {
  ppid: number;
  /** Ended, not reaped yet. */
  zombie: boolean;
}

/** A process's parent and state, from /proc/PID/stat; undefined once it is gone. */
function procStat(pid: number | string): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), zombie: fields[0] === 'Z' };
  } catch {
    return undefined; // ended (and reaped) meanwhile
  }
}

/** Every process on the machine, from /proc. */
function allProcesses(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const p = procStat(name);
    if (p) all.set(Number(name), p);
  }
  return all;
}

/**
 * Our child processes. /proc/self/task/TID/children lists each thread's children (an orphan is
 * given to any live thread of a subreaper): a few small reads, where a scan of /proc reads one
 * file per process on the machine (37 ms of `tsyd run -- true` with 400 processes).
 */
function children(): Map<number, Proc> {
  const found = new Map<number, Proc>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      let list: string;
      try {
        list = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(process.pid)) throw err;
        continue; // the thread ended meanwhile
      }
      for (const pid of list.split(' ')) {
        const p = pid.trim() === '' ? undefined : procStat(pid.trim());
        if (p) found.set(Number(pid), p);
      }
    }
    return found;
  } catch {
    // A kernel without CONFIG_PROC_CHILDREN.
    return new Map([...allProcesses()].filter(([, p]) => p.ppid === process.pid));
  }
}

/** Reaps the children that have ended, but never `keep` (the program: its watcher reaps it). */
export function reapEnded(keep: number): void {
  for (const [pid, p] of children()) if (p.zombie && pid !== keep) native.reapChild(pid);
}

/** Every process below this one (children, grandchildren, …), from /proc. */
function descendants(): Map<number, Proc> {
  const all = allProcesses();
  const below = new Map<number, Proc>();
  let frontier = new Set([process.pid]);
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

/** SIGKILL through a pidfd, only if the process is still below us once the pidfd is held. */
function killBelow(pid: number, tree: Map<number, unknown>): boolean {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(pid);
  } catch {
    return false; // ended meanwhile
  }
  try {
    // SAFETY: the pidfd pins this process: if its parent is still ours (or in our tree), it is
    // the one we listed, not a process that got a recycled pid; if it died meanwhile, the
    // signal goes nowhere (ESRCH).
    const ppid = procStat(pid)?.ppid;
    if (ppid === undefined || (ppid !== process.pid && !tree.has(ppid))) return false;
    return native.pidfdSendSignal(pidfd, 9) === 0;
  } catch {
    return false;
  } finally {
    native.close(pidfd);
  }
}

/**
 * Kills (SIGKILL) every process below this one, the whole tree at once each round (a chain of
 * processes must not be peeled one level per round), and reaps those that become our children,
 * until none is left. Resolves with how many were killed, and how many are left after
 * `timeoutMs` (a critical failure for the caller).
 */
export async function killLeftovers(timeoutMs = 5000): Promise<{ killed: number; left: number }> {
  const killed = new Set<number>();
  const end = Date.now() + timeoutMs;
  for (;;) {
    const tree = descendants();
    // SIGKILL: a sandboxed process must not run on without its supervisor. Every round, to
    // every live one: a recycled pid below us is a new process.
    for (const [pid, p] of tree) if (!p.zombie && killBelow(pid, tree)) killed.add(pid);
    for (const [pid, p] of tree) if (p.ppid === process.pid) native.reapChild(pid);
    if (tree.size === 0) return { killed: killed.size, left: 0 };
    if (Date.now() > end) return { killed: killed.size, left: tree.size };
    await new Promise((r) => setTimeout(r, 1));
  }
}
