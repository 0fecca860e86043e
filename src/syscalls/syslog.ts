// syslog(SYSLOG_ACTION_READ_ALL) reads the kernel log that /dev/kmsg gives: decided as a read of
// /dev/kmsg, then continued (no path, nothing the program can swap: the kernel's own checks,
// dmesg_restrict and CAP_SYSLOG, apply to the program as they would). Its other actions are
// answered by the filter (syscall-table.ts).
import { constants as os } from 'node:os';
import type { EmulatorContext, HandlerSpec } from './context.js';

const KERNEL_LOG = '/dev/kmsg';

function readKernelLog(ctx: EmulatorContext): void {
  // SAFETY: the same log by another door: a policy that keeps /dev/kmsg from being read keeps
  // this from it too (EPERM, what the kernel says when dmesg_restrict refuses it).
  if (!ctx.allows('read', 'syslog', KERNEL_LOG)) return ctx.req.fail(os.errno.EPERM);
  ctx.req.continue();
}

export function syslogHandlers(): Map<string, HandlerSpec> {
  return new Map<string, HandlerSpec>([['syslog', { caps: ['read'], handle: readKernelLog }]]);
}
