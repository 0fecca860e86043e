// Where `tsyd learn` writes the policy: a file, never stdout (the program's stdout is the
// program's). Checked before the program runs: a workload must not run for nothing.
import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { errnoText, TsydError, UsageError } from '../errors.js';

/** The file learn writes without -o: in the working directory. */
export const DEFAULT_LEARN_OUTPUT = 'tsyd.policy';

/** The learned policy cannot be written there: exit 125, the program not started (or its result not saved). */
export class LearnOutputError extends TsydError {
  override name = 'LearnOutputError';
  constructor(file: string, why: string) {
    super('ELEARNOUTPUT', `learn: cannot write the policy to ${file}: ${why}`);
  }
}

function errnoOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.errno !== undefined ? errnoText(-e.errno) : String(err);
}

/**
 * Throws LearnOutputError unless `file` can be written: its directory exists and takes new
 * files, and the file is absent — or, with `force`, a regular file tsyd may write (replaced).
 * SAFETY: an existing file is never replaced without --force: it may be a policy the user
 * edited by hand (the default name is the same in every run).
 */
export function checkLearnOutput(file: string, force: boolean): void {
  if (file === '-') throw new UsageError(`learn writes the policy to a file (-o FILE, default ./${DEFAULT_LEARN_OUTPUT}), never to stdout: the program's stdout stays the program's`);
  const dir = dirname(resolve(file));
  let dirStat;
  try {
    dirStat = statSync(dir);
  } catch (err) {
    throw new LearnOutputError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? `the directory ${dir} does not exist` : `the directory ${dir}: ${errnoOf(err)}`);
  }
  if (!dirStat.isDirectory()) throw new LearnOutputError(file, `${dir} is not a directory`);
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LearnOutputError(file, errnoOf(err));
  }
  if (st === undefined) {
    try {
      accessSync(dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw new LearnOutputError(file, `no new file can be made in ${dir}: ${errnoOf(err)}`);
    }
    return;
  }
  if (st.isDirectory()) throw new LearnOutputError(file, 'it is a directory');
  if (!st.isFile()) throw new LearnOutputError(file, 'it is not a regular file');
  if (!force) throw new LearnOutputError(file, 'the file exists (--force replaces it)');
  try {
    accessSync(file, constants.W_OK);
  } catch (err) {
    throw new LearnOutputError(file, errnoOf(err));
  }
}

/** Writes the learned policy (bytes as learned); a file made meanwhile is not replaced without `force`. */
export function writeLearnOutput(file: string, data: Buffer | string, force: boolean): void {
  try {
    writeFileSync(file, data, { flag: force ? 'w' : 'wx' });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'the file was made while the program ran (--force replaces it)' : errnoOf(err);
    throw new LearnOutputError(file, why);
  }
}
