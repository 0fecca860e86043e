// The owner's side of the decision ring: every decision the emulators report (denials; in
// learning mode every access) becomes an event of the SandboxedProcess, and the denials are
// kept for the result (the first MAX_KEPT; the count has them all).
import { DecisionRing } from '../shared/decision-ring.js';
import type { Access, Violation } from '../syscalls/context.js';

const MAX_KEPT_VIOLATIONS = 1000;

export interface DecisionSink {
  access(a: Access): void;
  violation(v: Violation): void;
}

export class DecisionReader {
  /** SAFETY: a ring of fixed size (constant memory under a flood of denials); a denial that finds it full is counted, not kept (the log has it). */
  readonly ring = DecisionRing.create();
  readonly violations: Violation[] = [];
  private counted = 0;
  private reading = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly sink: DecisionSink,
    private readonly record: boolean,
  ) {
    this.done = this.read();
  }

  /** Denials so far, those the ring dropped included. */
  get violationCount(): number {
    return this.counted + this.ring.dropped;
  }

  private readonly onDecision = (json: string): void => {
    const a = JSON.parse(json) as Access;
    if (this.record) this.sink.access(a);
    if (a.allowed) return;
    const { allowed: _, ...v } = a;
    this.counted++;
    if (this.violations.length < MAX_KEPT_VIOLATIONS) this.violations.push(v);
    this.sink.violation(v);
  };

  private async read(): Promise<void> {
    let seen = this.ring.writes;
    while (this.reading) {
      this.ring.drain(this.onDecision);
      seen = await this.ring.written(seen, 1000);
    }
    this.ring.drain(this.onDecision);
  }

  /** Reads what is left once no emulator writes any more. */
  async close(): Promise<void> {
    this.reading = false;
    this.ring.wake();
    await this.done;
  }
}
