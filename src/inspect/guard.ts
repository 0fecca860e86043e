// Who may read the inspector: a request that carries the run's token, addressed to this server.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** 128 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(16).toString('base64url');
}

/** Why a request is refused (the 403's body), or undefined when it may be answered. */
export function refusal(req: IncomingMessage, url: URL, token: string, port: number): string | undefined {
  // SAFETY: DNS rebinding: a page of evil.example whose name is made to resolve to 127.0.0.1
  // reaches this port as "same origin" of evil.example, with `Host: evil.example:PORT`. Only an
  // IP literal or `localhost` is accepted (no one can rebind those), and only for this port.
  const host = req.headers.host;
  if (host === undefined || !isOurHost(host, port)) return `Host '${host ?? ''}' is not this inspector's address`;
  // SAFETY: another origin never reads the state (no CORS headers are ever sent); one that
  // says where it comes from is refused outright.
  const origin = req.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${host.toLowerCase()}`) return `Origin '${origin}' is not this inspector`;
  // SAFETY: every path, the page included, needs the token printed on tsyd's stderr: other
  // local users (and the sandboxed program, which may reach loopback) see nothing without it.
  // Compared in constant time.
  const given = Buffer.from(url.searchParams.get('token') ?? '');
  const want = Buffer.from(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) return 'a missing or wrong token (use the URL tsyd printed)';
  return undefined;
}

function isOurHost(header: string, port: number): boolean {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(header);
  if (!m) return false;
  const name = m[1] ?? m[2]!;
  const named = m[3] === undefined ? 80 : Number(m[3]);
  if (named !== port) return false;
  return m[1] !== undefined ? isIP(name) === 6 : isIP(name) === 4 || name.toLowerCase() === 'localhost';
}
