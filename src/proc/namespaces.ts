// Whether a process is in another namespace than tsyd (its /proc/PID/ns link names another one).
import { readlinkSync } from 'node:fs';

/** `pid` is in another `kind` namespace than tsyd's; throws when its link cannot be read (gone). */
export function inOtherNamespace(pid: number, kind: 'pid' | 'user'): boolean {
  return readlinkSync(`/proc/${pid}/ns/${kind}`) !== readlinkSync(`/proc/self/ns/${kind}`);
}
