// The `#!` interpreter a program names, for the CLI's start-failure text: an exec that fails
// with ENOENT or EACCES on an existing script failed at its interpreter, not at the script.
import { closeSync, openSync, readSync } from 'node:fs';
import { resolveProgram } from '../supervisor/program-path.js';

/** The kernel reads at most this much of a script for its `#!` line (BINPRM_BUF_SIZE). */
const BINPRM_BUF_SIZE = 256;

/** The interpreter of the `#!` line of `program` (found as execvp would), or null: not a script, unreadable, missing. */
export function scriptInterpreter(program: string, env: NodeJS.ProcessEnv = process.env): string | null {
  let fd: number;
  try {
    fd = openSync(resolveProgram(program, env.PATH), 'r');
  } catch {
    return null;
  }
  try {
    const head = Buffer.alloc(BINPRM_BUF_SIZE);
    const n = readSync(fd, head, 0, head.length, 0);
    const m = /^#![ \t]*([^ \t\n\0]+)/.exec(head.toString('latin1', 0, n));
    return m ? m[1]! : null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
