// The IPC sockets (ipc:PATH or ipc:@NAME) are tsyd's, never a program's: whatever its rules
// say (allow/net/connect+/***), a connect to any of this process's (its own sandbox's or
// another's: IpcSockets) is refused. Decided before the policy, by the
// socket's identity: the abstract name, or the socket file's st_dev and st_ino (a hard link, a
// renamed path, a /proc/PID/fd/N name of it are the same file). The addon checks the identity
// again on the very file it connects to (addon/net.cc IsGuarded): no swap after this look wins.
import { statSync } from 'node:fs';
import { constants as os } from 'node:os';
import { native, SockKind } from '../native/addon.js';
import type { IpcGuard } from '../shared/thread-config.js';
import type { EmulatorContext } from './context.js';

const { EACCES } = os.errno;

/** The list the addon checks last (this thread's): set again when the process's list changed. */
let inAddon: IpcGuard[] | undefined;

/** EACCES (after one containment record) when the address just read (`kind`) names an IPC socket of this process; else 0. */
export function ipcSocketVerdict(ctx: EmulatorContext, sys: string, kind: number): number {
  const guards = ctx.ipcSockets.list();
  if (guards !== inAddon) {
    inAddon = guards;
    native.guardSocket(...guards.flatMap((g) => (g.dev !== undefined && g.ino !== undefined ? [g.dev, g.ino] : [])));
  }
  if (kind === SockKind.abstract) {
    // libuv binds an abstract name NUL-padded to the whole sun_path: the name with or without its padding.
    const name = ctx.req.net.abstractName().replace(/\0+$/, '');
    if (!guards.some((g) => g.abstract === name)) return 0;
  } else if (kind === SockKind.unixPath) {
    if (!guards.some((g) => g.dev !== undefined)) return 0;
    const st = statSync(Buffer.from(ctx.req.net.unixPath(), 'latin1'), { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isSocket() || !guards.some((g) => st.dev === g.dev && st.ino === g.ino)) return 0;
  } else return 0;
  ctx.refuseAct(sys, "tsyd's IPC socket", false);
  return EACCES;
}
