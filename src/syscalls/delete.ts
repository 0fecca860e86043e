// The delete capability: unlink, unlinkat, rmdir (and the source of rename, in rename.ts).
// Emulated: tsyd removes the last name from the checked parent directory.
import { constants as os } from 'node:os';
import { FsOp, Resolve } from '../native/addon.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { AT_REMOVEDIR, entryOf, Last, refusePath, resolveVisible } from './common.js';
import { settleCryptName } from './crypt.js';
import { args, type PathArg } from './request.js';

const { EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY } = os.errno;

/** unlink(path), rmdir(path), unlinkat(dirfd, path, flags). */
const UNLINK = args('path');
const UNLINKAT = args('dirfd', 'path', 'flags');

function remove(ctx: EmulatorContext, sys: string, at: PathArg, flags: number): void {
  const { req } = ctx;
  if (flags & ~AT_REMOVEDIR) return req.fail(EINVAL);
  const path = resolveVisible(ctx, sys, at, Resolve.noFollow | Resolve.slashEntry);
  if (path === null) return;
  ctx.fault(path);
  // "dir/." and "dir/..": no entry to remove (the kernel's answers).
  const last = req.last;
  if (last >= Last.dot) return req.fail(!(flags & AT_REMOVEDIR) ? EISDIR : last === Last.dot ? EINVAL : ENOTEMPTY);
  // unlink("name/"): the entry itself (a symlink is not followed) is no file to unlink.
  const entry = entryOf(ctx);
  if (entry.slash && !(flags & AT_REMOVEDIR)) return req.fail(entry.missing ? ENOENT : entry.dir ? EISDIR : ENOTDIR);
  if (!ctx.allows('delete', sys, path)) return refusePath(ctx, path);
  if (!(flags & AT_REMOVEDIR) && !settleCryptName(ctx, path, true)) return;
  // The flags travel as a value (AT_REMOVEDIR), not as an argument position.
  req.fsOp(FsOp.unlink, flags);
}

export function deleteHandlers(): Map<string, HandlerSpec> {
  const caps = ['delete', 'stat'] as const;
  return new Map<string, HandlerSpec>([
    ['unlink', { caps, handle: (ctx) => remove(ctx, 'unlink', UNLINK, 0) }],
    ['rmdir', { caps, handle: (ctx) => remove(ctx, 'rmdir', UNLINK, AT_REMOVEDIR) }],
    ['unlinkat', { caps, handle: (ctx) => remove(ctx, 'unlinkat', UNLINKAT, ctx.req.int(UNLINKAT.flags)) }],
  ]);
}
