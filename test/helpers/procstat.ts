// What a process holds, read from /proc: its open fds, its threads, its descendants. The
// reliability tests compare these before and after a workload to find leaks.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The targets of a process's open fds (fd number → link text), read from /proc/PID/fd. */
export function openFds(pid: number): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync(`/proc/${pid}/fd`)) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/${pid}/fd/${name}`));
    } catch {
      // closed between the listing and the readlink
    }
  }
  return fds;
}

/** The names (comm) of a process's threads, sorted, e.g. ['node', 'tsyd_emu', 'tsyd_emu', …]. */
export function threadNames(pid: number): string[] {
  const names: string[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      names.push(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return names.sort();
}

/** Parent pid of `pid` from /proc/PID/stat, or undefined if it is gone. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** Every live process below `pid` (children, grandchildren, …), zombies included. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = parentOf(Number(name));
    if (ppid !== undefined) parent.set(Number(name), ppid);
  }
  const below: number[] = [];
  const frontier = [pid];
  while (frontier.length > 0) {
    const p = frontier.pop()!;
    for (const [child, ppid] of parent) {
      if (ppid === p) {
        below.push(child);
        frontier.push(child);
      }
    }
  }
  return below;
}

/**
 * The start time of `pid` (field 22 of /proc/PID/stat, in clock ticks since boot) and whether it
 * is a zombie, or undefined if it is gone. A pid with the start time recorded earlier is the same
 * process, not a reuse of its number.
 */
export function procIdentity(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: fields[19]!, zombie: fields[0] === 'Z' };
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (a zombie counts as existing). */
export function exists(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** The difference between two fd tables, for an assertion message. */
export function fdDiff(before: Map<number, string>, after: Map<number, string>): string {
  const lines: string[] = [];
  for (const [fd, target] of after) if (before.get(fd) !== target) lines.push(`+${fd} -> ${target}`);
  for (const [fd, target] of before) if (after.get(fd) !== target) lines.push(`-${fd} -> ${target}`);
  return lines.join('\n');
}

/** True for tsyd's reaper (the program's parent, thread name tsyd_reaper). */
export function isReaper(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'tsyd_reaper';
  } catch {
    return false;
  }
}

/** The processes of the sandbox below tsyd `pid`: its descendants but the reaper. */
export function sandboxBelow(pid: number): number[] {
  return descendants(pid).filter((p) => !isReaper(p));
}

/** Every live process whose argv holds `token` (a test's marker), zombies left out. */
export function processesWithArgument(token: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (!readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').includes(token)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') found.push(Number(name));
    } catch {
      // ended between the listing and the read
    }
  }
  return found;
}
