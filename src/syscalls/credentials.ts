// setuid & co.: tsyd opens files with its own credentials, which are the program's at start
// (no_new_privs: no gain by exec). A program that changed its ids would get tsyd's access
// through emulated calls (a confused deputy), so credentials cannot change.
// Calls that change nothing are let through: GNU make, for one, calls setregid/setreuid with
// the ids it already has, and fails if they are refused.
// SAFETY: the ids are register arguments, not memory the program could change after the
// check; the current ids come from /proc/<tid>/status of the caller.
import { constants as os } from 'node:os';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { readCredentials } from '../proc/proc-status.js';

const { EPERM } = os.errno;
const UNCHANGED = -1;

/** Which of real/effective/saved/fs ids each argument (by position) may set (setuid sets all it may). */
type Kind = 'uid' | 'gid';
const SHAPES: Record<string, { kind: Kind; args: number[][] }> = {
  setuid: { kind: 'uid', args: [[0, 1, 2, 3]] },
  setgid: { kind: 'gid', args: [[0, 1, 2, 3]] },
  setreuid: { kind: 'uid', args: [[0], [1, 2, 3]] },
  setregid: { kind: 'gid', args: [[0], [1, 2, 3]] },
  setresuid: { kind: 'uid', args: [[0], [1, 3], [2]] },
  setresgid: { kind: 'gid', args: [[0], [1, 3], [2]] },
  setfsuid: { kind: 'uid', args: [[3]] },
  setfsgid: { kind: 'gid', args: [[3]] },
};

function decide(ctx: EmulatorContext, sys: string): void {
  const shape = SHAPES[sys]!;
  const { req } = ctx;
  const creds = readCredentials(req.pid);
  if (creds === null) return req.fail(EPERM);
  const current = creds[shape.kind];
  for (let i = 0; i < shape.args.length; i++) {
    const want = req.int(i);
    if (want === UNCHANGED) continue;
    // Only a no-op: every id this argument could set already has this value.
    if (!shape.args[i]!.every((slot) => current[slot] === want >>> 0)) {
      ctx.log.warn({ ctx: 'access', cap: 'credentials', sys, pid: req.pid, want: want >>> 0 }, `refused ${sys}: credentials cannot change under tsyd`);
      return req.fail(EPERM);
    }
  }
  // setfsuid/setfsgid return the previous fs id; the kernel does that when continued.
  req.continue();
}

export function credentialHandlers(): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  for (const sys of Object.keys(SHAPES)) h.set(sys, { caps: [], handle: (ctx) => decide(ctx, sys) });
  return h;
}
