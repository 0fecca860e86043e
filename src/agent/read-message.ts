// Reads one runtime message from a connection of the agent's socket: its text (until its JSON
// object has closed, or EOF: runc keeps the connection open until the agent closes it) and the one
// fd that came with it. Every way a client may hold the agent's resources while it sends is bounded:
// one fd, MAX_MESSAGE_BYTES of text, MESSAGE_TIMEOUT_MS, each byte looked at once (no parse here).
import { native } from '../native/addon.js';
import { JsonEnd } from './json-end.js';
import { BadMessage, MAX_MESSAGE_BYTES } from './message.js';

const EAGAIN = 11;
/** A client must have sent its whole message (and closed) within this. */
const MESSAGE_TIMEOUT_MS = 2000;
const RETRY_MS = 5;

/** What readMessage needs of a connection. */
export interface MessageSource {
  /** recvmsg into `buf`: [n, fd...] (n bytes, the fds received) or [-errno]; non-blocking. */
  recv(buf: Buffer): number[];
  close(fd: number): void;
  /** True once the connection was closed for a newer one (its fd number may be another's by now). */
  evicted(): boolean;
}

/** A connection's fd of the agent's socket, read with recvmsg. */
export function socketSource(fd: number, evicted: () => boolean): MessageSource {
  return { recv: (buf) => native.recvFds(fd, buf), close: (f) => native.close(f), evicted };
}

/** Reads one message from `source`; throws BadMessage after closing every fd received. */
export async function readMessage(source: MessageSource): Promise<{ text: string; fds: number[] }> {
  const buf = Buffer.alloc(MAX_MESSAGE_BYTES + 1);
  const fds: number[] = [];
  const end = new JsonEnd();
  let got = 0;
  const deadline = Date.now() + MESSAGE_TIMEOUT_MS;
  try {
    for (;;) {
      const [n, ...received] = source.recv(buf.subarray(got));
      fds.push(...received);
      // SAFETY: the runtime sends exactly one fd (seccompFd). A second one refuses the connection
      // at once, every fd closed: a connection holds at most one fd of its client while it sends
      // (atkagent3: 8 fds per one-byte message, kept until the end, filled the agent's fd table).
      if (fds.length > 1) throw new BadMessage(`${fds.length} fds: the runtime sends exactly one (seccompFd)`);
      if (n! === 0) break;
      if (n! > 0) {
        got += n!;
        if (got > MAX_MESSAGE_BYTES) throw new BadMessage(`more than ${MAX_MESSAGE_BYTES} bytes`);
        if (end.feed(buf.subarray(got - n!, got))) break;
        continue;
      }
      if (n! !== -EAGAIN) throw new BadMessage(`recvmsg failed (errno ${-n!})`);
      if (Date.now() > deadline) throw new BadMessage(`no end of message within ${MESSAGE_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, RETRY_MS));
      // SAFETY: an evicted connection's fd is closed (its number may be another's by now): never read again.
      if (source.evicted()) throw new BadMessage('closed: newer connections of the same uid waited');
    }
  } catch (err) {
    for (const f of fds) source.close(f);
    throw err;
  }
  return { text: buf.toString('utf8', 0, got), fds };
}
