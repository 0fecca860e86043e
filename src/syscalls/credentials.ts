// setuid & co. (SafeSetID). Without declared transits credentials cannot change: tsyd acts
// with the credentials the program started with, and a program that changed its ids would get
// tsyd's access through emulated calls (a confused deputy). With transits (`setuid+SRC:DST`,
// `setgid+SRC:DST`) a call goes on when every id it changes moves along a declared transit,
// and from then on the emulators act with the caller's new credentials (actors/follow-credentials.ts).
// Calls that change nothing are let through either way: GNU make, for one, calls
// setregid/setreuid with the ids it already has, and fails if they are refused.
// SAFETY: the ids are register arguments, not memory the program could change after the
// check; the current ids come from /proc/<tid>/status of the caller, read at decision time.
// The kernel then performs the call with the program's own privileges (CAP_SETUID or not).
import { constants as os } from 'node:os';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { readCredentials } from '../proc/proc-status.js';

const { EPERM } = os.errno;
const UNCHANGED = -1;
/** NGROUPS_MAX: the kernel refuses a larger list (EINVAL) before it reads it. */
const NGROUPS_MAX = 65536;

type Kind = 'uid' | 'gid';
const KINDS: Record<string, Kind> = {
  setuid: 'uid', setgid: 'gid', setreuid: 'uid', setregid: 'gid',
  setresuid: 'uid', setresgid: 'gid', setfsuid: 'uid', setfsgid: 'gid',
};
const SLOTS = ['real', 'effective', 'saved', 'fs'] as const;

/**
 * The real, effective, saved and fs ids after the call, as the kernel sets them (kernel/sys.c)
 * from the caller's current ones. SAFETY: where the kernel's outcome depends on what tsyd does
 * not read (CAP_SETUID for setuid; the no-op shortcut of newer kernels for setres*id), the
 * outcome that changes more slots is taken: every slot that may change is checked.
 */
export function idsAfter(sys: string, current: readonly number[], args: readonly number[]): number[] {
  const [r, e, s, fs] = current as [number, number, number, number];
  const arg = (i: number, old: number) => (args[i] === UNCHANGED ? old : args[i]! >>> 0);
  switch (sys) {
    case 'setuid':
    case 'setgid': {
      // With CAP_SETUID every slot; without it only effective and fs (a subset).
      const to = arg(0, e);
      return args[0] === UNCHANGED ? [r, e, s, fs] : [to, to, to, to];
    }
    case 'setreuid':
    case 'setregid': {
      // The saved id takes the new effective one when the real id is set, or when the effective
      // id is set to other than the old real one: setreuid(X, -1) sets saved := old effective.
      const re = arg(1, e);
      const saved = args[0] !== UNCHANGED || (args[1] !== UNCHANGED && re !== r) ? re : s;
      return [arg(0, r), re, saved, re];
    }
    case 'setresuid':
    case 'setresgid': {
      const re = arg(1, e);
      return [arg(0, r), re, arg(2, s), re];
    }
    default: // setfsuid, setfsgid
      return [r, e, s, arg(0, fs)];
  }
}

function refuse(ctx: EmulatorContext, sys: string, fields: Record<string, unknown>, why: string): void {
  if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'setid', sys, pid: ctx.req.pid, ...fields }, `refused ${sys}: ${why}`);
  ctx.req.fail(EPERM);
}

function decide(ctx: EmulatorContext, sys: string): void {
  const kind = KINDS[sys]!;
  const { req } = ctx;
  const creds = readCredentials(req.pid);
  if (creds === null) return req.fail(EPERM);
  const current = creds[kind];
  const after = idsAfter(sys, current, [req.int(0), req.int(1), req.int(2)]);
  const transits = ctx.policy.transits;
  // Every id keeps its value, or moves along a declared transit.
  for (let slot = 0; slot < SLOTS.length; slot++) {
    const from = current[slot]!;
    const to = after[slot]!;
    if (from === to || transits.allows(kind, from, to)) continue;
    const why = transits.declared ? `no transit ${kind} ${from} → ${to} is declared (${SLOTS[slot]} id)` : 'credentials cannot change under tsyd (no transit is declared)';
    return refuse(ctx, sys, { kind, slot: SLOTS[slot], from, want: to }, why);
  }
  // setfsuid/setfsgid return the previous fs id; the kernel does that when continued.
  req.continue();
}

/**
 * setgroups: only with transits declared, and only to none (size 0: drop every group).
 * SAFETY: a non-empty list is program memory: tsyd would check one copy and the kernel read
 * another, which a racing thread can swap in between (an attack won in 8-24 tries). The size is
 * a register, so "none" is the only list tsyd can decide for certain: any other is EPERM, even a
 * subset of the caller's groups (a deviation from "drop only", README SafeSetID).
 */
function decideGroups(ctx: EmulatorContext): void {
  const { req } = ctx;
  // Without transits: refused as the program's filter did before transits existed (no record).
  if (!ctx.policy.transits.declared) return req.fail(EPERM);
  const size = req.int(0);
  // An empty list, or a size the kernel refuses (EINVAL) before it reads anything.
  if (size <= 0 || size > NGROUPS_MAX) return req.continue();
  refuse(ctx, 'setgroups', { size }, 'a list in memory can change after tsyd reads it: only setgroups to none is allowed');
}

/**
 * capset: with transits declared, the kernel decides it (a process can only lower its
 * capabilities, or raise effective ones within its permitted set) and tsyd follows the
 * caller's effective set, never beyond what it had at start (addon/act-as.cc); setpriv, for
 * one, applies its capability sets after changing ids. Without transits tsyd does not follow
 * them: refused, as the program's filter did before.
 * SAFETY: continued without reading its memory: no decision depends on it.
 */
function decideCapset(ctx: EmulatorContext): void {
  if (!ctx.policy.transits.declared) return ctx.req.fail(EPERM);
  ctx.req.continue();
}

export function credentialHandlers(): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  for (const sys of Object.keys(KINDS)) h.set(sys, { caps: [], handle: (ctx) => decide(ctx, sys) });
  h.set('setgroups', { caps: [], handle: decideGroups });
  h.set('capset', { caps: [], handle: decideCapset });
  return h;
}
