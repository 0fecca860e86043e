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

/** Which of real/effective/saved/fs ids each argument (by position) may set (setuid sets all it may). */
type Kind = 'uid' | 'gid';
const SHAPES: Record<string, { kind: Kind; args: number[][] }> = {
  setuid: { kind: 'uid', args: [[0, 1, 2, 3]] },
  setgid: { kind: 'gid', args: [[0, 1, 2, 3]] },
  setreuid: { kind: 'uid', args: [[0], [1, 2, 3]] },
  setregid: { kind: 'gid', args: [[0], [1, 2, 3]] },
  setresuid: { kind: 'uid', args: [[0], [1, 3], [2]] },
  setresgid: { kind: 'gid', args: [[0], [1, 3], [2]] },
  setfsuid: { kind: 'uid', args: [[3]] },
  setfsgid: { kind: 'gid', args: [[3]] },
};

function refuse(ctx: EmulatorContext, sys: string, fields: Record<string, unknown>, why: string): void {
  ctx.log.warn({ ctx: 'setid', sys, pid: ctx.req.pid, ...fields }, `refused ${sys}: ${why}`);
  ctx.req.fail(EPERM);
}

function decide(ctx: EmulatorContext, sys: string): void {
  const shape = SHAPES[sys]!;
  const { req } = ctx;
  const creds = readCredentials(req.pid);
  if (creds === null) return req.fail(EPERM);
  const current = creds[shape.kind];
  const transits = ctx.policy.transits;
  for (let i = 0; i < shape.args.length; i++) {
    const want = req.int(i);
    if (want === UNCHANGED) continue;
    const to = want >>> 0;
    // Every id this argument could set keeps its value, or moves along a declared transit.
    for (const slot of shape.args[i]!) {
      const from = current[slot]!;
      if (from === to || transits.allows(shape.kind, from, to)) continue;
      const why = transits.declared ? `no transit ${shape.kind} ${from} → ${to} is declared` : 'credentials cannot change under tsyd (no transit is declared)';
      return refuse(ctx, sys, { kind: shape.kind, from, want: to }, why);
    }
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
  for (const sys of Object.keys(SHAPES)) h.set(sys, { caps: [], handle: (ctx) => decide(ctx, sys) });
  h.set('setgroups', { caps: [], handle: decideGroups });
  h.set('capset', { caps: [], handle: decideCapset });
  return h;
}
