// IP address rules for net/bind and net/connect: ADDR[/PREFIX]!PORT[-PORT] with IPv4 or IPv6,
// and the aliases `any` and `loopback`. Parsed into bytes once; matched with a prefix compare.
import { PatternError } from './pattern-error.js';

export type AddressFamily = 4 | 6;

export interface AddressRule {
  family: AddressFamily;
  /** The network address: 4 or 16 bytes, host bits cleared. */
  bytes: Uint8Array;
  /** Prefix length in bits: 0-32 (IPv4) or 0-128 (IPv6). */
  prefix: number;
  portLo: number;
  portHi: number;
}

const FORM = 'ADDR[/PREFIX]!PORT[-PORT], e.g. 127.0.0.0/8!1024-65535, ::1!53, any!443 or loopback!8080';

const ALIASES = new Map<string, Array<[AddressFamily, number[], number]>>([
  [
    'any',
    [
      [4, [0, 0, 0, 0], 0],
      [6, new Array<number>(16).fill(0), 0],
    ],
  ],
  [
    'loopback',
    [
      [4, [127, 0, 0, 0], 8],
      [6, [...new Array<number>(15).fill(0), 1], 128],
    ],
  ],
]);

/** Parses `ADDR[/PREFIX]!PORT[-PORT]`; an alias gives one rule per family. */
export function parseAddressPattern(text: string): AddressRule[] {
  const bad = (at: number, reason: string) => new PatternError(text, at, reason, FORM);
  const bang = text.lastIndexOf('!');
  if (bang < 0) throw bad(text.length, 'missing !PORT after the address');
  const [portLo, portHi] = parsePorts(text.slice(bang + 1), (at, why) => bad(bang + 1 + at, why));
  const host = text.slice(0, bang);
  const alias = ALIASES.get(host);
  if (alias !== undefined) {
    return alias.map(([family, bytes, prefix]) => ({ family, bytes: Uint8Array.from(bytes), prefix, portLo, portHi }));
  }
  const slash = host.indexOf('/');
  const addrText = slash < 0 ? host : host.slice(0, slash);
  if (addrText === '') throw bad(0, 'the address is empty');
  const family: AddressFamily = addrText.includes(':') ? 6 : 4;
  const bytes = family === 4 ? parseIPv4(addrText) : parseIPv6(addrText);
  if (bytes === null) {
    if (ALIASES.has(addrText)) throw bad(slash, `the alias '${addrText}' takes no /PREFIX`);
    throw bad(0, `'${addrText}' is not an IPv4 or IPv6 address`);
  }
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = host.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      throw bad(slash + 1, `bad prefix length '${p}' for IPv${family}: expected 0-${max}`);
    }
    prefix = Number(p);
  }
  clearHostBits(bytes, prefix);
  return [{ family, bytes, prefix, portLo, portHi }];
}

function parsePorts(text: string, bad: (at: number, why: string) => PatternError): [number, number] {
  const dash = text.indexOf('-');
  const lo = parsePort(dash < 0 ? text : text.slice(0, dash));
  const hi = dash < 0 ? lo : parsePort(text.slice(dash + 1));
  if (lo === null) throw bad(0, `bad port '${dash < 0 ? text : text.slice(0, dash)}': expected 0-65535`);
  if (hi === null) throw bad(dash + 1, `bad port '${text.slice(dash + 1)}': expected 0-65535`);
  if (lo > hi) throw bad(0, `the port range ${text} is reversed`);
  return [lo, hi];
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

/** Dotted quad, decimal only. */
export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // SAFETY: no leading zeros: inet_aton reads 010 as octal 8, so "010.0.0.1" is ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    out[i] = Number(p);
  }
  return out;
}

/** RFC 4291 text: hex groups, one `::`, an optional dotted-quad tail; no zone id. */
export function parseIPv6(text: string): Uint8Array | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const words: number[][] = [[], []];
  const parts = [head, tail];
  for (let h = 0; h < 2; h++) {
    const list = parts[h]!;
    for (let i = 0; i < list.length; i++) {
      const g = list[i]!;
      const lastGroup = h === halves.length - 1 && i === list.length - 1;
      if (lastGroup && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (v4 === null) return null;
        words[h]!.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        words[h]!.push(parseInt(g, 16));
      } else {
        return null;
      }
    }
  }
  const count = words[0]!.length + words[1]!.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return null;
  const all = [...words[0]!, ...new Array<number>(8 - count).fill(0), ...words[1]!];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function clearHostBits(bytes: Uint8Array, prefix: number): void {
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    bytes[i] = bytes[i]! & ((0xff00 >> keep) & 0xff);
  }
}

/** True for ::ffff:a.b.c.d. */
export function isIPv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Does the rule match this address and port? `addr` has 4 bytes (family 4) or 16 (family 6).
 *
 * SAFETY: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) reaches the IPv4 host, so IPv4 rules
 * match it as that IPv4 address: `deny 10.0.0.0/8` cannot be bypassed with an AF_INET6 socket.
 * IPv6 rules still see it as IPv6 (`::/0` matches it too); the last matching rule decides.
 */
export function matchAddress(rule: AddressRule, family: AddressFamily, addr: Uint8Array, port: number): boolean {
  if (port < rule.portLo || port > rule.portHi) return false;
  let offset = 0;
  if (rule.family !== family) {
    if (rule.family !== 4 || !isIPv4Mapped(addr)) return false;
    offset = 12;
  }
  const full = rule.prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[offset + i] !== rule.bytes[i]) return false;
  const bits = rule.prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff00 >> bits) & 0xff;
  return ((addr[offset + full]! ^ rule.bytes[full]!) & mask) === 0;
}

/** Canonical text: host bits cleared, IPv6 compressed (RFC 5952), /PREFIX only when shorter than the address. */
export function formatAddressRule(rule: AddressRule): string {
  const addr = rule.family === 4 ? rule.bytes.join('.') : formatIPv6(rule.bytes);
  const prefix = rule.prefix === (rule.family === 4 ? 32 : 128) ? '' : `/${rule.prefix}`;
  const ports = rule.portLo === rule.portHi ? `${rule.portLo}` : `${rule.portLo}-${rule.portHi}`;
  return `${addr}${prefix}!${ports}`;
}

export function formatIPv6(bytes: Uint8Array): string {
  if (isIPv4Mapped(bytes)) return `::ffff:${bytes.subarray(12).join('.')}`;
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // The longest run of two or more zero words becomes `::` (the first one on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hexes = words.map((w) => w.toString(16));
  if (best < 0) return hexes.join(':');
  return `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
}
