// Giving an existing object a new name (rename, link) must not give it a decision more
// permissive than the one it has now: otherwise a denied file renamed or linked into an allowed
// directory would be readable (or writable, executable, visible, deletable) under its new name.
import { constants as os } from 'node:os';
import type { Capability } from '../../sandbox/rules.js';
import type { EmulatorContext } from '../emulator-context.js';
import { refuse, refusePath } from './common.js';

const { EXDEV } = os.errno;

/** What an object keeps across a rename (its content, its mode, its place in the tree). */
export const RENAME_KEEPS: readonly Capability[] = ['read', 'write', 'stat', 'exec', 'delete'];
/** What a hard link shares with the old name (deleting the new name leaves the old one). */
export const LINK_KEEPS: readonly Capability[] = ['read', 'write', 'stat', 'exec'];

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
 * decided differently under the new name, tsyd answers EXDEV, the errno of a rename across
 * file systems: mv, cp and libraries fall back to copying file by file, where every file is
 * decided on its own. Checked for files too (a file swapped for a directory after this check
 * must not slip through). Returns true when it answered.
 */
export function refuseSubtreeChange(ctx: EmulatorContext, sys: string, from: string, to: string): boolean {
  if (ctx.policy.sameDecisionsBelow(from, to)) return false;
  ctx.log.info({ ctx: 'access', op: 'rename_across_rules', sys, from, to }, 'rename answered EXDEV: the paths below would be decided differently');
  refuse(EXDEV);
  return true;
}
