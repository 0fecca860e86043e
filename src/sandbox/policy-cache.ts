// Built policies kept for the next sandbox of the same process (a library host runs many): the
// user profile costs a few milliseconds of parsing and compiling per spawn, the same each time.
// SAFETY: a policy is reused only when everything its build read is the same: the key holds
// what it was asked and the state it read outside the file system (environment, cwd, uid, the
// program's path); the recorded reads (fs-reads.ts: every listing, realpath, lstat, readlink,
// file read) are made again and must each see what they saw — a secret created in a home since
// (a new name in its listing), a symlink moved, /etc/passwd or a -P file edited: the build runs
// again. When unsure (no key can be made), it runs again too.
import { recordReads, sameReads, type FsRead } from './fs-reads.js';
import type { Policy } from './policy.js';

/** Policies kept (most recently used last). A host with more shapes of sandbox rebuilds. */
const MAX_ENTRIES = 8;

interface Entry {
  policy: Policy;
  reads: FsRead[];
}

export class PolicyCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  /**
   * The policy `build` makes for `key`: the kept one when its reads see the same now, else a
   * new one (kept unless `build` threw). `key` undefined: built, not kept. The Policy returned
   * is shared with the next sandboxes of that key: SAFETY: it must not be changed (the
   * program's runtime rules go to the emulators' own copies, made from its JSON).
   */
  get(key: string | undefined, build: () => Policy): Policy {
    if (key === undefined) return build();
    const kept = this.entries.get(key);
    if (kept !== undefined) {
      this.entries.delete(key);
      if (sameReads(kept.reads)) {
        this.entries.set(key, kept);
        this.hits++;
        return kept.policy;
      }
    }
    this.misses++;
    const { value: policy, reads } = recordReads(build);
    this.entries.set(key, { policy, reads });
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    return policy;
  }

  clear(): void {
    this.entries.clear();
  }
}
