// The Crypt sandboxing key, from the policy's crypt/key rule: its 32 bytes for one sandbox, and
// the program's environment without the TSYD_ variable that held it.
import { PolicyError } from '../errors.js';
import { CryptKey } from './crypt-secret.js';
import type { Policy } from './policy.js';

export { CryptKey } from './crypt-secret.js';

/**
 * The key of `policy` (undefined when Crypt is off) and the program's environment `env` without
 * the key's variable. `tsydEnv`: where a crypt/key:${TSYD_NAME} is looked up first (tsyd's own
 * environment), then `env`. Throws PolicyError (exit 125): Crypt on without a key, or a
 * variable that is not set or holds no 64 hex digits (the message never shows its value).
 */
export function cryptSetup(policy: Policy, env: NodeJS.ProcessEnv, tsydEnv: NodeJS.ProcessEnv = process.env): { key?: CryptKey; env: NodeJS.ProcessEnv } {
  const source = policy.crypt.key;
  let programEnv = env;
  if (source?.kind === 'env' && source.name in env) {
    // SAFETY: the program never sees the key's variable, whether Crypt is on or not.
    programEnv = { ...env };
    delete programEnv[source.name];
  }
  policy.crypt.check();
  if (!policy.crypt.on || source === undefined) return { env: programEnv };
  if (source.kind === 'hex') return { key: new CryptKey(source.key.copy()), env: programEnv };
  const value = tsydEnv[source.name] ?? env[source.name];
  const rule = `crypt/key:\${${source.name}}`;
  if (value === undefined || value === '') throw new PolicyError(`${rule}: the environment variable ${source.name} is not set; expected it to hold the key as 64 hex digits`);
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new PolicyError(`${rule}: the environment variable ${source.name} does not hold 64 hex digits (it has ${value.length} characters); expected the key as 64 hex digits (256 bits)`);
  }
  return { key: new CryptKey(Buffer.from(value, 'hex')), env: programEnv };
}
