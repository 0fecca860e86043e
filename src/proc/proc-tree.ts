// The process tree as /proc shows it: a process's parent, and whether it is below another.
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/PID/stat after comm (state, ppid, pgrp, …); undefined once it is gone. */
export function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // ended and reaped meanwhile
  }
}

/** Every process on the machine: the pids /proc lists (as names). */
export function procPids(): string[] {
  return readdirSync('/proc').filter((name) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57);
}

/**
 * True only when `pid` has no child now: none of its threads lists one in
 * /proc/PID/task/TID/children (a descendant of it is a child's, so it has none either). False
 * when it has one, or when that cannot be read (a kernel without CONFIG_PROC_CHILDREN, the
 * process gone): the caller then looks at every process. SAFETY: a child, a zombie, an orphan
 * handed to it (a subreaper: moved onto its list before the orphan's parent can be reaped) is
 * on the list; with none, it has no descendant at all.
 */
export function hasNoChild(pid: number): boolean {
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    return tasks.length > 0 && tasks.every((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').trim() === '');
  } catch {
    return false;
  }
}

/** A process's parent pid; undefined once it is gone. */
export function parentPid(pid: number | string): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[1]) : undefined;
}

/** True when `pid` is a descendant of `root` (its child, grandchild, …). */
export function isBelow(pid: number, root: number): boolean {
  for (let depth = 0; depth < 4096 && pid > 1; depth++) {
    const parent = parentPid(pid);
    if (parent === undefined) return false;
    if (parent === root) return true;
    pid = parent;
  }
  return false;
}

/**
 * Whether every process of process group `pgid` is stopped (or ending): false while one of them
 * runs, and when the group is gone.
 */
export function groupStopped(pgid: number): boolean {
  let members = 0;
  for (const name of procPids()) {
    const f = statFields(name);
    if (f === undefined || Number(f[2]) !== pgid) continue;
    members++;
    if (!'TtZX'.includes(f[0]!)) return false;
  }
  return members > 0;
}
