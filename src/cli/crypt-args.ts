// `tsyd crypt encrypt|decrypt [--key HEX | --key-env NAME]`: argv → the command (run by crypt.ts).
import { UsageError } from '../errors.js';

export interface CryptCommand {
  command: 'crypt';
  op: 'encrypt' | 'decrypt';
  key: { hex: string } | { env: string };
}

/** `crypt` arguments → the command; a missing or malformed one is a usage error (125). */
export function parseCrypt(rest: string[]): CryptCommand {
  const [op, ...opts] = rest;
  if (op !== 'encrypt' && op !== 'decrypt') throw new UsageError(`crypt needs encrypt or decrypt${op === undefined ? '' : `, got '${op}'`} (see tsyd crypt --help)`);
  let key: CryptCommand['key'] | undefined;
  for (let i = 0; i < opts.length; i++) {
    const a = opts[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag !== '--key' && flag !== '--key-env') throw new UsageError(`crypt ${op}: unknown option '${flag}' (see tsyd crypt --help)`);
    if (key !== undefined) throw new UsageError(`crypt ${op}: give one of --key and --key-env, once`);
    const v = inline ?? opts[++i];
    if (v === undefined) throw new UsageError(`crypt ${op}: ${flag} needs a value`);
    key = flag === '--key' ? { hex: v } : { env: v };
  }
  if (key === undefined) throw new UsageError(`crypt ${op} needs --key HEX or --key-env NAME`);
  return { command: 'crypt', op, key };
}

