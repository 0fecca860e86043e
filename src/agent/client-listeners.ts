// How many containers (listeners) one allowed client may have served at once: each costs the
// agent a monitor, its emulators and an interrupter (~34 MiB), and an --allow-uid client may
// claim processes of its own in namespaces it made as often as it likes (atkagent2).
import { isRuntimeUid } from './peer.js';

/** SAFETY: listeners served at once for one client uid that is neither root nor the agent's user. */
export const MAX_LISTENERS_PER_CLIENT = 8;

/** The listeners served per bounded client uid. */
export class ClientListeners {
  private readonly held = new Map<number, number>();

  /** Why one more listener of `uid` is refused (over its bound), or undefined when it is taken. */
  take(uid: number): string | undefined {
    if (isRuntimeUid(uid)) return undefined;
    const now = this.held.get(uid) ?? 0;
    if (now >= MAX_LISTENERS_PER_CLIENT) return `too_many: uid ${uid} has ${now} containers served already (at most ${MAX_LISTENERS_PER_CLIENT})`;
    this.held.set(uid, now + 1);
    return undefined;
  }

  /** A listener of `uid` taken before is no longer served. */
  release(uid: number): void {
    if (isRuntimeUid(uid)) return;
    const left = (this.held.get(uid) ?? 1) - 1;
    if (left > 0) this.held.set(uid, left);
    else this.held.delete(uid);
  }
}
