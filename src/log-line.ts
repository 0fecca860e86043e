// The human form of a log record (`--log-format pretty`, the default on a terminal): one short
// `tsyd: …` line, made straight from the logging call's arguments — no JSON is built or parsed.
import { readFileSync } from 'node:fs';
import { errnoText } from './errors.js';

/**
 * Control characters as `\xNN`: a path, a rule or a program's name is the program's to choose,
 * and a newline or an escape sequence in it must not forge a line or drive the terminal.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The name of process `pid` (/proc/PID/comm), or undefined once it is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/**
 * `tsyd: denied read of /etc/hostname (cat, pid 123)` for an access; `tsyd: LEVEL: msg: error`
 * for the rest (no level word for a warning). `name` gives the name of the process of a record
 * that has none (read when the record is made: the process may be gone a moment later).
 */
export function humanLine(label: string, fields: Record<string, unknown> | undefined, msg: string | undefined, name: (pid: number) => string | undefined = processName): string {
  let text = msg ?? (fields instanceof Error ? fields.message : '');
  const pid = fields?.pid;
  if (fields?.ctx === 'access' && typeof pid === 'number') {
    const comm = typeof fields.comm === 'string' ? fields.comm : name(pid);
    text += comm === undefined ? ` (pid ${pid})` : ` (${comm}, pid ${pid})`;
  } else if (fields?.err !== undefined && !(fields instanceof Error)) {
    const err = fields.err;
    text += `: ${typeof err === 'number' ? errnoText(err) : err instanceof Error ? err.message : String(err)}`;
  }
  return `tsyd: ${label === 'warn' ? '' : `${label}: `}${printable(text)}\n`;
}
