// Interim answers for calls the filter now stops and whose handlers land in later commits of
// this change (net: listen, setsockopt; stat: the *xattrat family). Removed with those commits.
import { constants as os } from 'node:os';
import { Answer, native } from '../../native/addon.js';
import type { HandlerSpec } from '../emulator-context.js';

export function pendingHandlers(): Map<string, HandlerSpec> {
  const enosys = () => void native.respond(Answer.error, os.errno.ENOSYS);
  return new Map<string, HandlerSpec>([
    ['getxattrat', { caps: ['stat'], handle: enosys }],
    ['listxattrat', { caps: ['stat'], handle: enosys }],
    ['file_getattr', { caps: ['stat'], handle: enosys }],
  ]);
}
