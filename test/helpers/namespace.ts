// Runs a command in a mount namespace of its own, with /etc/passwd replaced by a file of the
// test and /srv a fresh tmpfs: the real /etc and /srv stay untouched whatever the command does.
import { runNative, type RunResult } from './tsyd.js';

/**
 * Runs `argv` (as `user`, when given) where /etc/passwd is `passwd` (bind-mounted) and /srv a
 * fresh tmpfs prepared by `setup` (sh, as root).
 */
export function inNamespace(passwd: string, setup: string, argv: string[], user?: number): Promise<RunResult> {
  const asUser = user === undefined ? [] : ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--clear-groups'];
  const script = `mount --bind "$0" /etc/passwd && mount -t tmpfs tsyd-test /srv && ${setup} && exec "$@"`;
  return runNative('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, passwd, ...asUser, ...argv], { env: { PATH: '/usr/bin:/bin' }, timeoutMs: 60_000 });
}
