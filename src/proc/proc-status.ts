// Reading /proc/<tid>/status: the signal masks the interrupter needs, and the thread group.
import { readFileSync } from 'node:fs';

export interface SignalState {
  tgid: number;
  ppid: number;
  /** Thread-pending | process-pending, not blocked by the thread. */
  deliverable: bigint;
  /** Signals with a handler installed. */
  caught: bigint;
}

function hex(status: string, field: string): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

function num(status: string, field: string): number {
  const m = new RegExp(`^${field}:\\s*(\\d+)$`, 'm').exec(status);
  return m ? Number(m[1]) : 0;
}

/** null when the thread is gone. Synchronous: supervisor threads never use the thread pool. */
export function readSignalState(tid: number): SignalState | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  const pending = hex(status, 'SigPnd') | hex(status, 'ShdPnd');
  return {
    tgid: num(status, 'Tgid'),
    ppid: num(status, 'PPid'),
    deliverable: pending & ~hex(status, 'SigBlk'),
    caught: hex(status, 'SigCgt'),
  };
}

export function tgidOf(tid: number): number {
  try {
    return num(readFileSync(`/proc/${tid}/status`, 'latin1'), 'Tgid');
  } catch {
    return 0;
  }
}

/** Real, effective, saved and file system uids and gids of a thread, and its supplementary groups; null when it is gone. */
export function readCredentials(tid: number): { uid: number[]; gid: number[]; groups: number[] } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${tid}/status`, 'latin1');
  } catch {
    return null;
  }
  const ids = (field: string) => (/^\w+:\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status.slice(status.indexOf(`\n${field}:`) + 1)) ?? []).slice(1).map(Number);
  const uid = ids('Uid');
  const gid = ids('Gid');
  const groups = /^Groups:([\t \d]*)$/m.exec(status);
  if (uid.length !== 4 || gid.length !== 4 || groups === null) return null;
  return { uid, gid, groups: groups[1]!.trim().split(/\s+/).filter((g) => g !== '').map(Number) };
}

/** The capability numbers in the effective set (CapEff) of `pid`; throws when it is gone. */
export function readEffectiveCapabilities(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  if (!/^CapEff:/m.test(status)) throw new Error(`no CapEff in /proc/${pid}/status`);
  const bits = hex(status, 'CapEff');
  return Array.from({ length: 64 }, (_, i) => i).filter((i) => ((bits >> BigInt(i)) & 1n) === 1n);
}
