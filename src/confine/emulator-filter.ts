// The emulator threads' confinement: the deny-list of thread-filters.ts, and argument checks
// on the credential calls (SafeSetID, addon/act-as.cc): an emulator thread takes the caller's
// credentials for a request, so it may call set*id, but only with tsyd's own ids and the
// target ids of the declared transits (setuid+SRC:DST): the ids a program of this sandbox can
// have. SAFETY: an emulator taken over by a bug cannot make itself any other user or group.
// setgroups' list is in memory the filter cannot read (accepted: README, SafeSetID; a program's
// groups are its groups at start or none: src/syscalls/credentials.ts lets only setgroups(0) go on).
import { constants as os } from 'node:os';
import { Assembler, Op } from './bpf.js';
import { archPrologue, argLo, RET } from './program-filter.js';
import { native } from '../native/addon.js';
import { readCredentials } from '../proc/proc-status.js';
import type { IdRange } from '../proc/id-maps.js';
import type { Transits } from '../sandbox/setid-policy.js';

/** The ids an emulator thread may take: each one listed, and (tsyd agent) whole ranges. */
export interface CredentialBounds {
  uids: number[];
  gids: number[];
  /** A container's user namespace: the ids it maps (src/agent/container.ts). */
  uidRanges?: IdRange[];
  gidRanges?: IdRange[];
}

/** (uid_t)-1: "leave this id unchanged" (and setfsuid(-1) only reads the fs id). */
const UNCHANGED = 0xffffffff;

/** set*id calls and how many id arguments each takes. */
const UID_CALLS: Record<string, number> = { setuid: 1, setreuid: 2, setresuid: 3, setfsuid: 1 };
const GID_CALLS: Record<string, number> = { setgid: 1, setregid: 2, setresgid: 3, setfsgid: 1 };

/** tsyd's own ids (real, effective, saved, fs) and the transits' target ids. */
export function credentialBounds(transits?: Transits): CredentialBounds {
  const own = readCredentials(process.pid);
  if (own === null) throw new Error('cannot read tsyd\'s own credentials from /proc/self/status');
  const uniq = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);
  return { uids: uniq([...own.uid, ...(transits?.targets('uid') ?? [])]), gids: uniq([...own.gid, ...(transits?.targets('gid') ?? [])]) };
}

/** The emulator filter: `deny` → EPERM, set*id with ids outside `bounds` → EPERM, the rest allowed. */
export function emulatorFilter(deny: string[], bounds: CredentialBounds): Buffer {
  const a = new Assembler();
  archPrologue(a, native.arch);
  const eperm = a.label('eperm');
  const allow = a.label('allow');
  const checks: Array<{ label: ReturnType<Assembler['label']>; args: number; ids: number[]; ranges: IdRange[] }> = [];
  const calls: Array<[Record<string, number>, number[], IdRange[]]> = [
    [UID_CALLS, bounds.uids, bounds.uidRanges ?? []],
    [GID_CALLS, bounds.gids, bounds.gidRanges ?? []],
  ];
  for (const [table, ids, ranges] of calls) {
    for (const [name, args] of Object.entries(table)) {
      const nr = native.syscalls[name];
      if (nr === undefined) continue;
      const check = a.label(name);
      const next = a.label('next');
      a.jump(Op.JEQ_K, nr, check, next).bind(next);
      checks.push({ label: check, args, ids: [...ids, UNCHANGED], ranges });
    }
  }
  for (const name of deny) {
    const nr = native.syscalls[name];
    if (nr === undefined) continue;
    const next = a.label('next');
    a.jump(Op.JEQ_K, nr, eperm, next).bind(next);
  }
  a.bind(allow).ret(RET.allow);
  for (const c of checks) {
    a.bind(c.label);
    for (let i = 0; i < c.args; i++) {
      // The low 32 bits: uid_t and gid_t are 32-bit, the kernel ignores the rest.
      a.load(argLo(i));
      const ok = a.label('ok');
      for (const id of c.ids) {
        const miss = a.label('miss');
        a.jump(Op.JEQ_K, id, ok, miss).bind(miss);
      }
      // first <= id < first + count (count >= 1, first + count <= 2^32 - 1: id-maps.ts).
      for (const r of c.ranges) {
        const inside = a.label('from');
        const miss = a.label('miss');
        a.jump(Op.JGE_K, r.first, inside, miss).bind(inside);
        a.jump(Op.JGE_K, r.first + r.count, miss, ok).bind(miss);
      }
      a.goto(eperm);
      a.bind(ok);
    }
    a.ret(RET.allow);
  }
  a.bind(eperm).ret(RET.errno | os.errno.EPERM);
  return a.assemble();
}
