// rename, renameat, renameat2: the source needs delete, the target create (and delete when an
// existing target is replaced); RENAME_EXCHANGE needs both on both. The new name may not widen
// any decision (move.ts). Emulated with renameat2 on
// the checked parent directories.
import { FsOp, native, Resolve, Slot } from '../native/addon.js';
import type { Capability } from '../sandbox/rules.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { constants as os } from 'node:os';
import { arg32, CWD, entryOf, Last, refuse, refusePath, resolveVisible } from './common.js';
import { refuseWidening, RENAME_KEEPS, subtreeWouldChange } from './move.js';

const { EBUSY, ENOTDIR } = os.errno;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

function decide(ctx: EmulatorContext, sys: string, path: string, caps: Capability[]): boolean {
  for (const cap of caps) if (ctx.policy.isOn(cap) && !ctx.allows(cap, sys, path)) return false;
  return true;
}

function rename(ctx: EmulatorContext, sys: string, src: [number, number], dst: [number, number], flagsArg: number): void {
  const flags = flagsArg < 0 ? 0 : arg32(ctx.slots, flagsArg);
  const exchange = (flags & RENAME_EXCHANGE) !== 0;
  const source = resolveVisible(ctx, sys, src[0], src[1], Resolve.noFollow | Resolve.slashEntry);
  if (source === null) return;
  ctx.fault(source);
  // "dir/." or "dir/.." names no entry that could move (the kernel says EBUSY).
  if (ctx.slots[Slot.pathMissing]! >= Last.dot) return refuse(EBUSY);
  const from = entryOf(ctx);
  if (!decide(ctx, sys, source, exchange ? ['delete', 'create'] : ['delete'])) return refusePath(ctx, source);
  native.savePath();
  const target = resolveVisible(ctx, sys, dst[0], dst[1], Resolve.noFollow | Resolve.slashEntry);
  if (target === null) return;
  if (ctx.slots[Slot.pathMissing]! >= Last.dot) return refuse(EBUSY);
  // Only a directory may be named "name/" (neither entry is followed); the kernel says ENOTDIR.
  const to = entryOf(ctx);
  if (!from.missing && !from.dir && (from.slash || (to.slash && !exchange))) return refuse(ENOTDIR);
  if (exchange && !to.missing && !to.dir && to.slash) return refuse(ENOTDIR);
  const replaces = ctx.slots[Slot.pathMissing] !== Last.missing && (flags & RENAME_NOREPLACE) === 0;
  if (!decide(ctx, sys, target, exchange || replaces ? ['create', 'delete'] : ['create'])) return refusePath(ctx, target);
  // The object keeps what it is: its new name may not widen what the program may do with it.
  if (refuseWidening(ctx, sys, source, target, RENAME_KEEPS)) return;
  if (exchange && refuseWidening(ctx, sys, target, source, RENAME_KEEPS)) return;
  native.fsOp(FsOp.rename, flagsArg, subtreeWouldChange(ctx, sys, source, target) ? 1 : 0);
}

export function renameHandlers(): Map<string, HandlerSpec> {
  const caps: HandlerSpec['caps'] = ['create', ...RENAME_KEEPS];
  return new Map<string, HandlerSpec>([
    ['rename', { caps, handle: (ctx) => rename(ctx, 'rename', [CWD, 0], [CWD, 1], -1) }],
    ['renameat', { caps, handle: (ctx) => rename(ctx, 'renameat', [0, 1], [2, 3], -1) }],
    ['renameat2', { caps, handle: (ctx) => rename(ctx, 'renameat2', [0, 1], [2, 3], 4) }],
  ]);
}
