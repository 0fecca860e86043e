// Runs a classic seccomp BPF program on one struct seccomp_data, as the kernel would (the
// instructions tsyd's filters use: ld [k], ja, jeq/jge/jgt/jset #k, ret #k).
export interface SeccompData {
  nr: number;
  arch: number;
  /** Up to six arguments, as 64-bit values. */
  args?: bigint[];
}

export function runBpf(prog: Buffer, data: SeccompData): number {
  const mem = Buffer.alloc(64);
  mem.writeUInt32LE(data.nr >>> 0, 0);
  mem.writeUInt32LE(data.arch >>> 0, 4);
  (data.args ?? []).forEach((a, i) => mem.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  let A = 0;
  const n = prog.length / 8;
  for (let pc = 0; pc < n; ) {
    const code = prog.readUInt16LE(8 * pc);
    const jt = prog.readUInt8(8 * pc + 2);
    const jf = prog.readUInt8(8 * pc + 3);
    const k = prog.readUInt32LE(8 * pc + 4);
    switch (code) {
      case 0x20:
        A = mem.readUInt32LE(k);
        pc++;
        break;
      case 0x05:
        pc += 1 + k;
        break;
      case 0x15:
        pc += 1 + (A === k ? jt : jf);
        break;
      case 0x35:
        pc += 1 + (A >= k ? jt : jf);
        break;
      case 0x25:
        pc += 1 + (A > k ? jt : jf);
        break;
      case 0x45:
        pc += 1 + ((A & k) !== 0 ? jt : jf);
        break;
      case 0x06:
        return k;
      default:
        throw new Error(`unknown BPF opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error('BPF program ran off its end');
}
