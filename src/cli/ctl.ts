// `tsyd ctl SOCKET COMMAND...`: the IPC client. Sends each command on its own line, waits for
// its answer and prints it; exit 0 only if every answer was `ok` or a value, 1 otherwise
// (an `error: ...` answer, a refused or missing socket, a connection closed early).
import { Socket } from 'node:net';
import { UsageError } from '../errors.js';
import { CONNECT_RETRY_MS, connectRetrying } from './ctl-connect.js';

export interface CtlCommand {
  command: 'ctl';
  socket: string;
  lines: string[];
}

/** `ctl` arguments → the command; a missing socket or command is a usage error (125). */
export function parseCtl(rest: string[]): CtlCommand {
  const [socket, ...lines] = rest;
  if (socket === undefined || lines.length === 0) throw new UsageError('ctl needs a SOCKET (a path or @NAME) and at least one COMMAND (see tsyd ctl --help)');
  const bad = lines.find((l) => l.includes('\n'));
  if (bad !== undefined) throw new UsageError(`ctl: a command is one line, got '${bad.replace(/\n/g, '\\n')}'`);
  return { command: 'ctl', socket, lines };
}

/** Reads the socket's answers line by line. */
class LineReader {
  private pending = '';
  private readonly lines: string[] = [];
  private waiter?: (line: string | undefined) => void;
  private ended = false;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.pending += chunk;
      for (let nl = this.pending.indexOf('\n'); nl >= 0; nl = this.pending.indexOf('\n')) {
        this.lines.push(this.pending.slice(0, nl));
        this.pending = this.pending.slice(nl + 1);
      }
      this.flush();
    });
    socket.on('close', () => {
      this.ended = true;
      this.flush();
    });
  }

  next(): Promise<string | undefined> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.flush();
    });
  }

  private flush(): void {
    if (!this.waiter) return;
    const w = this.waiter;
    if (this.lines.length > 0) {
      this.waiter = undefined;
      w(this.lines.shift());
    } else if (this.ended) {
      this.waiter = undefined;
      w(undefined);
    }
  }
}

/** What a failed connect's errno means to the operator. */
const WHY: Record<string, string> = {
  ENOENT: ' (no such socket)',
  ECONNREFUSED: ' (nothing listens there)',
  EAGAIN: ` (its queue stayed full for ${CONNECT_RETRY_MS / 1000} s: another process may be flooding it; a path socket, ipc:/PATH, cannot be reached by other uids)`,
};

/** Runs `cmd`: the exit status. */
export async function runCtl(cmd: CtlCommand): Promise<number> {
  const path = cmd.socket.startsWith('@') ? `\0${cmd.socket.slice(1)}` : cmd.socket;
  const socket = await connectRetrying(path);
  if (!(socket instanceof Socket)) {
    process.stderr.write(`tsyd: ctl: cannot connect to ${cmd.socket}: ${socket.code ?? socket.message}${WHY[socket.code ?? ''] ?? ''}\n`);
    return 1;
  }
  socket.on('error', () => {});
  const reader = new LineReader(socket);
  let ok = true;
  for (const line of cmd.lines) {
    socket.write(`${line}\n`);
    const reply = await reader.next();
    if (reply === undefined) {
      process.stderr.write(`tsyd: ctl: ${cmd.socket} closed the connection before answering '${line}'\n`);
      ok = false;
      break;
    }
    process.stdout.write(`${reply}\n`);
    if (reply.startsWith('error:')) {
      ok = false;
      // The server closes after these: the rest would not be answered.
      if (reply === 'error: permission denied' || reply === 'error: line too long' || reply.startsWith('error: too many clients')) break;
    }
  }
  socket.end();
  return ok ? 0 : 1;
}
