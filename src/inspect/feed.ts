// The inspector's picture of one run (what GET /state answers) and its server-sent events: the
// state first, then the changes, at most one batch per FLUSH_MS (a flood of denials or of
// monitor steps costs the pages one small message per period, not one per event).
import type { ServerResponse } from 'node:http';
import type { Inspectable, InspectEvent, InspectSnapshot, MachineView, PoolView, ProgramView } from './stream.js';
import type { Violation } from '../syscalls/context.js';
import type { SandboxResult } from '../supervisor/result.js';

export const FLUSH_MS = 100;
export const HEARTBEAT_MS = 15_000;
/** Pages open at once; the next one gets 503. */
export const MAX_CLIENTS = 8;
/** Denials kept for a page that connects later. */
export const RECENT_DENIALS = 200;
/** Denials sent per batch; the count says how many there were. */
const DENIALS_PER_BATCH = 100;
/** A page that reads nothing is dropped once this much waits for it. */
const MAX_BUFFERED = 1 << 20;

export type Denial = Omit<Violation, 'pathBytes'> & { time: number };

/** GET /state. */
export interface InspectorState {
  time: number;
  machines: Record<string, MachineView>;
  pool: PoolView | null;
  violations: number;
  /** The latest denials (RECENT_DENIALS at most), oldest first. */
  denials: Denial[];
  /** pid null: not started yet (`--inspect-wait`). */
  program: Omit<ProgramView, 'pid'> & { pid: number | null; command: string[] };
  policy: string[];
}

export interface InspectedProcess extends Inspectable {
  inspect(): InspectSnapshot;
}

interface Pending {
  state: boolean;
  machines: Map<string, InspectEvent>;
  pool?: InspectEvent;
  denials: Denial[];
  program: boolean;
}

export class Feed {
  private readonly doc: InspectorState;
  private readonly clients = new Set<ServerResponse>();
  private pending: Pending = Feed.nothing();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private child: InspectedProcess | undefined;
  private firstClient: () => void = () => {};
  /** Resolves when the first page has connected to /events. */
  readonly connected = new Promise<void>((resolve) => (this.firstClient = resolve));

  constructor(command: string[]) {
    this.doc = { time: Date.now(), machines: {}, pool: null, violations: 0, denials: [], program: { pid: null, running: false, command }, policy: [] };
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private static nothing(): Pending {
    return { state: false, machines: new Map(), denials: [], program: false };
  }

  /** Follows a started program from now on. */
  attach(child: InspectedProcess): void {
    this.child = child;
    this.take(child.inspect());
    this.queue((p) => (p.state = true));
    child.on('inspect', (e: InspectEvent) => this.onInspect(e));
    child.on('violation', (v: Violation) => this.onViolation(v));
    child.once('exit', (r: SandboxResult) => {
      // The source has taken the result already (it listened first): the final picture.
      this.take(child.inspect());
      this.doc.violations = Math.max(this.doc.violations, r.violationCount);
      this.queue((p) => {
        p.program = true;
        p.pool = { type: 'pool', ...this.doc.pool!, time: Date.now() };
      });
      this.flush();
    });
  }

  /** The state now (the shared words read afresh). */
  state(): InspectorState {
    if (this.child) this.take(this.child.inspect());
    return { ...this.doc, time: Date.now(), denials: [...this.doc.denials] };
  }

  /** Starts a server-sent event stream on `res`; false when MAX_CLIENTS are open. */
  addClient(res: ServerResponse): boolean {
    if (this.clients.size >= MAX_CLIENTS) return false;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    res.write(message('state', this.state()));
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    this.firstClient();
    return true;
  }

  /** Sends what is pending and an `end` event, then ends every stream (the run is over). */
  async close(timeoutMs = 1000): Promise<void> {
    clearInterval(this.heartbeat);
    this.flush();
    const ended = [...this.clients].map((res) => new Promise<void>((resolve) => res.end(message('end', { time: Date.now() }), resolve)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(ended), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.clients.clear();
  }

  private take(s: InspectSnapshot): void {
    Object.assign(this.doc, { machines: s.machines, pool: s.pool, violations: Math.max(this.doc.violations, s.violations), policy: s.policy });
    this.doc.program = { ...s.program, command: this.doc.program.command };
  }

  private onInspect(e: InspectEvent): void {
    if (e.type === 'machine') {
      this.doc.machines[e.machine] = { ...e.context, value: e.value };
      this.queue((p) => p.machines.set(e.machine, e));
    } else {
      const { type: _, time: __, ...pool } = e;
      this.doc.pool = pool;
      this.queue((p) => (p.pool = e));
    }
  }

  private onViolation(v: Violation): void {
    // The program chooses these bytes: the page shows them as text only (page.js).
    const { pathBytes: _, ...shown } = v;
    const d: Denial = { ...shown, time: Date.now() };
    this.doc.violations++;
    this.doc.denials.push(d);
    if (this.doc.denials.length > RECENT_DENIALS) this.doc.denials.shift();
    this.queue((p) => {
      if (p.denials.length < DENIALS_PER_BATCH) p.denials.push(d);
    });
  }

  /** Records a change for the next batch (nothing is kept while no page listens). */
  private queue(change: (p: Pending) => void): void {
    if (this.clients.size === 0) return;
    change(this.pending);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const p = this.pending;
    this.pending = Feed.nothing();
    let out = '';
    if (p.state) out += message('state', this.state());
    else {
      for (const e of p.machines.values()) out += message('machine', e);
      if (p.pool) out += message('pool', p.pool);
    }
    if (p.denials.length > 0) out += message('denials', { violations: this.doc.violations, items: p.denials });
    if (p.program) out += message('program', this.doc.program);
    if (out !== '') this.broadcast(out);
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      // A page that stopped reading must not make tsyd hold an ever-growing buffer for it.
      if (res.writableLength > MAX_BUFFERED) {
        res.destroy();
        this.clients.delete(res);
      } else res.write(text);
    }
  }
}

/** One server-sent event (JSON never holds a raw newline, so one data line). */
function message(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
