// `--inspect[=[HOST:]PORT]`: where the inspector listens.
import { isIP } from 'node:net';
import { UsageError } from '../errors.js';

export interface InspectAddress {
  /** An IP address (IPv6 without brackets) or `localhost`. */
  host: string;
  /** 0: any free port. */
  port: number;
}

/**
 * The default: loopback only, and a port the kernel picks. A fixed port would collide with a
 * second tsyd or another service and bring nothing: the URL changes every run anyway (its token).
 */
export const DEFAULT_INSPECT_ADDRESS: InspectAddress = { host: '127.0.0.1', port: 0 };

function port(text: string, flag: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`${flag}: PORT must be a number from 0 to 65535 (0: any free port), got '${text}'`);
  }
  return Number(text);
}

/**
 * `PORT`, `HOST:PORT` or `[IPV6]:PORT`; HOST is an IP address or `localhost`. SAFETY: no other
 * host name is taken: a name someone else's DNS answers for is what DNS rebinding uses, and the
 * server accepts only requests addressed to an IP or `localhost` (guard.ts).
 */
export function parseInspectAddress(value: string): InspectAddress {
  const shown = `--inspect=${value}`;
  if (value === '') throw new UsageError(`${shown}: needs [HOST:]PORT after '=' (or no '=' at all for ${DEFAULT_INSPECT_ADDRESS.host}, any free port)`);
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(value);
  const colon = value.lastIndexOf(':');
  // A message names the option, then the part that is wrong: the value once, not twice.
  if (!v6 && colon < 0) return { host: DEFAULT_INSPECT_ADDRESS.host, port: port(value, '--inspect') };
  if (!v6 && value.indexOf(':') !== colon) throw new UsageError(`${shown}: an IPv6 HOST goes in brackets: [::1]:PORT`);
  const host = v6 ? v6[1]! : value.slice(0, colon);
  const portText = v6 ? v6[2]! : value.slice(colon + 1);
  const family = isIP(host);
  if (v6 ? family !== 6 : family !== 4 && host.toLowerCase() !== 'localhost') {
    throw new UsageError(`--inspect: HOST must be an IPv4 address, an IPv6 address in brackets or localhost, got '${host}'`);
  }
  return { host: family === 0 ? 'localhost' : host, port: port(portText, '--inspect') };
}

/** HOST:PORT as in a URL (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for an address only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./i.test(host);
}
