// The program's leftovers. A process the program started that outlives it is orphaned; with
// this process as a child subreaper (the CLI: PR_SET_CHILD_SUBREAPER) it becomes our child
// instead of init's, so tsyd can reap it while the program runs and kill it when the program
// has ended. Only for a process that runs nothing but one sandbox: every child is the sandbox's.
import { readdirSync, readFileSync } from 'node:fs';
import { native } from './native/addon.js';

interface Child {
  pid: number;
  zombie: boolean;
}

/** Whether `pid` is a zombie (ended, not reaped); undefined if it is gone. */
function isZombie(pid: number): boolean | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return undefined; // reaped meanwhile
  }
}

/**
 * Our child processes. /proc/self/task/TID/children lists each thread's children (an orphan is
 * given to any live thread of a subreaper): a few small reads, where a scan of /proc reads one
 * file per process on the machine (37 ms of `tsyd run -- true` with 400 processes).
 */
function children(): Child[] {
  const pids = new Set<number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      let list: string;
      try {
        list = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && tid === String(process.pid)) throw err;
        continue; // the thread ended meanwhile
      }
      for (const p of list.split(' ')) if (p !== '' && p !== '\n') pids.add(Number(p));
    }
  } catch {
    return scanChildren(); // a kernel without CONFIG_PROC_CHILDREN
  }
  const found: Child[] = [];
  for (const pid of pids) {
    const zombie = isZombie(pid);
    if (zombie !== undefined) found.push({ pid, zombie });
  }
  return found;
}

/** Our child processes, from the parent pid of every process in /proc. */
function scanChildren(): Child[] {
  const self = process.pid;
  const found: Child[] = [];
  for (const name of readdirSync('/proc')) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === self) found.push({ pid: Number(name), zombie: fields[0] === 'Z' });
  }
  return found;
}

/** Reaps the children that have ended, but never `keep` (the program: its watcher reaps it). */
export function reapEnded(keep: number): void {
  for (const c of children()) if (c.zombie && c.pid !== keep) native.reapChild(c.pid);
}

/**
 * Kills (SIGKILL) and reaps every child of ours until none is left: the program's orphans, and
 * theirs as they are orphaned in turn. Resolves with how many were killed, and how many could
 * not be reaped within `timeoutMs`.
 */
export async function killLeftovers(timeoutMs = 5000): Promise<{ killed: number; left: number }> {
  const killed = new Set<number>();
  const end = Date.now() + timeoutMs;
  for (;;) {
    const now = children();
    for (const c of now) {
      // SAFETY: a child we have not reaped keeps its pid: the signal cannot reach a recycled
      // pid. SIGKILL: a sandboxed process must not run on without its supervisor.
      if (!c.zombie && !killed.has(c.pid)) {
        killed.add(c.pid);
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // ended meanwhile
        }
      }
      native.reapChild(c.pid);
    }
    if (now.length === 0) return { killed: killed.size, left: 0 };
    if (Date.now() > end) return { killed: killed.size, left: now.length };
    await new Promise((r) => setTimeout(r, 5));
  }
}
