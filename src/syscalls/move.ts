// Giving an existing object a new name (rename, link) must not give it a decision more
// permissive than the one it has now: otherwise a denied file renamed or linked into an allowed
// directory would be readable (or writable, executable, visible, deletable) under its new name.
import type { Capability } from '../sandbox/rules.js';
import type { EmulatorContext } from './context.js';
import { fromBytes } from '../sandbox/bytes.js';
import { refusePath } from './common.js';

/** What an object keeps across a rename (its content, its mode, its place in the tree). */
/** (A UNIX socket keeps its listener: net/connect and net/bind path rules count as well.) */
export const RENAME_KEEPS: readonly Capability[] = ['read', 'write', 'stat', 'exec', 'delete', 'net/connect', 'net/bind'];
/** What a hard link shares with the old name (deleting the new name leaves the old one). */
export const LINK_KEEPS: readonly Capability[] = ['read', 'write', 'stat', 'exec', 'net/connect', 'net/bind'];

/**
 * SAFETY: refuses (and answers) when `to` would be allowed a capability that `from` is denied.
 * Returns true when it answered.
 */
export function refuseWidening(ctx: EmulatorContext, sys: string, from: string, to: string, caps: readonly Capability[]): boolean {
  for (const cap of caps) {
    if (ctx.policy.isOn(cap) && ctx.policy.check(cap, to) && !ctx.allows(cap, sys, from)) {
      refusePath(ctx, from);
      return true;
    }
  }
  return false;
}

/**
 * SAFETY: a renamed directory takes its whole subtree along. When any path below it would be
 * decided differently under the new name, a directory may not move: tsyd answers EXDEV (the
 * errno of a rename across file systems; mv, cp and libraries then copy file by file, each file
 * decided on its own). The type is checked by the addon right before renameat2 on the checked
 * parent; a directory swapped in during that instant could only have come there by a rename
 * that was itself decided this way. True when a directory must not move.
 */
export function subtreeWouldChange(ctx: EmulatorContext, sys: string, from: string, to: string): boolean {
  if (ctx.audit) return false;
  const difference = ctx.policy.firstDifferenceBelow(from, to);
  if (difference === null) return false;
  const { cap, suffix } = difference;
  const why = suffix === undefined ? 'too many rules to compare (fail closed)' : `${cap} of ${fromBytes(`${from}/${suffix}`)} and ${fromBytes(`${to}/${suffix}`)} differ`;
  ctx.log.debug({ ctx: 'access', op: 'rename_across_rules', sys, from: fromBytes(from), to: fromBytes(to), cap, suffix: suffix === undefined ? undefined : fromBytes(suffix) }, `a directory here would answer EXDEV: the paths below would be decided differently (${why})`);
  return true;
}
