// The delete capability: unlink, unlinkat, rmdir (and the source of rename, in rename.ts).
// Emulated: tsyd removes the last name from the checked parent directory.
import { constants as os } from 'node:os';
import { FsOp, native, Resolve, Slot } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { arg32, AT_REMOVEDIR, CWD, entryOf, Last, refuse, refusePath, resolveVisible } from './common.js';

const { EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY } = os.errno;

function remove(ctx: EmulatorContext, sys: string, dirfdArg: number, pathArg: number, flags: number): void {
  if (flags & ~AT_REMOVEDIR) return refuse(EINVAL);
  const path = resolveVisible(ctx, sys, dirfdArg, pathArg, Resolve.noFollow | Resolve.slashEntry);
  if (path === null) return;
  ctx.fault(path);
  // "dir/." and "dir/..": no entry to remove (the kernel's answers).
  const last = ctx.slots[Slot.pathMissing]!;
  if (last >= Last.dot) return refuse(!(flags & AT_REMOVEDIR) ? EISDIR : last === Last.dot ? EINVAL : ENOTEMPTY);
  // unlink("name/"): the entry itself (a symlink is not followed) is no file to unlink.
  const entry = entryOf(ctx);
  if (entry.slash && !(flags & AT_REMOVEDIR)) return refuse(entry.missing ? ENOENT : entry.dir ? EISDIR : ENOTDIR);
  if (!ctx.allows('delete', sys, path)) return refusePath(ctx, path);
  native.fsOp(FsOp.unlink, flags);
}

export function deleteHandlers(): Map<string, HandlerSpec> {
  const caps = ['delete', 'stat'] as const;
  return new Map<string, HandlerSpec>([
    ['unlink', { caps, handle: (ctx) => remove(ctx, 'unlink', CWD, 0, 0) }],
    ['rmdir', { caps, handle: (ctx) => remove(ctx, 'rmdir', CWD, 0, AT_REMOVEDIR) }],
    ['unlinkat', { caps, handle: (ctx) => remove(ctx, 'unlinkat', 0, 1, arg32(ctx.slots, 2)) }],
  ]);
}
