// rename, renameat, renameat2: the source needs delete, the target create (and delete when an
// existing target is replaced); RENAME_EXCHANGE needs both on both. The new name may not widen
// any decision (move.ts). Emulated with renameat2 on
// the checked parent directories.
import { FsOp, Resolve } from '../native/addon.js';
import type { Capability } from '../sandbox/rules.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { constants as os } from 'node:os';
import { entryOf, Last, refusePath, resolveVisible } from './common.js';
import { refuseWidening, RENAME_KEEPS, subtreeWouldChange } from './move.js';
import { args, type PathArg } from './request.js';
import { refuseCryptMove, settleCryptName } from './crypt.js';

const { EBUSY, ENOTDIR } = os.errno;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

const RENAME = args('oldpath', 'newpath');
const RENAMEAT = args('olddirfd', 'oldpath', 'newdirfd', 'newpath', 'flags');
const RENAME_OLD: PathArg = { path: RENAME.oldpath };
const RENAME_NEW: PathArg = { path: RENAME.newpath };
const RENAMEAT_OLD: PathArg = { dirfd: RENAMEAT.olddirfd, path: RENAMEAT.oldpath };
const RENAMEAT_NEW: PathArg = { dirfd: RENAMEAT.newdirfd, path: RENAMEAT.newpath };
/** No flags argument (rename, renameat). */
const NO_FLAGS = -1;

function decide(ctx: EmulatorContext, sys: string, path: string, caps: Capability[]): boolean {
  for (const cap of caps) if (ctx.policy.isOn(cap) && !ctx.allows(cap, sys, path)) return false;
  return true;
}

function rename(ctx: EmulatorContext, sys: string, src: PathArg, dst: PathArg, flagsArg: number): void {
  const { req } = ctx;
  const flags = flagsArg === NO_FLAGS ? 0 : req.int(flagsArg);
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  const source = resolveVisible(ctx, sys, src, Resolve.noFollow | Resolve.slashEntry);
  if (source === null) return;
  ctx.fault(source);
  // "dir/." or "dir/.." names no entry that could move (the kernel says EBUSY).
  if (req.last >= Last.dot) return req.fail(EBUSY);
  const from = entryOf(ctx);
  if (!decide(ctx, sys, source, exchange ? ['delete', 'create'] : ['delete'])) return refusePath(ctx, source);
  req.savePath();
  const target = resolveVisible(ctx, sys, dst, Resolve.noFollow | Resolve.slashEntry);
  if (target === null) return;
  if (req.last >= Last.dot) return req.fail(EBUSY);
  // Only a directory may be named "name/" (neither entry is followed); the kernel says ENOTDIR.
  const to = entryOf(ctx);
  if (!from.missing && !from.dir && (from.slash || (to.slash && !exchange))) return req.fail(ENOTDIR);
  if (exchange && !to.missing && !to.dir && to.slash) return req.fail(ENOTDIR);
  const replaces = req.last !== Last.missing && (flags & RENAME_NOREPLACE) === 0;
  if (!decide(ctx, sys, target, exchange || replaces ? ['create', 'delete'] : ['create'])) return refusePath(ctx, target);
  // The object keeps what it is: its new name may not widen what the program may do with it.
  if (refuseWidening(ctx, sys, source, target, RENAME_KEEPS)) return;
  if (exchange && refuseWidening(ctx, sys, target, source, RENAME_KEEPS)) return;
  if (refuseCryptMove(ctx, source, target, false)) return;
  if (!settleCryptName(ctx, source, false) || !settleCryptName(ctx, target, false)) return;
  req.fsOp(FsOp.rename, flagsArg, subtreeWouldChange(ctx, sys, source, target) ? 1 : 0);
}

export function renameHandlers(): Map<string, HandlerSpec> {
  const caps: HandlerSpec['caps'] = ['create', ...RENAME_KEEPS];
  return new Map<string, HandlerSpec>([
    ['rename', { caps, handle: (ctx) => rename(ctx, 'rename', RENAME_OLD, RENAME_NEW, NO_FLAGS) }],
    ['renameat', { caps, handle: (ctx) => rename(ctx, 'renameat', RENAMEAT_OLD, RENAMEAT_NEW, NO_FLAGS) }],
    ['renameat2', { caps, handle: (ctx) => rename(ctx, 'renameat2', RENAMEAT_OLD, RENAMEAT_NEW, RENAMEAT.flags) }],
  ]);
}
