// The control route: while the policy is not locked (lock:off), the program changes it with
// stat("/dev/tsyd/RULE") — syd's /dev/syd route. stat("/dev/tsyd") tells whether the route is
// open. Once locked (lock:on, or lock:exec after start, or the program's own lock:on) the path
// is an ordinary path that does not exist.
import { constants as os } from 'node:os';
import type { EmulatorContext } from './context.js';

const { EINVAL } = os.errno;
const PREFIX = '/dev/tsyd';

/**
 * Handles the call as a control request when the route is open and the raw path names it.
 * Returns true when it answered. SAFETY: the raw bytes are used only while the program may
 * change the policy anyway; every decision still uses canonical paths.
 */
export function handleControl(ctx: EmulatorContext, pathArg: number): boolean {
  if (!ctx.control.open()) return false;
  const len = ctx.req.readPathArg(pathArg);
  if (len < PREFIX.length) return false;
  const raw = ctx.req.pathText(len);
  if (!raw.startsWith(PREFIX) || (raw.length > PREFIX.length && raw[PREFIX.length] !== '/')) return false;
  const rule = raw.slice(PREFIX.length + 1);
  if (rule === '') {
    ctx.req.succeed(0);
    return true;
  }
  if (ctx.control.apply(rule) === 0) ctx.req.succeed(0);
  else ctx.req.fail(EINVAL);
  return true;
}
