// Helpers for the inspector tests: start `tsyd run --inspect...`, read its URL, talk HTTP and SSE.
import { get, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { spawnTsyd, type RunningProcess, type RunOptions } from '../helpers/tsyd.js';

/** The line tsyd prints, exactly (the contract). */
export const URL_LINE = /^tsyd: inspector at (http:\/\/(127\.0\.0\.1|localhost|\[::1\]):(\d+))\/\?token=([A-Za-z0-9_-]{22})$/m;

export interface Inspected extends RunningProcess {
  /** http://HOST:PORT */
  base: string;
  port: number;
  token: string;
  /** The whole URL as printed. */
  url: string;
  stderr: () => string;
}

/** Starts `tsyd ARGS...` and waits for its inspector line on stderr. */
export async function startInspected(args: string[], opts: RunOptions = {}): Promise<Inspected> {
  const t = spawnTsyd(args, opts);
  let err = '';
  t.child.stderr!.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const deadline = Date.now() + 15_000;
  let m: RegExpExecArray | null = null;
  while (!(m = URL_LINE.exec(err))) {
    if (Date.now() > deadline || t.child.exitCode !== null) throw new Error(`no inspector line on stderr: ${JSON.stringify(err)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { ...t, base: m[1]!, port: Number(m[3]), token: m[4]!, url: m[0].slice('tsyd: inspector at '.length), stderr: () => err };
}

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** GET base+path with these headers (Host included: node:http sends what it is given). */
export function request(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get(`${base}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    }).on('error', reject);
  });
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** An open /events stream: every event so far, and a wait for the next that matches. */
export interface SseStream {
  status: number;
  events: SseEvent[];
  ended: Promise<void>;
  until(pred: (e: SseEvent) => boolean, what: string, ms?: number): Promise<SseEvent>;
  close(): void;
}

export function openEvents(base: string, path: string): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = get(`${base}${path}`, (res: IncomingMessage) => {
      const events: SseEvent[] = [];
      const waiters = new Set<() => void>();
      let closed = false;
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
        }
        for (const w of [...waiters]) w();
      });
      const ended = new Promise<void>((r) =>
        res.on('close', () => {
          closed = true;
          for (const w of [...waiters]) w();
          r();
        }),
      );
      const until = (pred: (e: SseEvent) => boolean, what: string, ms = 10_000) =>
        new Promise<SseEvent>((ok, fail) => {
          const done = (err?: Error, found?: SseEvent) => {
            waiters.delete(check);
            clearTimeout(timer);
            if (err) fail(err);
            else ok(found!);
          };
          const check = () => {
            const found = events.find(pred);
            if (found) done(undefined, found);
            else if (closed) done(new Error(`the stream ended before ${what}; got ${events.map((e) => e.event).join(', ')}`));
          };
          const timer = setTimeout(() => done(new Error(`no event ${what} in ${ms} ms; got ${events.map((e) => e.event).join(', ')}`)), ms);
          waiters.add(check);
          check();
        });
      resolve({ status: res.statusCode!, events, ended, until, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}
