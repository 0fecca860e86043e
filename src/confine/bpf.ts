// A small assembler for classic (seccomp) BPF: instructions with symbolic jump targets, laid out
// with the 8-bit reach of conditional jumps taken care of (a jump too far goes through a
// trampoline `ja`, whose reach is 32 bits). Programs are built in TypeScript and handed to the
// addon as bytes: no libseccomp at build or run time.

/** Opcodes used here (linux/bpf_common.h, linux/filter.h). */
export const Op = {
  LD_W_ABS: 0x20,
  JA: 0x05,
  JEQ_K: 0x15,
  JGE_K: 0x35,
  JGT_K: 0x25,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const;

/** The longest program the kernel accepts (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

export type Label = symbol;

interface Load { kind: 'ld'; offset: number }
interface Ret { kind: 'ret'; value: number }
interface Jump { kind: 'jmp'; op: number; k: number; jt: Label; jf: Label }
interface Goto { kind: 'ja'; to: Label }
interface Mark { kind: 'label'; label: Label }
type Item = Load | Ret | Jump | Goto | Mark;

/** A program under construction. */
export class Assembler {
  private readonly items: Item[] = [];
  private count = 0;

  label(name = 'L'): Label {
    return Symbol(`${name}${this.count++}`);
  }

  /** Places `label` here: the next instruction is its target. */
  bind(label: Label): this {
    this.items.push({ kind: 'label', label });
    return this;
  }

  /** A = 32-bit word at `offset` of struct seccomp_data. */
  load(offset: number): this {
    this.items.push({ kind: 'ld', offset });
    return this;
  }

  ret(value: number): this {
    this.items.push({ kind: 'ret', value: value >>> 0 });
    return this;
  }

  /** if (A op k) goto jt else goto jf. */
  jump(op: number, k: number, jt: Label, jf: Label): this {
    this.items.push({ kind: 'jmp', op, k: k >>> 0, jt, jf });
    return this;
  }

  goto(to: Label): this {
    this.items.push({ kind: 'ja', to });
    return this;
  }

  /** The program as struct sock_filter[] bytes (8 bytes each, host byte order: little-endian). */
  assemble(): Buffer {
    const insns = layout(this.items);
    if (insns.length > BPF_MAXINSNS) throw new RangeError(`BPF program too long: ${insns.length} instructions`);
    const out = Buffer.alloc(8 * insns.length);
    insns.forEach((i, n) => {
      out.writeUInt16LE(i.code, 8 * n);
      out.writeUInt8(i.jt, 8 * n + 2);
      out.writeUInt8(i.jf, 8 * n + 3);
      out.writeUInt32LE(i.k >>> 0, 8 * n + 4);
    });
    return out;
  }
}

interface Insn { code: number; jt: number; jf: number; k: number }

/**
 * Resolves labels. A conditional jump reaches at most 255 instructions ahead: when a target is
 * further, the jump is pointed at a trampoline `ja` placed right after it, and the layout is
 * computed again (each round only adds trampolines, so it ends).
 */
function layout(items: Item[]): Insn[] {
  // far: jump item → which of its branches go through a trampoline.
  const far = new Map<Jump, { t: boolean; f: boolean }>();
  for (;;) {
    const at = new Map<Label, number>();
    let pc = 0;
    for (const it of items) {
      if (it.kind === 'label') at.set(it.label, pc);
      else {
        pc++;
        if (it.kind === 'jmp') {
          const f = far.get(it);
          if (f?.t) pc++;
          if (f?.f) pc++;
        }
      }
    }
    const insns: Insn[] = [];
    let grew = false;
    pc = 0;
    const target = (l: Label): number => {
      const t = at.get(l);
      if (t === undefined) throw new Error(`BPF label ${String(l.description)} is not placed`);
      return t;
    };
    for (const it of items) {
      switch (it.kind) {
        case 'label':
          break;
        case 'ld':
          insns.push({ code: Op.LD_W_ABS, jt: 0, jf: 0, k: it.offset });
          pc++;
          break;
        case 'ret':
          insns.push({ code: Op.RET_K, jt: 0, jf: 0, k: it.value });
          pc++;
          break;
        case 'ja': {
          const off = target(it.to) - (pc + 1);
          if (off < 0) throw new Error('BPF jumps only forward');
          insns.push({ code: Op.JA, jt: 0, jf: 0, k: off });
          pc++;
          break;
        }
        case 'jmp': {
          const f = far.get(it) ?? { t: false, f: false };
          const extra = (f.t ? 1 : 0) + (f.f ? 1 : 0);
          const next = pc + 1 + extra; // the instruction after this jump and its trampolines
          const tt = target(it.jt);
          const tf = target(it.jf);
          if (tt < next || tf < next) throw new Error('BPF jumps only forward');
          // Trampolines sit right after the jump: first the true one, then the false one.
          const jt = f.t ? 0 : tt - (pc + 1);
          const jf = f.f ? (f.t ? 1 : 0) : tf - (pc + 1);
          if (jt > 255 || jf > 255) {
            far.set(it, { t: f.t || jt > 255, f: f.f || jf > 255 });
            grew = true;
          }
          insns.push({ code: it.op, jt: Math.min(jt, 255), jf: Math.min(jf, 255), k: it.k });
          pc++;
          if (f.t) {
            insns.push({ code: Op.JA, jt: 0, jf: 0, k: tt - (pc + 1) });
            pc++;
          }
          if (f.f) {
            insns.push({ code: Op.JA, jt: 0, jf: 0, k: tf - (pc + 1) });
            pc++;
          }
          break;
        }
      }
    }
    if (!grew) return insns;
  }
}
