// The program's seccomp filter, compiled from the classification table (syscall-table.ts) for one
// policy: an allow-list. Foreign architectures and x32 calls: ENOSYS; every classified number:
// its outcome (argument rules tested in the filter); every other number: ENOSYS.
import type { Capability } from '../sandbox/rules.js';
import { Assembler, Op, type Label } from './bpf.js';
import { AARCH64, X86_64 } from './syscall-numbers.js';
import { SYSCALLS, type ArgRule, type ArgTest, type Entry, type Errno, type Outcome } from './syscall-table.js';

export type Arch = 'x86_64' | 'aarch64';

const AUDIT_ARCH: Record<Arch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
const X32_SYSCALL_BIT = 0x40000000;
export const RET = { allow: 0x7fff0000, notify: 0x7fc00000, errno: 0x00050000 } as const;
export const ERRNO: Record<Errno, number> = { EPERM: 1, EBUSY: 16, ENOSYS: 38 };
/** struct seccomp_data: nr, arch, instruction pointer, args[6] (little-endian on both arches). */
const NR = 0;
const ARCH = 4;
export const argLo = (i: number) => 16 + 8 * i;
const argHi = (i: number) => 20 + 8 * i;

/**
 * Stands for the reaper's pid in the compiled program; the program's process replaces it with
 * its parent's pid (the reaper) before it loads the filter (addon/spawn.cc). No pid reaches it.
 */
export const REAPER_PID_PLACEHOLDER = 0x7ffffffe;
/**
 * Stands for tsyd's pid in an exported program filter (`tsyd export program`): a loader
 * replaces it with the supervisor's pid, as it replaces REAPER_PID_PLACEHOLDER with the
 * program's parent. Above any pid_max (2^22), so it never names a process.
 */
export const TSYD_PID_PLACEHOLDER = 0x7ffffffd;

export function syscallNumbers(arch: Arch): Readonly<Record<string, number>> {
  return arch === 'x86_64' ? X86_64 : AARCH64;
}

/** What one number does under one policy: a plain action, or argument rules. */
export type Resolved = { kind: 'ret'; value: number } | { kind: 'rules'; rules: Array<{ when: readonly ArgTest[]; value: number }>; otherwise: number };

export interface FilterContext {
  arch: Arch;
  /** tsyd's pid (the process the supervisor threads live in). */
  tsydPid: number;
  /** The capabilities on. */
  isOn(cap: Capability): boolean;
  /** lock:off or lock:ipc (the policy can still change), or an IPC socket: every decided call stops in the kernel. */
  lockOff: boolean;
  /** The capabilities each handled call decides (its notification condition). */
  handlerCaps: ReadonlyMap<string, readonly Capability[]>;
}

function outcomeValue(o: Outcome, defaultCaps: readonly Capability[], ctx: FilterContext): number {
  switch (o.action) {
    case 'allow':
      return RET.allow;
    case 'errno':
      return RET.errno | ERRNO[o.errno];
    case 'notify': {
      const caps = o.caps ?? defaultCaps;
      // SAFETY: while the policy can change (lock:off), every decided call stops, so that a
      // capability turned on later is enforced from then on.
      const on = caps.length === 0 || ctx.lockOff || caps.some((c) => ctx.isOn(c));
      return on ? RET.notify : RET.allow;
    }
  }
}

function defaultOutcome(e: Entry): Outcome {
  if (e.class === 'allowed') return { action: 'allow' };
  if (e.class === 'refused') return { action: 'errno', errno: e.errno ?? 'ENOSYS' };
  return { action: 'notify' };
}

/** The action of one classified call under the policy of `ctx`. */
export function resolveEntry(name: string, e: Entry, ctx: FilterContext): Resolved {
  const caps = ctx.handlerCaps.get(name) ?? [];
  const otherwise = outcomeValue(defaultOutcome(e), caps, ctx);
  const rules = (e.rules ?? []).map((r: ArgRule) => ({ when: r.when, value: outcomeValue(r.then, caps, ctx) }));
  // Rules after an unconditional one are never reached; rules that give the default are moot
  // at the end.
  const cut = rules.findIndex((r) => r.when.length === 0);
  const live = cut < 0 ? rules : rules.slice(0, cut);
  const last = cut < 0 ? otherwise : rules[cut]!.value;
  while (live.length > 0 && live[live.length - 1]!.value === last) live.pop();
  if (live.length === 0) return { kind: 'ret', value: last };
  return { kind: 'rules', rules: live, otherwise: last };
}

/** Number → its action for the whole table (numbers absent: ENOSYS). */
export function resolveAll(ctx: FilterContext): Map<number, Resolved> {
  const numbers = syscallNumbers(ctx.arch);
  const out = new Map<number, Resolved>();
  for (const [name, nr] of Object.entries(numbers)) {
    const e = SYSCALLS[name];
    if (e) out.set(nr, resolveEntry(name, e, ctx));
  }
  return out;
}

interface Segment {
  lo: number;
  hi: number;
  what: Resolved;
}

const ENOSYS_RET: Resolved = { kind: 'ret', value: RET.errno | ERRNO.ENOSYS };

/** Consecutive numbers with the same plain action become one segment; gaps are ENOSYS. */
function segments(actions: Map<number, Resolved>): Segment[] {
  const nrs = [...actions.keys()].sort((a, b) => a - b);
  const out: Segment[] = [];
  const push = (lo: number, hi: number, what: Resolved) => {
    const prev = out[out.length - 1];
    if (prev && prev.hi + 1 === lo && prev.what.kind === 'ret' && what.kind === 'ret' && prev.what.value === what.value) prev.hi = hi;
    else out.push({ lo, hi, what });
  };
  let next = 0;
  for (const nr of nrs) {
    if (nr > next) push(next, nr - 1, ENOSYS_RET);
    push(nr, nr, actions.get(nr)!);
    next = nr + 1;
  }
  push(next, 0xffffffff, ENOSYS_RET);
  return out;
}

function emitTest(a: Assembler, t: ArgTest, pass: Label, fail: Label, ctx: FilterContext): void {
  switch (t.op) {
    case 'eq':
    case 'tsyd':
    case 'reaper': {
      const v = t.op === 'eq' ? t.value : t.op === 'tsyd' ? ctx.tsydPid : REAPER_PID_PLACEHOLDER;
      a.load(argLo(t.arg)).jump(Op.JEQ_K, v, pass, fail);
      return;
    }
    case 'ne':
      a.load(argLo(t.arg)).jump(Op.JEQ_K, t.value, fail, pass);
      return;
    case 'any':
      a.load(argLo(t.arg)).jump(Op.JSET_K, t.value, pass, fail);
      return;
    case 'none':
      a.load(argLo(t.arg)).jump(Op.JSET_K, t.value, fail, pass);
      return;
    case 'null':
    case 'nonnull': {
      const hi = a.label('hi');
      const zero = t.op === 'null' ? pass : fail;
      const nonzero = t.op === 'null' ? fail : pass;
      a.load(argLo(t.arg)).jump(Op.JEQ_K, 0, hi, nonzero);
      a.bind(hi).load(argHi(t.arg)).jump(Op.JEQ_K, 0, zero, nonzero);
      return;
    }
  }
}

function emitResolved(a: Assembler, what: Resolved, ctx: FilterContext): void {
  if (what.kind === 'ret') {
    a.ret(what.value);
    return;
  }
  for (const r of what.rules) {
    const fail = a.label('next');
    for (const t of r.when) {
      const pass = a.label('and');
      emitTest(a, t, pass, fail, ctx);
      a.bind(pass);
    }
    a.ret(r.value);
    a.bind(fail);
  }
  a.ret(what.otherwise);
}

/** A binary search over the segments: about log2(segments) comparisons per call. */
function emitTree(a: Assembler, segs: Segment[], ctx: FilterContext): void {
  if (segs.length === 1) {
    emitResolved(a, segs[0]!.what, ctx);
    return;
  }
  const mid = segs.length >> 1;
  const right = a.label('ge');
  const left = a.label('lt');
  a.jump(Op.JGE_K, segs[mid]!.lo, right, left);
  a.bind(left);
  emitTree(a, segs.slice(0, mid), ctx);
  a.bind(right);
  emitTree(a, segs.slice(mid), ctx);
}

/** The program's filter for one policy (struct sock_filter[] bytes). */
export function compileProgramFilter(ctx: FilterContext): Buffer {
  const a = new Assembler();
  archPrologue(a, ctx.arch);
  emitTree(a, segments(resolveAll(ctx)), ctx);
  return a.assemble();
}

/** Foreign architectures and x32 calls → ENOSYS; then A holds the call number. */
export function archPrologue(a: Assembler, arch: Arch): void {
  const native = a.label('arch_ok');
  const foreign = a.label('foreign');
  a.load(ARCH).jump(Op.JEQ_K, AUDIT_ARCH[arch], native, foreign);
  // SAFETY: the arch check comes first: a 32-bit call (`int 0x80`, other numbers) never reaches
  // the comparisons meant for the native ABI.
  a.bind(foreign).ret(RET.errno | ERRNO.ENOSYS);
  a.bind(native).load(NR);
  if (arch === 'x86_64') {
    // SAFETY: x32 calls (the X32 bit set) use other argument layouts: refused as a whole.
    const x32 = a.label('x32');
    const x64 = a.label('x64');
    a.jump(Op.JGE_K, X32_SYSCALL_BIT, x32, x64);
    a.bind(x32).ret(RET.errno | ERRNO.ENOSYS);
    a.bind(x64);
  }
}
