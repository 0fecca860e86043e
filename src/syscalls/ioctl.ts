// ioctl: the filter stops only the requests listed in src/confine/syscall-table.ts (the rest
// are the program's business with its own fds). Inode flags and attributes (chattr: append-
// only, immutable, no-dump, project ids) change the file as chmod does: decided as write on
// tsyd's copy of the fd and set on that copy with the value tsyd read. The SIGIO owner
// (FIOSETOWN, SIOCSPGRP) must never be tsyd (processes.ts).
import { IOCTL } from '../confine/syscall-table.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { refusePath, takeFdArg } from './common.js';
import { IOCTL_ARGS, ioctlOwner, readArg } from './processes.js';

/** Attribute requests and the size of their argument. */
const ATTRIBUTES = new Map<number, number>([
  [IOCTL.FS_IOC_SETFLAGS, 4],
  [IOCTL.FS_IOC32_SETFLAGS, 4],
  [IOCTL.FS_IOC_SETVERSION, 4],
  [IOCTL.FS_IOC32_SETVERSION, 4],
  [IOCTL.EXT4_IOC_SETVERSION, 4],
  [IOCTL.EXT4_IOC32_SETVERSION, 4],
  [IOCTL.FS_IOC_FSSETXATTR, 28], // struct fsxattr
]);

function ioctl(ctx: EmulatorContext): void {
  const request = ctx.req.uint(IOCTL_ARGS.request);
  if (request === IOCTL.FIOSETOWN || request === IOCTL.SIOCSPGRP) return ioctlOwner(ctx, request);
  const size = ATTRIBUTES.get(request);
  if (size === undefined || !ctx.policy.isOn('write')) return ctx.req.continue();
  // SAFETY: decided on tsyd's copy of the fd and performed on it: a file opened for reading
  // must not become append-only, immutable or lose its atime through that fd when write is
  // denied; a dup2 after the check changes nothing.
  const path = takeFdArg(ctx, IOCTL_ARGS.fd);
  if (path === null) return;
  if (!ctx.allows('write', 'ioctl', path)) return refusePath(ctx, path);
  const data = readArg(ctx, IOCTL_ARGS.arg, size);
  if (data === null) return;
  ctx.req.ioctlTaken(request, data);
}

export function ioctlHandlers(): Map<string, HandlerSpec> {
  return new Map<string, HandlerSpec>([['ioctl', { caps: [], handle: ioctl }]]);
}
