// A TsydLogger that keeps its records (fields, msg and level) for a test to look at.
import type { LogFn, TsydLogger } from '../../src/log.js';

export type Recorded = Record<string, unknown> & { level: string; msg?: string };

export function recordLogger(): TsydLogger & { records: Recorded[] } {
  const records: Recorded[] = [];
  const at =
    (level: string): LogFn =>
    (a: object | string, msg?: string) =>
      void records.push(typeof a === 'string' ? { level, msg: a } : { ...(a as object), level, msg }) as never;
  const logger = {
    records,
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    notice: at('notice'),
    warn: at('warn'),
    error: at('error'),
    alert: at('alert'),
    fatal: at('fatal'),
    child: () => logger,
    isLevelEnabled: () => true,
  };
  return logger;
}
