// The program's piped output gathered for the result (with a bound: maxBuffer), its input
// written, and the end of a run decided by the caller: `signal`, `timeout`, `maxBuffer` (SIGTERM,
// then SIGKILL after `killGrace` ms, as execa's forceKillAfterDelay).
import type { Readable, Writable } from 'node:stream';
import { TsydError } from '../errors.js';

/** What one piped stream gave, up to `max` bytes; past it, `onOverflow` once. */
export class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  overflowed = false;
  /** Settles when the stream has ended (EOF, error or destroyed). */
  readonly done: Promise<void>;

  constructor(stream: Readable, max: number, onOverflow: () => void) {
    this.done = new Promise((resolve) => {
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    stream.on('data', (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (this.overflowed) return;
      if (this.size + b.length > max) {
        this.chunks.push(b.subarray(0, max - this.size));
        this.size = max;
        this.overflowed = true;
        onOverflow();
        return;
      }
      this.chunks.push(b);
      this.size += b.length;
    });
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Writes `input` to the program's stdin and closes it; a program that does not read it (EPIPE) is no error. */
export function writeInput(stdin: Writable, input: string | Uint8Array): void {
  stdin.on('error', () => {});
  stdin.end(input);
}

export type EndReason = 'abort' | 'timeout' | 'maxBuffer';

/** The first reason the caller ended the run: the program is sent SIGTERM, SIGKILL `killGrace` ms later. */
export class Ending {
  reason: EndReason | undefined;
  error: TsydError | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private readonly cleanups: Array<() => void> = [];

  constructor(
    private readonly kill: (signal: NodeJS.Signals) => boolean,
    private readonly killGrace: number,
  ) {}

  /** Ends the run when `signal` aborts. */
  watchSignal(signal: AbortSignal): void {
    const onAbort = () => this.end('abort', new TsydError('ABORT_ERR', `aborted (option signal)${reasonText(signal.reason)}`, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    this.cleanups.push(() => signal.removeEventListener('abort', onAbort));
  }

  /** Ends the run after `ms` milliseconds. */
  watchTimeout(ms: number): void {
    this.timeoutTimer = setTimeout(() => this.end('timeout', new TsydError('ETIMEDOUT', `timed out after ${ms} ms (option timeout)`)), ms);
  }

  end(reason: EndReason, error: TsydError): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.error = error;
    if (!this.kill('SIGTERM')) return;
    this.graceTimer = setTimeout(() => this.kill('SIGKILL'), this.killGrace);
  }

  /** The program has ended: no more kills. */
  stop(): void {
    clearTimeout(this.graceTimer);
    clearTimeout(this.timeoutTimer);
    for (const c of this.cleanups) c();
  }
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.name === 'AbortError' ? '' : `: ${reason.message}`;
  return reason === undefined ? '' : `: ${String(reason)}`;
}

/** The error a signal that was already aborted at spawn() gives (the program is not started). */
export function abortedBeforeStart(signal: AbortSignal): TsydError {
  return new TsydError('ABORT_ERR', `aborted before the program started (option signal)${reasonText(signal.reason)}`, { cause: signal.reason });
}
