// One root pino logger per thread: syd's levels, on stderr (or the log fd), in one of two forms:
// JSON lines for machines, or one short `tsyd: …` line per record for a person (log-line.ts).
// Records carry `ctx` (what part: boot, access, spawn, emulator, ...) and `op` (what step).
import { isatty } from 'node:tty';
import { pino, type Logger } from 'pino';
import { humanLine } from './log-line.js';

export const LEVELS = ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'alert', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LogOptions {
  /** @default 'warn' */
  level?: LogLevel;
  /** @default 2 (stderr) */
  fd?: number;
  /** @default 'json' */
  format?: LogFormat;
}

/** One level's method: pino's call forms that tsyd uses (fields then message, or a message alone). */
export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

/**
 * What tsyd's code calls on a logger: the root pino logger (main thread) and the supervisor
 * threads' own (src/thread-log.ts) both are one.
 */
export interface TsydLogger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  notice: LogFn;
  warn: LogFn;
  error: LogFn;
  alert: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): TsydLogger;
  isLevelEnabled(level: string): boolean;
}

export function isLogLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

export function isLogFormat(s: string): s is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(s);
}

/**
 * The form of the log when none is asked for: a person reads stderr on a terminal; anything
 * else (a pipe, a file, a log fd given) is read by a program.
 */
export function defaultLogFormat(fdGiven: boolean): LogFormat {
  return !fdGiven && isatty(2) ? 'pretty' : 'json';
}

export function createLogger(opts: LogOptions = {}): TsydLogger {
  // Synchronous writes: a denial is on disk before the program sees EACCES, and a
  // crashing supervisor loses nothing.
  const destination = pino.destination({ fd: opts.fd ?? 2, sync: true });
  const pretty = opts.format === 'pretty';
  return pino(
    {
      level: opts.level ?? 'warn',
      customLevels: { notice: 35, alert: 55 },
      base: undefined,
      // `level` is syd's name (DESIGN: alert/error/warn/notice/info/debug). pino-pretty shows
      // notice and alert when told them: pino-pretty --customLevels notice:35,alert:55.
      formatters: { level: (label) => ({ level: label }) },
      // The human form: the call's own arguments become one line, written at once; pino's
      // serialisation never runs. (Only enabled levels get here: pino makes the others no-ops.)
      ...(pretty && {
        hooks: {
          logMethod(this: Logger, args: unknown[], _method: unknown, level: number) {
            const [first, second] = args;
            const fields = typeof first === 'object' && first !== null ? (first as Record<string, unknown>) : undefined;
            const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : undefined;
            destination.write(humanLine(this.levels.labels[level] ?? String(level), fields, msg));
          },
        },
      }),
    },
    destination,
  ) as unknown as TsydLogger; // pino's types lose the custom levels on child(); its children have them
}
