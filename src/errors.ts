// One base error for everything tsyd throws, with a stable `code` and an optional `cause`.
// Errors that cross a worker boundary are rebuilt from {name, code, errno, syscall, message}.
import { constants } from 'node:os';

export class TsydError extends Error {
  override name = 'TsydError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A system call failed; `errno` is positive, `code` its name (ENOENT, ...). */
export class SystemCallError extends TsydError {
  override name = 'SystemCallError';
  readonly errno: number;
  readonly syscall: string;
  readonly path?: string;

  constructor(syscall: string, errno: number, options?: { path?: string; cause?: unknown }) {
    const code = errnoName(errno);
    const where = options?.path ? ` '${options.path}'` : '';
    super(code, `${syscall}${where}: ${errnoText(errno)} (${code})`, options);
    this.errno = errno;
    this.syscall = syscall;
    if (options?.path) this.path = options.path;
  }
}

/** A rule, profile or policy file is malformed; nothing runs. Exit status 125. */
export class PolicyError extends TsydError {
  override name = 'PolicyError';
  constructor(message: string) {
    super('EPOLICY', message);
  }
}

/** Bad command line or library options. Exit status 125. */
export class UsageError extends TsydError {
  override name = 'UsageError';
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

const ERRNO_NAMES = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!ERRNO_NAMES.has(n)) ERRNO_NAMES.set(n, name);

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOEXEC: 'Exec format error',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  ETXTBSY: 'Text file busy',
  E2BIG: 'Argument list too long',
  ENOMEM: 'Cannot allocate memory',
  ENOSYS: 'Function not implemented',
  EINVAL: 'Invalid argument',
  EBADF: 'Bad file descriptor',
  EEXIST: 'File exists',
};

/** The errno's name (ENOENT, ...) for a positive or negative number. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/** A short human text for an errno, as strerror() would say it. */
export function errnoText(errno: number): string {
  const name = errnoName(errno);
  return ERRNO_TEXT[name] ?? name;
}
