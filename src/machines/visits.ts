// Which states of each machine a run has been in, from XState's own inspection events: the
// states of every microstep (an `always` state passed through included) and of every resting
// snapshot. Paths are dot-joined from the root (`running.graceWait`), as the pictures name them.
import type { AnyActorLogic, InspectionEvent, StateValue } from 'xstate';

function valuePaths(value: StateValue, prefix: string[], out: string[]): void {
  if (typeof value === 'string') {
    out.push([...prefix, value].join('.'));
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    out.push([...prefix, k].join('.'));
    if (v !== undefined) valuePaths(v, [...prefix, k], out);
  }
}

/** The states a state value has active (parents included), as paths. */
export function activeStates(value: StateValue): string[] {
  const out: string[] = [];
  valuePaths(value, [], out);
  return out;
}

interface NodeLike {
  path: string[];
}

export class StateVisits {
  private readonly seen = new Map<string, Set<string>>();

  /** Records `states` of machine `name`; returns those seen for the first time. */
  add(name: string, states: Iterable<string>): string[] {
    let set = this.seen.get(name);
    if (!set) this.seen.set(name, (set = new Set()));
    const fresh: string[] = [];
    for (const s of states) {
      if (s === '' || set.has(s)) continue;
      set.add(s);
      fresh.push(s);
    }
    return fresh;
  }

  /**
   * An `inspect` observer for createActor that records the states of the actor running `logic`
   * (its invoked children are other logic, and ignored). `onFresh` hears of first visits.
   */
  observer(name: string, logic: AnyActorLogic, onFresh?: (states: string[]) => void): (e: InspectionEvent) => void {
    return (e) => {
      if ((e.actorRef as { logic?: unknown }).logic !== logic) return;
      const states: string[] = [];
      if (e.type === '@xstate.microstep') {
        for (const t of e._transitions as Array<{ source: NodeLike; target?: NodeLike[] }>) {
          states.push(t.source.path.join('.'));
          for (const target of t.target ?? []) states.push(target.path.join('.'));
        }
      }
      if (e.type === '@xstate.microstep' || e.type === '@xstate.snapshot') {
        const value = (e.snapshot as { value?: StateValue }).value;
        if (value !== undefined) states.push(...activeStates(value));
      }
      const fresh = this.add(name, states);
      if (fresh.length > 0) onFresh?.(fresh);
    };
  }

  /** Every machine's states seen so far, sorted. */
  toJSON(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, set] of this.seen) out[name] = [...set].sort();
    return out;
  }
}
