// Finding the program to run, as execvp would, so "not found" and "not executable" are
// told apart before anything starts.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { constants as os } from 'node:os';
import { SystemCallError } from '../errors.js';

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

function isExecutableFile(p: string): 'ok' | 'missing' | 'denied' {
  try {
    const st = statSync(p);
    if (!st.isFile()) return 'denied';
    accessSync(p, constants.X_OK);
    return 'ok';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : 'missing';
  }
}

/** The path execve should run: throws ENOENT (exit 127) or EACCES (exit 126). */
export function resolveProgram(file: string, envPath: string | undefined, cwd?: string): string {
  if (file === '') throw new SystemCallError('execve', os.errno.ENOENT, { path: file });
  if (file.includes('/')) {
    const p = cwd && !file.startsWith('/') ? join(cwd, file) : file;
    const r = isExecutableFile(p);
    if (r === 'missing') throw new SystemCallError('execve', os.errno.ENOENT, { path: file });
    if (r === 'denied') throw new SystemCallError('execve', os.errno.EACCES, { path: file });
    return file;
  }
  let sawDenied = false;
  for (const dir of (envPath ?? DEFAULT_PATH).split(delimiter)) {
    const p = join(dir === '' ? '.' : dir, file);
    const r = isExecutableFile(cwd && !p.startsWith('/') ? join(cwd, p) : p);
    if (r === 'ok') return p;
    if (r === 'denied') sawDenied = true;
  }
  throw new SystemCallError('execve', sawDenied ? os.errno.EACCES : os.errno.ENOENT, { path: file });
}

/** Exit status for a program that could not be started: 127 not found, 126 not executable. */
export function startFailureStatus(errno: number): number {
  return errno === os.errno.ENOENT || errno === os.errno.ENOTDIR ? 127 : 126;
}
