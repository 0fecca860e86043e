// One root pino logger per thread: JSON lines on stderr (or the log fd), syd's levels.
// Records carry `ctx` (what part: boot, access, spawn, emulator, ...) and `op` (what step).
import { pino, type Logger } from 'pino';

export const LEVELS = ['trace', 'debug', 'info', 'notice', 'warn', 'error', 'alert', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LEVELS)[number];

export interface LogOptions {
  /** @default 'warn' */
  level?: LogLevel;
  /** @default 2 (stderr) */
  fd?: number;
}

export type TsydLogger = Logger<'notice' | 'alert'>;

export function isLogLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s);
}

export function createLogger(opts: LogOptions = {}): TsydLogger {
  return pino(
    {
      level: opts.level ?? 'warn',
      customLevels: { notice: 35, alert: 55 },
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
    },
    // Synchronous writes: a denial is on disk before the program sees EACCES, and a
    // crashing supervisor loses nothing.
    pino.destination({ fd: opts.fd ?? 2, sync: true }),
  ) as TsydLogger;
}
