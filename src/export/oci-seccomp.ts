// `tsyd export oci-seccomp`: the `linux.seccomp` object of an OCI bundle (or a node's seccomp
// profile) that hands a container's decided calls to `tsyd agent` (README: Containers). It is
// the program filter of src/confine/program-filter.ts in the runtime's words: the calls tsyd
// decides for the policy are SCMP_ACT_NOTIFY (and every exec), the calls tsyd refuses are SCMP_ACT_ERRNO with
// tsyd run's errnos, every other call is allowed. libseccomp has no "first rule wins": the
// table's ordered argument rules become disjoint conjunctions (one entry each), so that no two
// entries with different actions can match the same call.
import { native } from '../native/addon.js';
import { requireAbsoluteSocket } from '../agent/socket-path.js';
import { allHandlers } from '../syscalls/index.js';
import { ERRNO, syscallNumbers, type Arch } from '../confine/program-filter.js';
import { SYSCALLS, type ArgTest, type Entry, type Outcome } from '../confine/syscall-table.js';
import type { Capability } from '../sandbox/rules.js';
import type { Policy } from '../sandbox/policy.js';

export type OciAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_NOTIFY' | 'SCMP_ACT_ERRNO';

/** One comparison of the runtime's (libseccomp's): 64-bit, `value` and `valueTwo` as numbers. */
export interface OciArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ';
}

export interface OciSyscall {
  names: string[];
  action: OciAction;
  errnoRet?: number;
  args?: OciArg[];
}

export interface OciSeccomp {
  defaultAction: 'SCMP_ACT_ALLOW';
  architectures: string[];
  listenerPath: string;
  listenerMetadata?: string;
  syscalls: OciSyscall[];
}

/**
 * The architectures named: the native one alone. SAFETY: the entries name the native ABI's calls
 * only; an ABI named here would get every call of its own that the native one lacks (i386
 * truncate64, stat64, chown32, socketcall, ...) as defaultAction, allowed. A call of any ABI not
 * named is the runtime's bad-arch action (runc 1.1 with libseccomp 2.5: the calling thread is
 * killed, SIGSYS; x32 calls on x86_64 too): it never runs (test/agent/agent-arch.test.ts).
 */
const ARCHES: Record<Arch, string[]> = { x86_64: ['SCMP_ARCH_X86_64'], aarch64: ['SCMP_ARCH_AARCH64'] };
/**
 * SAFETY: notified whatever the policy, once any call is: the agent ends the runtime's part of a
 * container (calls made as they come) at the first exec it is told of (src/agent/runtime-phase.ts).
 * A profile that notifies nothing has no listener, no agent, and so no runtime's part.
 */
const EXEC_CALLS = new Set(['execve', 'execveat']);
const LOW32 = 0xffffffff;

/** What one table outcome is in a container: an action and its errno. */
type Verdict = { action: OciAction; errno?: number };
const ALLOW: Verdict = { action: 'SCMP_ACT_ALLOW' };

/** A condition as libseccomp can take it: any of these conjunctions (comparisons all true). */
type Dnf = OciArg[][];

/** Every conjunction of `a` with every one of `b`. */
const and = (a: Dnf, b: Dnf): Dnf => a.flatMap((x) => b.map((y) => [...x, ...y]));

/**
 * A test (or its opposite, `negate`) as comparisons. SAFETY: tsyd's eq/ne/any/none test the low
 * 32 bits (what the kernel uses of an int): a MASKED_EQ with mask 0xffffffff, never a 64-bit EQ
 * that high bits set by the program would get around. "Some bit of M" is one conjunction per bit.
 */
function comparison(t: ArgTest, negate: boolean): Dnf {
  const masked = (mask: number, value: number): OciArg => ({ index: t.arg, op: 'SCMP_CMP_MASKED_EQ', value: mask, valueTwo: value });
  switch (t.op) {
    case 'eq':
    case 'ne': {
      if ((t.op === 'eq') !== negate) return [[masked(LOW32, t.value >>> 0)]];
      // "low 32 bits differ" is no single comparison of libseccomp's: compared on 64 bits. An
      // accepted risk: a value with high bits set matches this and the entry of the equal
      // rule, and libseccomp then picks one of the two actions (both stop or refuse the call).
      return [[{ index: t.arg, op: 'SCMP_CMP_NE', value: t.value >>> 0 }]];
    }
    case 'any':
    case 'none': {
      const mask = t.value >>> 0;
      if ((t.op === 'none') !== negate) return [[masked(mask, 0)]];
      const bits: Dnf = [];
      for (let bit = 1; bit !== 0 && bit <= mask; bit = (bit << 1) >>> 0) if ((mask & bit) !== 0) bits.push([masked(bit, bit)]);
      return bits;
    }
    case 'null':
    case 'nonnull':
      return [[{ index: t.arg, op: (t.op === 'null') !== negate ? 'SCMP_CMP_EQ' : 'SCMP_CMP_NE', value: 0 }]];
    case 'tsyd':
    case 'reaper':
      throw new Error('no pid of tsyd in a container');
  }
}

/** All tests of a rule. */
const allOf = (when: readonly ArgTest[]): Dnf => when.reduce<Dnf>((acc, t) => and(acc, comparison(t, false)), [[]]);

/** Not all tests of a rule: not t1, or t1 and not t2, or ... */
const notAllOf = (when: readonly ArgTest[]): Dnf => when.flatMap((t, k) => and(allOf(when.slice(0, k)), comparison(t, true)));

/** The calls whose entries match more than the table's rules (a comparison dropped), by name. */
export const APPROXIMATED = new Set<string>();

/** A conjunction of comparisons, one per argument at most (libseccomp's rule), or null when it can never hold. */
function conjoin(parts: OciArg[], name: string): OciArg[] | null {
  const byIndex = new Map<number, OciArg>();
  for (const p of parts) {
    const prev = byIndex.get(p.index);
    if (prev === undefined) {
      byIndex.set(p.index, p);
      continue;
    }
    const merged = merge(prev, p, name);
    if (merged === 'never') return null;
    byIndex.set(p.index, merged);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** Two comparisons of one argument as one, 'never' when they contradict; throws when no single one says both. */
function merge(a: OciArg, b: OciArg, name: string): OciArg | 'never' {
  if (a.op === b.op && a.value === b.value && a.valueTwo === b.valueTwo) return a;
  const exact = (x: OciArg) => (x.op === 'SCMP_CMP_MASKED_EQ' && x.value === LOW32) || (x.op === 'SCMP_CMP_EQ');
  const exactValue = (x: OciArg) => (x.op === 'SCMP_CMP_EQ' ? x.value : x.valueTwo!);
  // Bit tests: one mask and value, unless they disagree on a bit both test.
  if (a.op === 'SCMP_CMP_MASKED_EQ' && b.op === 'SCMP_CMP_MASKED_EQ') {
    const both = (a.value & b.value!) >>> 0;
    if (((a.valueTwo! ^ b.valueTwo!) & both) >>> 0 !== 0) return 'never';
    return { index: a.index, op: 'SCMP_CMP_MASKED_EQ', value: (a.value | b.value) >>> 0, valueTwo: (a.valueTwo! | b.valueTwo!) >>> 0 };
  }
  // An exact value decides every other test of the same argument.
  for (const [x, y] of [[a, b], [b, a]] as const) {
    if (!exact(x)) continue;
    const v = exactValue(x);
    const holds = y.op === 'SCMP_CMP_NE' ? v !== y.value : y.op === 'SCMP_CMP_EQ' ? v === y.value : (v & y.value!) >>> 0 === y.valueTwo;
    return holds ? x : 'never';
  }
  // No single comparison says both: the entry keeps the first and so matches more calls than
  // the table's rule (APPROXIMATED lists where; the property test pins them).
  APPROXIMATED.add(name);
  return a;
}

/** The table's outcome for one call in a container (see exportOciSeccomp). */
function verdictOf(o: Outcome, defaultCaps: readonly Capability[], isOn: (c: Capability) => boolean): Verdict {
  switch (o.action) {
    case 'allow':
      return ALLOW;
    case 'errno':
      return { action: 'SCMP_ACT_ERRNO', errno: ERRNO[o.errno] };
    case 'notify': {
      // SAFETY: calls that stop whatever the policy (caps []) guard tsyd itself: its pid, its
      // group, its terminal, credentials it follows. A container has its own pid namespace (the
      // agent refuses one that does not) and the runtime's credentials: they are the runtime's.
      const caps = o.caps ?? defaultCaps;
      return caps.length > 0 && caps.some(isOn) ? { action: 'SCMP_ACT_NOTIFY' } : ALLOW;
    }
  }
}

const sameVerdict = (a: Verdict, b: Verdict) => a.action === b.action && a.errno === b.errno;

/**
 * The entries of one call: for each rule i (first match wins in the table) whose verdict is not
 * allow, its tests and the negation of every earlier rule with another verdict, expanded into
 * conjunctions (not (a and b) = not a, or a and not b).
 */
function entriesOf(name: string, e: Entry, caps: readonly Capability[], isOn: (c: Capability) => boolean): OciSyscall[] {
  const classOutcome: Outcome = e.class === 'allowed' ? { action: 'allow' } : e.class === 'refused' ? { action: 'errno', errno: e.errno ?? 'ENOSYS' } : { action: 'notify' };
  // Rules naming tsyd's or the reaper's pid never match in a container (neither is in its pid namespace).
  const rules = (e.rules ?? [])
    .filter((r) => !r.when.some((t) => t.op === 'tsyd' || t.op === 'reaper'))
    .map((r) => ({ when: r.when, verdict: verdictOf(r.then, caps, isOn) }));
  rules.push({ when: [], verdict: verdictOf(classOutcome, caps, isOn) });
  const cut = rules.findIndex((r) => r.when.length === 0);
  const live = rules.slice(0, cut + 1);
  if (live.every((r) => sameVerdict(r.verdict, live[0]!.verdict))) return live[0]!.verdict.action === 'SCMP_ACT_ALLOW' ? [] : [entry(name, live[0]!.verdict)];
  const out: OciSyscall[] = [];
  live.forEach((r, i) => {
    if (r.verdict.action === 'SCMP_ACT_ALLOW') return;
    let dnf = allOf(r.when);
    for (const earlier of live.slice(0, i)) if (!sameVerdict(earlier.verdict, r.verdict)) dnf = and(dnf, notAllOf(earlier.when));
    for (const c of dnf) {
      const args = conjoin(c, name);
      if (args !== null) out.push({ ...entry(name, r.verdict), ...(args.length > 0 ? { args } : {}) });
    }
  });
  return out;
}

function entry(name: string, v: Verdict): OciSyscall {
  return v.errno === undefined ? { names: [name], action: v.action } : { names: [name], action: v.action, errnoRet: v.errno };
}

/**
 * The `linux.seccomp` object for `policy`. `listener`: the agent's socket (absolute path, as the
 * runtime connects to it); `metadata`: `listenerMetadata` (`policy=NAME` picks the agent's
 * policy from its --policies directory).
 */
export function exportOciSeccomp(policy: Policy, listener: string, metadata?: string, arch: Arch = native.arch): OciSeccomp {
  requireAbsoluteSocket('--listener', listener);
  const handlerCaps = new Map<string, readonly Capability[]>(allHandlers().map(([name, spec]) => [name, spec.caps]));
  const isOn = (c: Capability) => policy.isOn(c);
  const syscalls: OciSyscall[] = [];
  for (const name of Object.keys(syscallNumbers(arch)).sort()) {
    const e = SYSCALLS[name];
    if (e && !EXEC_CALLS.has(name)) syscalls.push(...entriesOf(name, e, handlerCaps.get(name) ?? [], isOn));
  }
  if (syscalls.some((s) => s.action === 'SCMP_ACT_NOTIFY')) for (const name of EXEC_CALLS) syscalls.push(entry(name, { action: 'SCMP_ACT_NOTIFY' }));
  // Plain entries with the same action share one entry (a shorter profile to read).
  const merged: OciSyscall[] = [];
  const plain = new Map<string, OciSyscall>();
  for (const s of syscalls) {
    if (s.args !== undefined) {
      merged.push(s);
      continue;
    }
    const key = `${s.action}/${s.errnoRet ?? ''}`;
    const same = plain.get(key);
    if (same) same.names.push(...s.names);
    else {
      const first = { ...s, names: [...s.names] };
      plain.set(key, first);
      merged.push(first);
    }
  }
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ARCHES[arch],
    listenerPath: listener,
    ...(metadata !== undefined ? { listenerMetadata: metadata } : {}),
    syscalls: merged,
  };
}
