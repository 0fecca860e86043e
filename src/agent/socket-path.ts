// The agent's socket path, as `tsyd agent --listen` and `tsyd export oci-seccomp --listener` take it.
import { UsageError } from '../errors.js';

/** Throws unless `path` is absolute: the runtime connects to listenerPath from its own directory. */
export function requireAbsoluteSocket(option: '--listen' | '--listener', path: string): void {
  if (!path.startsWith('/')) throw new UsageError(`${option} must be an absolute path (the runtime connects to it from its own directory), got '${path}'`);
}
