// Classic seccomp BPF programs as text: a decoder, a disassembler and a "pseudo filter code"
// (PFC) listing in the spirit of libseccomp's seccomp_export_pfc(). The summary at the top of
// the listing is worked out by running the program symbolically over seccomp_data's `nr` and
// `arch` fields, never by pattern-matching the layout addon/filter.cc happens to emit.
import { constants as osConstants } from 'node:os';

export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Longest program the kernel accepts (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** AUDIT_ARCH_* values found in seccomp_data.arch. */
export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  AARCH64: 0xc00000b7,
  I386: 0x40000003,
} as const;

/** SECCOMP_RET_* actions (the upper 16 bits of a filter's return value). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

const SECCOMP_RET_ACTION_FULL = 0xffff0000;
const SECCOMP_RET_DATA = 0x0000ffff;
const X32_SYSCALL_BIT = 0x40000000;
const U32_MAX = 0xffffffff;
/** sizeof(struct seccomp_data): what `ld #len` loads. */
const SECCOMP_DATA_SIZE = 64;
/** BPF_MEMWORDS: scratch slots M[0..15]. */
const MEMWORDS = 16;

// Opcode fields (linux/bpf_common.h).
const CLS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, RET: 6, MISC: 7 } as const;
const ALU_OPS: Record<number, string> = {
  0x00: 'add',
  0x10: 'sub',
  0x20: 'mul',
  0x30: 'div',
  0x40: 'or',
  0x50: 'and',
  0x60: 'lsh',
  0x70: 'rsh',
  0x90: 'mod',
  0xa0: 'xor',
};
const JMP_OPS: Record<number, string> = { 0x10: 'jeq', 0x20: 'jgt', 0x30: 'jge', 0x40: 'jset' };
const BPF_X = 0x08;
const BPF_NEG = 0x80;

const ARCH_NAMES = new Map<number, string>([
  [AUDIT_ARCH.X86_64, 'AUDIT_ARCH_X86_64'],
  [AUDIT_ARCH.AARCH64, 'AUDIT_ARCH_AARCH64'],
  [AUDIT_ARCH.I386, 'AUDIT_ARCH_I386'],
]);

const ARCH_BY_NAME = new Map<string, number>([
  ['x86_64', AUDIT_ARCH.X86_64],
  ['x64', AUDIT_ARCH.X86_64],
  ['amd64', AUDIT_ARCH.X86_64],
  ['aarch64', AUDIT_ARCH.AARCH64],
  ['arm64', AUDIT_ARCH.AARCH64],
  ['i386', AUDIT_ARCH.I386],
  ['ia32', AUDIT_ARCH.I386],
  ['x86', AUDIT_ARCH.I386],
]);

const ACTION_NAMES = new Map<number, string>(
  Object.entries(SECCOMP_RET).map(([name, value]) => [value >>> 0, name]),
);

let errnoNames: Map<number, string> | undefined;
function errnoName(n: number): string | undefined {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(osConstants.errno)) {
      if (!errnoNames.has(value)) errnoNames.set(value, name);
    }
  }
  return errnoNames.get(n);
}

const hex = (n: number) => `0x${(n >>> 0).toString(16)}`;
/** Small numbers in decimal, large ones (constants, masks, arch values) in hex. */
const num = (n: number) => ((n >>> 0) <= 0xffff ? String(n >>> 0) : hex(n));
const pad4 = (n: number) => String(n).padStart(4, '0');

/** The AUDIT_ARCH_* name of an arch value, if it is one this module knows. */
export function archName(arch: number): string | undefined {
  return ARCH_NAMES.get(arch >>> 0);
}

/** A seccomp return value as text: `ALLOW`, `ERRNO(38)`, `TRACE(7)`, or hex for unknown actions. */
export function actionName(ret: number): string {
  const action = (ret & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = ret & SECCOMP_RET_DATA;
  const name = ACTION_NAMES.get(action);
  if (name === undefined) return hex(ret);
  if (action === SECCOMP_RET.ERRNO || data !== 0) return `${name}(${data})`;
  return name;
}

/** Splits a buffer of `struct sock_filter` (8 bytes each, little-endian) into instructions. */
export function decodeBpf(buf: Buffer): BpfInsn[] {
  if (!(buf instanceof Uint8Array)) {
    throw new TypeError('decodeBpf: expected a Buffer of struct sock_filter');
  }
  if (buf.byteLength % 8 !== 0) {
    throw new TypeError(
      `decodeBpf: the program is ${buf.byteLength} bytes long, not a multiple of 8 (sizeof(struct sock_filter))`,
    );
  }
  const count = buf.byteLength / 8;
  if (count > BPF_MAXINSNS) {
    throw new TypeError(`decodeBpf: the program has ${count} instructions, more than BPF_MAXINSNS (${BPF_MAXINSNS})`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: BpfInsn[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * 8;
    out.push({
      code: view.getUint16(at, true),
      jt: view.getUint8(at + 2),
      jf: view.getUint8(at + 3),
      k: view.getUint32(at + 4, true),
    });
  }
  return out;
}

/** The seccomp_data field at a byte offset (x86_64 and aarch64 are little-endian). */
function fieldName(offset: number): string | undefined {
  if (offset === 0) return 'nr';
  if (offset === 4) return 'arch';
  if (offset === 8) return 'instruction_pointer (low)';
  if (offset === 12) return 'instruction_pointer (high)';
  if (offset >= 16 && offset < SECCOMP_DATA_SIZE && offset % 4 === 0) {
    const i = Math.floor((offset - 16) / 8);
    return `args[${i}] (${offset % 8 === 0 ? 'low' : 'high'})`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Disassembly

/** An instruction's text without comments; jump targets are absolute instruction indices. */
function mnemonic(ins: BpfInsn, pc: number): string {
  const { code, k } = ins;
  switch (code & 0x07) {
    case CLS.LD:
      if (code === 0x00) return `ld #${num(k)}`;
      if (code === 0x20) return `ld [${k}]`;
      if (code === 0x60) return `ld M[${k}]`;
      if (code === 0x80) return 'ld #len';
      break;
    case CLS.LDX:
      if (code === 0x01) return `ldx #${num(k)}`;
      if (code === 0x61) return `ldx M[${k}]`;
      if (code === 0x81) return 'ldx #len';
      break;
    case CLS.ST:
      if (code === 0x02) return `st M[${k}]`;
      break;
    case CLS.STX:
      if (code === 0x03) return `stx M[${k}]`;
      break;
    case CLS.ALU: {
      if (code === (CLS.ALU | BPF_NEG)) return 'neg';
      const op = ALU_OPS[code & 0xf0];
      if (op !== undefined && (code & ~0xf8) === CLS.ALU) {
        return code & BPF_X ? `${op} x` : `${op} #${num(k)}`;
      }
      break;
    }
    case CLS.JMP: {
      if (code === 0x05) return `ja ${pc + 1 + k}`;
      const op = JMP_OPS[code & 0xf0];
      if (op !== undefined && (code & ~0xf8) === CLS.JMP) {
        const operand = code & BPF_X ? 'x' : `#${num(k)}`;
        return `${op} ${operand} jt ${pc + 1 + ins.jt} jf ${pc + 1 + ins.jf}`;
      }
      break;
    }
    case CLS.RET:
      if (code === 0x06) return `ret ${actionName(k)}`;
      if (code === 0x16) return 'ret a';
      break;
    case CLS.MISC:
      if (code === 0x07) return 'tax';
      if (code === 0x87) return 'txa';
      break;
  }
  return `??? code=${hex(code)} jt ${ins.jt} jf ${ins.jf} k ${hex(k)}`;
}

/** What the accumulator/index register holds, as far as a forward pass over the DAG can tell. */
type Origin = 'nr' | 'arch' | 'other';
interface FlowState {
  a: Origin;
  x: Origin;
  /** The arch value established by an earlier `jeq #K` on arch, when every path agrees. */
  arch: number | null;
}

function mergeFlow(s: FlowState | undefined, t: FlowState): FlowState {
  if (!s) return t;
  return {
    a: s.a === t.a ? s.a : 'other',
    x: s.x === t.x ? s.x : 'other',
    arch: s.arch === t.arch ? s.arch : null,
  };
}

/** Per-instruction register origins (undefined: unreachable). BPF only jumps forward. */
function flow(insns: BpfInsn[]): Array<FlowState | undefined> {
  const states: Array<FlowState | undefined> = new Array(insns.length);
  states[0] = insns.length > 0 ? { a: 'other', x: 'other', arch: null } : undefined;
  const send = (to: number, s: FlowState) => {
    if (to < insns.length) states[to] = mergeFlow(states[to], s);
  };
  for (let pc = 0; pc < insns.length; pc++) {
    const s = states[pc];
    if (!s) continue;
    const { code, k, jt, jf } = insns[pc]!;
    const cls = code & 0x07;
    if (cls === CLS.RET) continue;
    if (cls === CLS.JMP) {
      if (code === 0x05) {
        send(pc + 1 + k, s);
        continue;
      }
      const taken = code === 0x15 && s.a === 'arch' ? { ...s, arch: k >>> 0 } : s;
      send(pc + 1 + jt, taken);
      send(pc + 1 + jf, s);
      continue;
    }
    let next = s;
    if (code === 0x20) next = { ...s, a: k === 0 ? 'nr' : k === 4 ? 'arch' : 'other' };
    else if (cls === CLS.LD || cls === CLS.ALU) next = { ...s, a: 'other' };
    else if (cls === CLS.LDX) next = { ...s, x: 'other' };
    else if (code === 0x07) next = { ...s, x: s.a };
    else if (code === 0x87) next = { ...s, a: s.x };
    send(pc + 1, next);
  }
  return states;
}

interface Naming {
  syscallName: (nr: number) => string | undefined;
  /** AUDIT_ARCH value of the syscall-name table, if opts.arch is a known name. */
  nameArch: number | undefined;
  /** Whether the program compares seccomp_data.arch anywhere. */
  checksArch: boolean;
}

/** Whether syscall numbers seen under arch `arch` (null: unknown) may be named. */
function mayName(naming: Naming, arch: number | null): boolean {
  if (naming.nameArch === undefined) return true;
  if (arch === null) return !naming.checksArch;
  return arch === naming.nameArch;
}

function comment(
  ins: BpfInsn,
  pc: number,
  s: FlowState | undefined,
  reached: boolean,
  naming: Naming,
  n: number,
): string | undefined {
  const { code, k } = ins;
  const notes: string[] = [];
  if (code === 0x20) notes.push(fieldName(k) ?? 'outside seccomp_data');
  if (code === 0x80 || code === 0x81) notes.push(`sizeof(struct seccomp_data) = ${SECCOMP_DATA_SIZE}`);
  if ((code === 0x60 || code === 0x61 || code === 0x02 || code === 0x03) && k >= MEMWORDS) {
    notes.push('scratch slot out of range');
  }
  if (code === 0x06) {
    const action = (k & SECCOMP_RET_ACTION_FULL) >>> 0;
    if (action === SECCOMP_RET.ERRNO) {
      const e = errnoName(k & SECCOMP_RET_DATA);
      if (e) notes.push(e);
    } else if (!ACTION_NAMES.has(action)) {
      notes.push('unknown action');
    }
  }
  if ((code & 0x07) === CLS.JMP) {
    const targets = code === 0x05 ? [pc + 1 + k] : [pc + 1 + ins.jt, pc + 1 + ins.jf];
    if (targets.some((t) => t >= n)) notes.push('jump target past the end');
    if (s && (code & BPF_X) === 0 && code !== 0x05) {
      if (s.a === 'arch') {
        const name = archName(k);
        if (name) notes.push(name);
      } else if (s.a === 'nr') {
        if (code === 0x15 && mayName(naming, s.arch)) {
          const name = naming.syscallName(k);
          if (name) notes.push(name);
        } else if ((code === 0x35 || code === 0x45) && k === X32_SYSCALL_BIT && s.arch === AUDIT_ARCH.X86_64) {
          notes.push('__X32_SYSCALL_BIT');
        }
      }
    }
  }
  if (!s || !reached) notes.push('unreachable');
  return notes.length ? notes.join(', ') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Symbolic execution over seccomp_data.nr and seccomp_data.arch

/** Values a `jeq` sent elsewhere: a shared, immutable list, newest first (paths fork often). */
type Holes = { readonly v: number; readonly next: Holes; readonly count: number } | null;

const holeCount = (h: Holes) => (h ? h.count : 0);
function hasHole(h: Holes, v: number): boolean {
  for (let n = h; n; n = n.next) if (n.v === v) return true;
  return false;
}
/** Oldest first: the order the program compared them in. */
function holeList(h: Holes): number[] {
  const out: number[] = [];
  for (let n = h; n; n = n.next) out.push(n.v);
  return out.reverse();
}
function holesFrom(values: number[]): Holes {
  let h: Holes = null;
  for (const v of values) h = { v, next: h, count: holeCount(h) + 1 };
  return h;
}

/** The unsigned 32-bit values a field may still hold on a path. */
interface Range {
  lo: number;
  hi: number;
  eq?: number;
  /** Values excluded inside [lo, hi]. */
  neq: Holes;
}

const FULL: Range = { lo: 0, hi: U32_MAX, neq: null };
const pinned = (v: number): Range => ({ lo: v, hi: v, eq: v, neq: null });
const isFull = (r: Range) => r.eq === undefined && r.lo === 0 && r.hi === U32_MAX && r.neq === null;
const sameRange = (a: Range, b: Range) =>
  a.lo === b.lo &&
  a.hi === b.hi &&
  a.eq === b.eq &&
  (a.neq === b.neq || holeList(a.neq).join() === holeList(b.neq).join());

/** [lo, hi] minus the holes inside it; null when nothing is left. */
function normalize(lo: number, hi: number, neq: Holes): Range | null {
  if (lo > hi) return null;
  const all = holeList(neq);
  const inside = all.length && all.some((v) => v < lo || v > hi) ? all.filter((v) => v >= lo && v <= hi) : all;
  const size = hi - lo + 1;
  if (inside.length >= size) return null; // holes are distinct, so all of [lo, hi] is excluded
  if (inside.length === size - 1) {
    for (let v = lo; v <= hi; v++) if (!inside.includes(v)) return pinned(v);
  }
  if (lo === hi) return pinned(lo);
  return { lo, hi, neq: inside === all ? neq : holesFrom(inside) };
}

type RangeOp = 'eq' | 'ne' | 'ge' | 'le';

/** `r` narrowed by `field op v`; null when no value is left; `r` itself when nothing changed. */
function narrow(r: Range, op: RangeOp, v: number): Range | null {
  switch (op) {
    case 'eq':
      if (v < r.lo || v > r.hi || hasHole(r.neq, v)) return null;
      return r.eq === v ? r : pinned(v);
    case 'ne': {
      if (r.eq !== undefined) return r.eq === v ? null : r;
      if (v < r.lo || v > r.hi || hasHole(r.neq, v)) return r;
      const neq: Holes = { v, next: r.neq, count: holeCount(r.neq) + 1 };
      // Only a small range can run out of values (or come down to one).
      return r.hi - r.lo <= neq.count ? normalize(r.lo, r.hi, neq) : { lo: r.lo, hi: r.hi, neq };
    }
    case 'ge':
      return v <= r.lo ? r : normalize(v, r.hi, r.neq);
    case 'le':
      return v >= r.hi ? r : normalize(r.lo, v, r.neq);
  }
}

type Field = 'nr' | 'arch';
type Val =
  | { t: 'const'; v: number }
  | { t: 'field'; f: Field }
  | { t: 'opaque'; what: string }
  | { t: 'unset' };

interface SymState {
  pc: number;
  a: Val;
  x: Val;
  mem: Val[];
  nr: Range;
  arch: Range;
  /** The instruction that last narrowed `nr` (orders the summary lines). */
  nrPc: number;
}

interface Leaf {
  nr: Range;
  arch: Range;
  ret: number;
  nrPc: number;
  retPc: number;
}

class NotSummarisable extends Error {
  constructor(
    readonly why: string,
    readonly pc: number,
  ) {
    super(why);
  }
}

/** Instructions a program may execute over all paths before the summary gives up. */
const STEP_BUDGET = 10_000_000;

interface Exploration {
  leaves: Leaf[];
  /** Instructions some feasible path executes. */
  visited: Set<number>;
  /** Constants that `arch` is compared for equality with, in the order first met. */
  archValues: number[];
}

function describe(v: Val): string {
  if (v.t === 'opaque') return v.what;
  if (v.t === 'field') return v.f === 'nr' ? '$syscall' : '$arch';
  if (v.t === 'unset') return 'an unset scratch slot';
  return num(v.v);
}

function alu(op: number, a: number, b: number, pc: number): number {
  switch (op) {
    case 0x00:
      return (a + b) >>> 0;
    case 0x10:
      return (a - b) >>> 0;
    case 0x20:
      return Math.imul(a, b) >>> 0;
    case 0x30:
    case 0x90:
      if (b === 0) throw new NotSummarisable('divides by zero', pc);
      return op === 0x30 ? Math.floor(a / b) >>> 0 : a % b >>> 0;
    case 0x40:
      return (a | b) >>> 0;
    case 0x50:
      return (a & b) >>> 0;
    case 0x60:
    case 0x70:
      if (b >= 32) throw new NotSummarisable('shifts by 32 or more', pc);
      return op === 0x60 ? (a << b) >>> 0 : a >>> b;
    case 0xa0:
      return (a ^ b) >>> 0;
  }
  throw new NotSummarisable(`has an unknown ALU operation ${hex(op)}`, pc);
}

/** Follows every feasible path with `nr` free and `arch` limited to `archInit`. */
function explore(insns: BpfInsn[], archInit: Range): Exploration {
  const leaves: Leaf[] = [];
  const archValues: number[] = [];
  const visited = new Set<number>();
  const n = insns.length;
  const stack: SymState[] = [
    {
      pc: 0,
      a: { t: 'const', v: 0 },
      x: { t: 'const', v: 0 },
      mem: new Array<Val>(MEMWORDS).fill({ t: 'unset' }),
      nr: FULL,
      arch: archInit,
      nrPc: -1,
    },
  ];
  let steps = 0;
  while (stack.length > 0) {
    const s = stack.pop()!;
    for (;;) {
      if (++steps > STEP_BUDGET) throw new NotSummarisable('has too many paths to follow', s.pc);
      if (s.pc >= n) throw new NotSummarisable('runs past its last instruction', n - 1);
      const pc = s.pc;
      visited.add(pc);
      const ins = insns[pc]!;
      const { code, k } = ins;
      const cls = code & 0x07;
      if (cls === CLS.RET) {
        let ret: number;
        if (code === 0x06) ret = k >>> 0;
        else if (code === 0x16) {
          if (s.a.t !== 'const') throw new NotSummarisable(`returns ${describe(s.a)} (ret a)`, pc);
          ret = s.a.v;
        } else throw new NotSummarisable(`has an unknown instruction (code ${hex(code)})`, pc);
        leaves.push({ nr: s.nr, arch: s.arch, ret, nrPc: s.nrPc, retPc: pc });
        break;
      }
      if (cls === CLS.JMP) {
        if (code === 0x05) {
          if (pc + 1 + k >= n) throw new NotSummarisable('jumps past the last instruction', pc);
          s.pc = pc + 1 + k;
          continue;
        }
        const op = code & 0xf0;
        if (JMP_OPS[op] === undefined || (code & ~0xf8) !== CLS.JMP) {
          throw new NotSummarisable(`has an unknown instruction (code ${hex(code)})`, pc);
        }
        let rhs: number;
        if (code & BPF_X) {
          if (s.x.t !== 'const') throw new NotSummarisable(`compares with ${describe(s.x)} in x`, pc);
          rhs = s.x.v;
        } else rhs = k >>> 0;
        const tPc = pc + 1 + ins.jt;
        const fPc = pc + 1 + ins.jf;
        if (tPc >= n || fPc >= n) throw new NotSummarisable('jumps past the last instruction', pc);
        const a = s.a;
        if (a.t === 'const') {
          const v = a.v;
          const taken =
            op === 0x10 ? v === rhs : op === 0x20 ? v > rhs : op === 0x30 ? v >= rhs : (v & rhs) !== 0;
          s.pc = taken ? tPc : fPc;
          continue;
        }
        if (a.t !== 'field') throw new NotSummarisable(`compares ${describe(a)}`, pc);
        const r = s[a.f];
        if (op === 0x10 && a.f === 'arch' && !archValues.includes(rhs)) archValues.push(rhs);
        let tr: Range | null;
        let fr: Range | null;
        if (op === 0x10) {
          tr = narrow(r, 'eq', rhs);
          fr = narrow(r, 'ne', rhs);
        } else if (op === 0x20) {
          tr = rhs === U32_MAX ? null : narrow(r, 'ge', rhs + 1);
          fr = narrow(r, 'le', rhs);
        } else if (op === 0x30) {
          tr = narrow(r, 'ge', rhs);
          fr = rhs === 0 ? null : narrow(r, 'le', rhs - 1);
        } else {
          // jset: only decidable here once the field is pinned to one value.
          if (r.eq === undefined) {
            throw new NotSummarisable(`tests bits of ${describe(a)} (jset ${hex(rhs)})`, pc);
          }
          tr = (r.eq & rhs) !== 0 ? r : null;
          fr = tr ? null : r;
        }
        // Moves `st` along one edge, narrowing the compared field.
        const take = (st: SymState, range: Range, to: number) => {
          st.pc = to;
          if (a.f === 'nr') {
            if (range !== r) st.nrPc = pc;
            st.nr = range;
          } else st.arch = range;
        };
        if (tr && fr) {
          const other: SymState = { ...s, mem: s.mem.slice() };
          take(other, fr, fPc);
          stack.push(other);
          take(s, tr, tPc);
        } else if (tr) take(s, tr, tPc);
        else if (fr) take(s, fr, fPc);
        else throw new NotSummarisable('reaches a compare no value can pass', pc);
        continue;
      }
      // Straight-line instructions.
      switch (code) {
        case 0x00:
          s.a = { t: 'const', v: k >>> 0 };
          break;
        case 0x01:
          s.x = { t: 'const', v: k >>> 0 };
          break;
        case 0x20:
          if (k === 0) s.a = { t: 'field', f: 'nr' };
          else if (k === 4) s.a = { t: 'field', f: 'arch' };
          else {
            const name = fieldName(k);
            if (name === undefined) throw new NotSummarisable(`loads outside seccomp_data (ld [${k}])`, pc);
            s.a = { t: 'opaque', what: `seccomp_data.${name}` };
          }
          break;
        case 0x80:
          s.a = { t: 'const', v: SECCOMP_DATA_SIZE };
          break;
        case 0x81:
          s.x = { t: 'const', v: SECCOMP_DATA_SIZE };
          break;
        case 0x60:
        case 0x61: {
          if (k >= MEMWORDS) throw new NotSummarisable(`uses scratch slot M[${k}]`, pc);
          const v = s.mem[k]!;
          if (v.t === 'unset') throw new NotSummarisable(`reads M[${k}] before storing to it`, pc);
          if (code === 0x60) s.a = v;
          else s.x = v;
          break;
        }
        case 0x02:
        case 0x03:
          if (k >= MEMWORDS) throw new NotSummarisable(`uses scratch slot M[${k}]`, pc);
          s.mem[k] = code === 0x02 ? s.a : s.x;
          break;
        case 0x07:
          s.x = s.a;
          break;
        case 0x87:
          s.a = s.x;
          break;
        default: {
          if (cls !== CLS.ALU) throw new NotSummarisable(`has an unknown instruction (code ${hex(code)})`, pc);
          if (code === (CLS.ALU | BPF_NEG)) {
            s.a = s.a.t === 'const' ? { t: 'const', v: -s.a.v >>> 0 } : { t: 'opaque', what: `-(${describe(s.a)})` };
            break;
          }
          const op = code & 0xf0;
          if (ALU_OPS[op] === undefined || (code & ~0xf8) !== CLS.ALU) {
            throw new NotSummarisable(`has an unknown instruction (code ${hex(code)})`, pc);
          }
          const b: Val = code & BPF_X ? s.x : { t: 'const', v: k >>> 0 };
          if (s.a.t === 'const' && b.t === 'const') s.a = { t: 'const', v: alu(op, s.a.v, b.v, pc) };
          else s.a = { t: 'opaque', what: `${describe(s.a)} ${ALU_OPS[op]} ${describe(b)}` };
        }
      }
      s.pc = pc + 1;
    }
  }
  return { leaves, visited, archValues };
}

// ---------------------------------------------------------------------------------------------
// Summary

function archValueText(v: number): string {
  const name = archName(v);
  return name ? `${hex(v)} /* ${name} */` : hex(v);
}

function rangeConds(field: string, r: Range, value: (v: number) => string, withNeq: boolean): string[] {
  if (r.eq !== undefined) return [`${field} == ${value(r.eq)}`];
  const parts: string[] = [];
  if (r.lo > 0) parts.push(`${field} >= ${num(r.lo)}`);
  if (r.hi < U32_MAX) parts.push(`${field} <= ${num(r.hi)}`);
  if (withNeq) for (const v of holeList(r.neq)) parts.push(`${field} != ${value(v)}`);
  return parts;
}

/**
 * The leaf to print last, unconditionally: whatever no earlier line catches. Any leaf printed
 * last is right; this picks the one a reader calls the default: the fall-through past the
 * most `jeq`s, then the one holding the ordinary numbers (0 up), then the widest.
 */
function pickDefault(leaves: Leaf[]): Leaf | undefined {
  let best: Leaf | undefined;
  const score = (l: Leaf) => [holeCount(l.nr.neq), l.nr.lo === 0 ? 1 : 0, l.nr.hi - l.nr.lo];
  for (const l of leaves) {
    if (l.nr.eq !== undefined) continue;
    if (!best) {
      best = l;
      continue;
    }
    const a = score(l);
    const b = score(best);
    const i = a.findIndex((v, j) => v !== b[j]);
    if (i >= 0 && a[i]! > b[i]!) best = l;
  }
  return best;
}

/**
 * One line per leaf of a partition of the syscall numbers (arch fixed or never split).
 * Exact conditions first, in program order; then ranges printed without their `!=` holes,
 * which is sound because every hole is a value some `jeq` sent elsewhere, so its own exact
 * `==` line comes earlier (after that `jeq` the number is pinned, so its leaf says `==`);
 * last the default, unconditionally, which is right because the leaves partition the numbers.
 */
function syscallLines(leaves: Leaf[], indent: string, name: ((nr: number) => string | undefined) | null, arch: number | null): string[] {
  const value = (v: number) => {
    const n = name?.(v);
    return n ? `${num(v)} /* ${n} */` : num(v);
  };
  const order = (a: Leaf, b: Leaf) => a.nrPc - b.nrPc || a.retPc - b.retPc;
  const fallback = pickDefault(leaves);
  const others = leaves.filter((l) => l !== fallback);
  const exact = others.filter((l) => l.nr.eq !== undefined || l.nr.neq === null).sort(order);
  const holed = others.filter((l) => l.nr.eq === undefined && l.nr.neq !== null).sort(order);
  const lines: string[] = [];
  for (const l of [...exact, ...holed]) {
    const cond = rangeConds('$syscall', l.nr, value, false).join(' && ');
    const x32 =
      arch === AUDIT_ARCH.X86_64 && l.nr.eq === undefined && l.nr.lo === X32_SYSCALL_BIT && l.nr.hi === U32_MAX
        ? '  # x32 ABI (__X32_SYSCALL_BIT)'
        : '';
    lines.push(`${indent}if (${cond}) action ${actionName(l.ret)}${x32}`);
  }
  if (fallback) {
    lines.push(`${indent}# default action`);
    lines.push(`${indent}action ${actionName(fallback.ret)}`);
  }
  return lines;
}

function summarise(insns: BpfInsn[], naming: Naming): { lines: string[]; visited: Set<number> } {
  const all = explore(insns, FULL);
  return { lines: summaryLines(insns, naming, all), visited: all.visited };
}

function summaryLines(insns: BpfInsn[], naming: Naming, all: Exploration): string[] {
  const archValues = all.archValues;
  naming.checksArch = archValues.length > 0;
  const names = (arch: number | null) => (mayName(naming, arch) ? naming.syscallName : null);
  const lines: string[] = [];
  if (archValues.length === 0) {
    lines.push('# WARNING: the program never compares $arch for equality');
    const archSplit = all.leaves.some((l) => !isFull(l.arch));
    if (!archSplit) return [...lines, ...syscallLines(all.leaves, '', names(null), null)];
    return [...lines, ...exactLines(all.leaves)];
  }
  // Foreign architectures: every arch value the program never names.
  let foreign: Range | null = FULL;
  for (const v of archValues) foreign = foreign && narrow(foreign, 'ne', v);
  if (foreign) {
    const other = explore(insns, foreign).leaves;
    const cond = rangeConds('$arch', foreign, archValueText, true).join(' && ');
    if (other.some((l) => !sameRange(l.arch, foreign!))) {
      lines.push(...exactLines(other));
    } else if (other.length === 1 && isFull(other[0]!.nr)) {
      lines.push(`if (${cond}) action ${actionName(other[0]!.ret)}`);
    } else {
      lines.push(`if (${cond})`, ...syscallLines(other, '  ', null, null));
    }
  }
  for (const v of archValues) {
    lines.push(`if ($arch == ${archValueText(v)})`);
    lines.push(...syscallLines(explore(insns, pinned(v)).leaves, '  ', names(v), v));
  }
  return lines;
}

/** Fallback: each leaf with its full path condition (leaves are disjoint, so order is free). */
function exactLines(leaves: Leaf[]): string[] {
  return leaves.map((l) => {
    const cond = [
      ...rangeConds('$arch', l.arch, archValueText, true),
      ...rangeConds('$syscall', l.nr, num, true),
    ].join(' && ');
    return cond ? `if (${cond}) action ${actionName(l.ret)}` : `action ${actionName(l.ret)}`;
  });
}

export interface PfcOptions {
  /** Printed in the header. */
  title: string;
  /** Names syscall numbers of `arch`; numbers compared under another AUDIT_ARCH stay bare. */
  syscallName: (nr: number) => string | undefined;
  /** The architecture the names belong to: 'x86_64', 'aarch64', 'i386'. */
  arch: string;
}

/**
 * A readable listing of a seccomp program: a header, a summary derived by following the
 * program for every `$arch`/`$syscall` compare (or a note saying why there is none), and
 * the disassembly of every instruction.
 */
export function bpfToPfc(buf: Buffer, opts: PfcOptions): string {
  const insns = decodeBpf(buf);
  const nameArch = ARCH_BY_NAME.get(opts.arch.toLowerCase());
  const naming: Naming = { syscallName: opts.syscallName, nameArch, checksArch: false };
  const out: string[] = [];
  out.push('#');
  out.push(`# pseudo filter code: ${opts.title.replace(/[\r\n]+/g, ' ')}`);
  out.push(`# arch: ${opts.arch}${nameArch !== undefined ? ` (${archName(nameArch)} = ${hex(nameArch)})` : ''}`);
  out.push(`# ${insns.length} instruction${insns.length === 1 ? '' : 's'}`);
  out.push('#');
  // Instructions the summary's exploration reached; without a summary, the control-flow graph's.
  let visited: Set<number> | undefined;
  if (insns.length === 0) {
    out.push('# no summary: the program is empty (the kernel refuses empty filters)');
  } else {
    try {
      const summary = summarise(insns, naming);
      visited = summary.visited;
      out.push('# summary: what each $arch/$syscall leads to, found by following the program');
      out.push(...summary.lines);
    } catch (err) {
      if (!(err instanceof NotSummarisable)) throw err;
      out.push(
        `# no summary: not a filter on $arch and $syscall alone: instruction ${pad4(err.pc)} ${err.why}`,
      );
      out.push('# disassembly only');
    }
  }
  out.push('#');
  out.push('# disassembly');
  const states = flow(insns);
  naming.checksArch = insns.some((ins, pc) => ins.code === 0x15 && states[pc]?.a === 'arch');
  insns.forEach((ins, pc) => {
    const text = mnemonic(ins, pc);
    const note = comment(ins, pc, states[pc], visited?.has(pc) ?? true, naming, insns.length);
    out.push(note ? `${pad4(pc)}: ${text.padEnd(32)} ; ${note}` : `${pad4(pc)}: ${text}`);
  });
  out.push('#');
  out.push('# pseudo filter code end');
  out.push('#');
  return out.join('\n') + '\n';
}
