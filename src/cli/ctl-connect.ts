// `tsyd ctl`'s connect: a connect that finds the socket's queue full (EAGAIN: Node's connect
// never waits) is tried again for a bounded time, with a short backoff.
import { createConnection, type Socket } from 'node:net';

/** How long EAGAIN is retried before ctl gives up. */
export const CONNECT_RETRY_MS = 5_000;
const FIRST_BACKOFF_MS = 2;
const MAX_BACKOFF_MS = 50;

/**
 * A socket connected to `path` (a path, or a NUL and an abstract name), or the error of the
 * last attempt. SAFETY: another uid may keep an abstract socket's queue full (it connects and
 * closes in a loop: tsyd refuses it, but must accept each connection first); the operator gets
 * through as soon as one place frees, within CONNECT_RETRY_MS.
 */
export async function connectRetrying(path: string): Promise<Socket | NodeJS.ErrnoException> {
  const until = Date.now() + CONNECT_RETRY_MS;
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(2 * backoff, MAX_BACKOFF_MS)) {
    const socket = createConnection({ path });
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      socket.once('connect', () => resolve(undefined));
      socket.once('error', (e) => resolve(e));
    });
    if (err === undefined) return socket;
    socket.destroy();
    if (err.code !== 'EAGAIN' || Date.now() >= until) return err;
    await new Promise((resolve) => setTimeout(resolve, backoff));
  }
}
