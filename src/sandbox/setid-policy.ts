// The SafeSetID part of a policy: the declared credential transits, per kind (uid, gid).
import { PolicyError } from '../errors.js';
import { parseSetidRule, type SetidKind, type SetidStatement } from './setid-rules.js';

/** Plain data for the emulators: [src, dst] pairs in the order declared. */
export interface SetidData {
  uid: Array<[number, number]>;
  gid: Array<[number, number]>;
}

export class Transits {
  private readonly pairs: Record<SetidKind, Array<[number, number]>> = { uid: [], gid: [] };

  apply(stmt: SetidStatement): void {
    const list = this.pairs[stmt.kind];
    if (stmt.op === '+') {
      if (!this.allows(stmt.kind, stmt.src, stmt.dst!)) list.push([stmt.src, stmt.dst!]);
      return;
    }
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]![0] === stmt.src && (stmt.op === '^' || list[i]![1] === stmt.dst)) list.splice(i, 1);
    }
  }

  /** Any transit declared (uid or gid): tsyd then follows the program's credentials. */
  get declared(): boolean {
    return this.pairs.uid.length > 0 || this.pairs.gid.length > 0;
  }

  allows(kind: SetidKind, src: number, dst: number): boolean {
    return this.pairs[kind].some(([s, d]) => s === src && d === dst);
  }

  /** The ids the program may move to (the emulators' confinement lets their threads take them). */
  targets(kind: SetidKind): number[] {
    return [...new Set(this.pairs[kind].map(([, d]) => d))];
  }

  toJSON(): SetidData {
    return { uid: this.pairs.uid.map(([s, d]) => [s, d]), gid: this.pairs.gid.map(([s, d]) => [s, d]) };
  }

  /** Rebuilds from toJSON() data, validating every pair as a rule. */
  loadJSON(data: SetidData): void {
    for (const kind of ['uid', 'gid'] as const) {
      const list = data[kind];
      if (!Array.isArray(list)) throw new PolicyError('bad policy data: setid must be { uid, gid } lists of [src, dst]');
      for (const pair of list) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new PolicyError('bad policy data: a transit must be [src, dst]');
        this.apply(parseSetidRule(`set${kind}+${String(pair[0])}:${String(pair[1])}`, 0, { kind: 'data' }));
      }
    }
  }

  normalized(): string[] {
    return (['uid', 'gid'] as const).flatMap((k) => this.pairs[k].map(([s, d]) => `set${k}+${s}:${d}`));
  }
}
