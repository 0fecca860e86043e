// The logger of the supervisor threads (monitor, emulators): the same records as the root pino
// logger (src/log.ts) — `{"level":"warn","time":…,"module":…,<fields>,"msg":…}` one per line, or
// the human line — written synchronously to the same fd, without pino. Why: memory. pino and its
// dependencies were a third of an emulator's bundle, loaded and parsed again in every thread
// (bench/memory.ts measures what a thread holds).
import { writeSync } from 'node:fs';
import type { LogFn, LogLevel, LogOptions, TsydLogger } from './log.js';
import { humanLine } from './log-line.js';

/** pino's numbers for its levels, with syd's notice and alert (src/log.ts: customLevels). */
const VALUES: Record<LogLevel, number> = { trace: 10, debug: 20, info: 30, notice: 35, warn: 40, error: 50, alert: 55, fatal: 60, silent: Infinity };
const METHODS = ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'alert', 'fatal'] as const;

type Fields = Record<string, unknown>;

/** An Error as pino's standard serialiser shows it. */
function serialisedError(err: Error): Fields {
  return { type: err.constructor?.name ?? 'Error', message: err.message, stack: err.stack };
}

/** JSON.stringify, but a BigInt is a number's digits and a cycle is cut, as pino's serialiser does. */
function json(record: Fields): string {
  try {
    return JSON.stringify(record);
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(record, (_key, v: unknown) => {
      if (typeof v === 'bigint') return Number(v);
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
  }
}

/** Writes all of `text` to `fd`, waiting out a full non-blocking pipe (as pino's sync destination). */
function writeAll(fd: number, text: string): void {
  // The string as it is, as pino's destination writes it: no Buffer (off-heap memory) per
  // record, which a flood of denials made grow faster than V8 collected it. A Buffer only for
  // the rest of a short write.
  let written: number;
  try {
    written = writeSync(fd, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
    written = 0;
  }
  if (written === Buffer.byteLength(text)) return;
  let buf = Buffer.from(text).subarray(written);
  for (;;) {
    let n: number;
    try {
      n = writeSync(fd, buf);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
    if (n >= buf.length) return;
    buf = buf.subarray(n);
  }
}

class ThreadLogger implements TsydLogger {
  declare trace: LogFn;
  declare debug: LogFn;
  declare info: LogFn;
  declare notice: LogFn;
  declare warn: LogFn;
  declare error: LogFn;
  declare alert: LogFn;
  declare fatal: LogFn;
  private readonly threshold: number;

  constructor(
    private readonly opts: Required<LogOptions>,
    private readonly bindings: Fields,
  ) {
    this.threshold = VALUES[opts.level];
    for (const level of METHODS) {
      const value = VALUES[level];
      // A level that is off is a no-op, as in pino: a call below the threshold builds nothing.
      this[level] = value >= this.threshold ? (first: unknown, second?: unknown) => this.write(level, first, second) : () => {};
    }
  }

  isLevelEnabled(level: string): boolean {
    const value = VALUES[level as LogLevel];
    return value !== undefined && value !== Infinity && value >= this.threshold;
  }

  child(bindings: Fields): TsydLogger {
    return new ThreadLogger(this.opts, { ...this.bindings, ...bindings });
  }

  private write(level: LogLevel, first: unknown, second: unknown): void {
    let fields: Fields | undefined;
    let msg: string | undefined;
    if (first instanceof Error) {
      fields = { err: serialisedError(first) };
      msg = typeof second === 'string' ? second : first.message;
    } else if (typeof first === 'object' && first !== null) {
      fields = first as Fields;
      msg = typeof second === 'string' ? second : undefined;
    } else if (typeof first === 'string') {
      msg = first;
    }
    if (this.opts.format === 'pretty') {
      writeAll(this.opts.fd, humanLine(level, first instanceof Error ? (first as unknown as Fields) : fields, msg));
      return;
    }
    const record: Fields = { level, time: Date.now(), ...this.bindings, ...fields };
    if (msg !== undefined) record.msg = msg;
    writeAll(this.opts.fd, `${json(record)}\n`);
  }
}

/** The root logger of a supervisor thread: what createLogger(opts) makes, without pino. */
export function createThreadLogger(opts: LogOptions & { bindings?: Fields } = {}): TsydLogger {
  return new ThreadLogger({ level: opts.level ?? 'warn', fd: opts.fd ?? 2, format: opts.format ?? 'json' }, opts.bindings ?? {});
}
