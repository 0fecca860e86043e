// The IPC socket (ipc:PATH or ipc:@NAME) is tsyd's, never the program's: whatever its rules
// say (allow/net/connect+/***), a connect to it is refused. Decided before the policy, by the
// socket's identity: the abstract name, or the socket file's st_dev and st_ino (a hard link, a
// renamed path, a /proc/PID/fd/N name of it are the same file). The addon checks the identity
// again on the very file it connects to (addon/net.cc IsGuarded): no swap after this look wins.
import { statSync } from 'node:fs';
import { constants as os } from 'node:os';
import { SockKind } from '../native/addon.js';
import type { EmulatorContext } from './context.js';

const { EACCES } = os.errno;

/** EACCES (after one containment record) when the address just read (`kind`) names the IPC socket; else 0. */
export function ipcSocketVerdict(ctx: EmulatorContext, sys: string, kind: number): number {
  const guard = ctx.ipc;
  if (guard === undefined) return 0;
  if (kind === SockKind.abstract) {
    // libuv binds an abstract name NUL-padded to the whole sun_path: the name with or without its padding.
    if (guard.abstract === undefined || ctx.req.net.abstractName().replace(/\0+$/, '') !== guard.abstract) return 0;
  } else if (kind === SockKind.unixPath) {
    if (guard.dev === undefined) return 0;
    const st = statSync(ctx.req.net.unixPath(), { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isSocket() || st.dev !== guard.dev || st.ino !== guard.ino) return 0;
  } else return 0;
  ctx.refuseAct(sys, "tsyd's IPC socket", false);
  return EACCES;
}
