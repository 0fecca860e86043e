// The records the agent's socket writes about what a peer sent: a refused message (`bad_message`),
// a container that cannot be served (`serve_container`), a refused policy (`policy_refused`).
// Each carries the peer's uid (`client_uid`), and each peer uid has one record budget, the
// denial budget's: the first DENIAL_RECORDS_PER_SECOND of each second are written, the rest
// counted, and the count written as one `refusals_not_logged` record (`count`) with the first
// record of a later second (atkagent3: a client looping on refused messages wrote 58583 records
// in 5 s, one re-sending its own listener 33.7 MB of `serve_container` errors).
import type { TsydLogger } from '../log.js';
import { DENIAL_RECORDS_PER_SECOND, recordBudget } from './denial-budget.js';

const WORDS = { second: 0, inSecond: 1, notLogged: 2 };

export class PeerRecords {
  /**
   * SAFETY: one budget for every peer uid, root's and the agent's own (the runtime) included: a
   * runtime's refusals are rare, and a flood of them is the same flood whoever sends it. Only
   * served uids (root, the agent's user, --allow-uid) get here: the map is as small as that list.
   */
  private readonly budgets = new Map<number, () => boolean>();

  constructor(
    private readonly log: TsydLogger,
    private readonly now: () => number = Date.now,
  ) {}

  warn(uid: number, fields: Record<string, unknown>, text: string): void {
    if (this.budget(uid)()) this.log.warn({ ctx: 'agent', ...fields, client_uid: String(uid) }, text);
  }

  error(uid: number, fields: Record<string, unknown>, text: string): void {
    if (this.budget(uid)()) this.log.error({ ctx: 'agent', ...fields, client_uid: String(uid) }, text);
  }

  private budget(uid: number): () => boolean {
    let budget = this.budgets.get(uid);
    if (budget === undefined) {
      const summary = (count: number) =>
        this.log.warn({ ctx: 'agent', op: 'refusals_not_logged', client_uid: String(uid), count }, `${count} records of uid ${uid}'s connections not logged (over ${DENIAL_RECORDS_PER_SECOND} a second)`);
      budget = recordBudget(new Int32Array(3), WORDS, summary, this.now);
      this.budgets.set(uid, budget);
    }
    return budget;
  }
}
