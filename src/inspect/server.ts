// The inspector's HTTP server (node:http): GET / (the page), /state (JSON), /events (server-sent
// events), each with the run's token; see README, Inspector.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TsydError } from '../errors.js';
import { MACHINES } from '../machines/index.js';
import { hostPort, type InspectAddress } from './address.js';
import { Feed, MAX_CLIENTS, type InspectedProcess } from './feed.js';
import { newToken, refusal } from './guard.js';
import { buildPage, type Page } from './page.js';

/** The machines an InspectSource reports, as the page draws them (left to right, top to bottom). */
export const INSPECTED_MACHINES = ['boot', 'sandbox', 'emulator', 'monitor'] as const;

const HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  // The token is in the page's URL: it must not travel on in a Referer.
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

/** Sockets at once: the pages' streams and requests, and what a hostile local client may hold for at most a headers timeout. */
const MAX_CONNECTIONS = 256;

export class Inspector {
  readonly url: string;
  private readonly feed: Feed;
  /** Built at the first request for it (~16 ms: the charts): the program's start does not wait for it. */
  private page: Promise<Page> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly token: string,
    readonly host: string,
    readonly port: number,
    command: string[],
  ) {
    this.url = `http://${hostPort(host, port)}/?token=${token}`;
    this.feed = new Feed(command);
    server.on('request', (req, res) => {
      // SAFETY: nothing a client sends may end tsyd (the program would die with it): whatever
      // an answer throws becomes a 400 on that request.
      try {
        this.answer(req, res);
      } catch (err) {
        if (!res.headersSent) text(res, 400, `bad request: ${(err as Error).message}\n`);
        else res.destroy();
      }
    });
  }

  /** Listens on `address` (port 0: any free port). `command`: the program's argv, for the page. */
  static async start(address: InspectAddress, command: string[]): Promise<Inspector> {
    // SAFETY: slow or idle clients (the sandboxed program may connect: loopback) do not hold
    // sockets for long: Node enforces these timeouts at its connection check, every 500 ms here
    // (its default, 30 s, let 64 idle sockets lock the owner out for half a minute at a time).
    // The event streams are answers, not requests, and live on.
    const server = createServer({ connectionsCheckingInterval: 500, headersTimeout: 2000, requestTimeout: 5000, keepAliveTimeout: 2000 });
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) => {
        reject(new TsydError('EINSPECT', `--inspect: cannot listen on ${hostPort(address.host, address.port)}: ${err.code ?? err.message}`, { cause: err }));
      };
      server.once('error', failed);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', failed);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    return new Inspector(server, newToken(), address.host, port, command);
  }

  /** Resolves once a page has connected to /events (`--inspect-wait`). */
  pageConnected(): Promise<void> {
    return this.feed.connected;
  }

  /** Shows this program from now on. */
  attach(child: InspectedProcess): void {
    this.feed.attach(child);
  }

  /** Tells the pages the run is over (they keep its final state) and stops listening. */
  async close(): Promise<void> {
    await this.feed.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://inspector');
    const refused = refusal(req, url, this.token, this.port);
    if (refused !== undefined) return text(res, 403, `forbidden: ${refused}\n`);
    if (req.method !== 'GET') return text(res, 405, 'only GET\n', { Allow: 'GET' });
    switch (url.pathname) {
      case '/': {
        // Drawn once, at the first request (the charts' layout takes ~1 s the first time).
        this.page ??= buildPage(Object.fromEntries(INSPECTED_MACHINES.map((n) => [n, MACHINES[n]!])));
        this.page.then(
          (page) => {
            res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': page.csp });
            res.end(page.html);
          },
          (err: unknown) => text(res, 500, `the page could not be drawn: ${String(err)}\n`),
        );
        return;
      }
      case '/state':
        res.writeHead(200, { ...HEADERS, 'Content-Type': 'application/json; charset=utf-8' });
        res.end(`${JSON.stringify(this.feed.state())}\n`);
        return;
      case '/events':
        for (const [k, v] of Object.entries(HEADERS)) res.setHeader(k, v);
        if (!this.feed.addClient(res)) text(res, 503, `too many inspector pages open (${MAX_CLIENTS})\n`);
        return;
      default:
        text(res, 404, 'not found: GET /, /state or /events\n');
    }
  }
}

function text(res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...HEADERS, ...extra, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
