// Which policy a container gets: the agent's default (its -p/-m/-P options), or with --policies
// DIR and listenerMetadata `policy=NAME`, DIR/NAME.policy on the empty base (as `-p none -P
// DIR/NAME.policy`). Every agent policy is locked: a container never changes it (no control
// route, no IPC socket). A name that is not a plain file name in DIR gets DENY_ALL.
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { CAPABILITIES } from '../sandbox/rules.js';
import { buildPolicy, type PolicyInput } from '../sandbox/build.js';
import type { Policy } from '../sandbox/policy.js';
import { enforcedCapabilities } from '../syscalls/index.js';

/** SAFETY: locked, so that the program can never turn a capability off (/dev/tsyd is closed). */
const LOCK: PolicyInput = { rule: 'lock:on', source: { kind: 'arg' } };

/** Every capability tsyd enforces on, no rule: every decided call denied (and logged). */
export function denyAll(): Policy {
  const enforced = enforcedCapabilities();
  const on = CAPABILITIES.filter((c) => enforced.has(c)).map((c): PolicyInput => ({ rule: `sandbox/${c}:on`, source: { kind: 'arg' } }));
  return buildPolicy([{ profile: 'none' }, ...on, LOCK]);
}

/** The agent's policy from its options. Throws (a usage error of the agent) when it cannot serve it. */
export function agentPolicy(inputs: PolicyInput[]): Policy {
  const policy = buildPolicy([...inputs, LOCK]);
  if (policy.crypt.on) throw new Error('Crypt sandboxing is not served by tsyd agent (README: Containers)');
  if (policy.ipc.address !== undefined) throw new Error('ipc: is not served by tsyd agent: a container\'s policy is locked');
  return policy;
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** The keys of `metadata` (`KEY=VALUE` or `KEY`, separated as `policy=`) the agent does not read: all but `policy`. */
export function unknownMetadataKeys(metadata: string): string[] {
  return metadata
    .split(/[\s,;]+/)
    .filter((word) => word !== '')
    .map((word) => word.split('=')[0]!)
    .filter((key) => key !== 'policy');
}

export type Choice = { policy: Policy; name: string } | { refused: string };

/**
 * The policy a container asks for with its metadata. No `policy=` in it: the default. SAFETY:
 * NAME is a plain file name (no `/`, no `..`, no leading dot) of a regular file in DIR (not a
 * symlink): a container's metadata never names another file of the agent's machine.
 */
export function choosePolicy(metadata: string, dir: string | undefined, fallback: Policy, cache: Map<string, Policy>): Choice {
  const m = /(?:^|[\s,;])policy=([^\s,;]*)/.exec(metadata);
  if (m === null) return { policy: fallback, name: 'default' };
  const name = m[1]!;
  if (dir === undefined) return { refused: `policy=${name}: the agent has no --policies directory` };
  if (!NAME.test(name)) return { refused: `policy=${name}: not a plain file name` };
  const file = join(dir, `${name}.policy`);
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined || !st.isFile()) return { refused: `policy=${name}: ${file} is not a regular file` };
  // A policy file is read once per agent: edit it and restart the agent (or use another name).
  let policy = cache.get(name);
  if (policy === undefined) {
    try {
      policy = agentPolicy([{ profile: 'none' }, { file }]);
    } catch (err) {
      return { refused: `policy=${name}: ${String((err as Error).message)}` };
    }
    cache.set(name, policy);
  }
  return { policy, name };
}
