// truncate(path, length): the write capability. Emulated: tsyd truncates the checked file
// through its own O_PATH fd (/proc/thread-self/fd/N), so a swapped path cannot redirect it.
// ftruncate acts on an fd the program opened through a checked open: not intercepted. A file
// under a lease of another process makes truncate wait: the addon does it on a job thread.
import { FsOp, OFFLOAD_FULL } from '../native/addon.js';
import type { HandlerSpec } from './context.js';
import { refusePath, resolveVisible } from './common.js';
import { args } from './request.js';
import { truncateCryptFile } from './crypt.js';

const TRUNCATE = args('path', 'length');

export function truncateHandlers(): Map<string, HandlerSpec> {
  return new Map<string, HandlerSpec>([
    [
      'truncate',
      {
        caps: ['write', 'stat'],
        handle: (ctx) => {
          const path = resolveVisible(ctx, 'truncate', TRUNCATE, 0);
          if (path === null) return;
          ctx.fault(path);
          if (!ctx.allows('write', 'truncate', path)) return refusePath(ctx, path);
          if (truncateCryptFile(ctx, path, TRUNCATE.length)) return;
          if (ctx.req.fsOp(FsOp.truncate, TRUNCATE.length) === OFFLOAD_FULL) ctx.jobsExhausted('truncate');
        },
      },
    ],
  ]);
}
