// Seccomp BPF as text: the decoder, the disassembler and the summary, on programs built by
// hand here and on the program the addon builds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { native } from '../../src/native/addon.js';
import { AUDIT_ARCH, SECCOMP_RET, actionName, bpfToPfc, decodeBpf } from '../../src/export/bpf-text.js';

type Insn = [code: number, jt: number, jf: number, k: number];

/** Encodes instructions as `struct sock_filter` (u16 code, u8 jt, u8 jf, u32 k), little-endian. */
function prog(...insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k >>> 0, i * 8 + 4);
  });
  return buf;
}
const stmt = (code: number, k = 0): Insn => [code, 0, 0, k];
const jump = (code: number, k: number, jt: number, jf: number): Insn => [code, jt, jf, k];

// Opcodes, spelled out so the test does not share tables with the code under test.
const LD_ABS = 0x20;
const JEQ = 0x15;
const JGT = 0x25;
const JGE = 0x35;
const JSET = 0x45;
const JA = 0x05;
const RET = 0x06;
const ALLOW = 0x7fff0000;
const NOTIF = 0x7fc00000;
const ERRNO = (e: number) => 0x00050000 | e;
const X86 = 0xc000003e;
const A64 = 0xc00000b7;
const I386 = 0x40000003;

const X86_NAMES: Record<number, string> = { 0: 'read', 2: 'open', 59: 'execve', 257: 'openat' };
const x86 = { title: 't', arch: 'x86_64', syscallName: (nr: number) => X86_NAMES[nr] };

/** The summary lines: between the "# summary" / "# no summary" line and the next "#". */
function summary(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('# summary') || l.startsWith('# no summary'));
  assert.ok(start >= 0, 'a summary section');
  const end = lines.indexOf('#', start);
  return lines.slice(lines[start]!.startsWith('# summary') ? start + 1 : start, end);
}
function disassembly(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf('# disassembly');
  assert.ok(start >= 0, 'a disassembly section');
  return lines.slice(start + 1, lines.indexOf('#', start));
}
/** A disassembly line with a comment: the mnemonic padded to 32 columns, then `; comment`. */
const note = (line: string, comment: string) => `${line.slice(0, 6)}${line.slice(6).padEnd(32)} ; ${comment}`;

test('decodeBpf: fields, little-endian, Buffer views at an offset', () => {
  const raw = prog(jump(JEQ, X86, 3, 250), stmt(RET, ALLOW));
  assert.equal(decodeBpf(raw), [
    { code: 0x15, jt: 3, jf: 250, k: 0xc000003e },
    { code: 0x06, jt: 0, jf: 0, k: 0x7fff0000 },
  ]);
  const shifted = Buffer.concat([Buffer.alloc(3), raw]).subarray(3);
  assert.equal(decodeBpf(shifted)[0], { code: 0x15, jt: 3, jf: 250, k: 0xc000003e });
  assert.equal(decodeBpf(Buffer.alloc(0)), []);
});

test('decodeBpf: refuses ragged and over-long programs with a TypeError naming the problem', () => {
  assert.throws(() => decodeBpf(Buffer.alloc(7)), (e: unknown) => e instanceof TypeError && /7 bytes.*multiple of 8/.test(e.message));
  assert.throws(() => decodeBpf(Buffer.alloc(4097 * 8)), (e: unknown) => e instanceof TypeError && /4097 instructions.*4096/.test(e.message));
  assert.is(decodeBpf(Buffer.alloc(4096 * 8)).length, 4096);
});

test('actionName: every SECCOMP_RET action and its data', () => {
  assert.is(actionName(SECCOMP_RET.ALLOW), 'ALLOW');
  assert.is(actionName(0x80000000), 'KILL_PROCESS');
  assert.is(actionName(0), 'KILL_THREAD');
  assert.is(actionName(0x00030000), 'TRAP');
  assert.is(actionName(0x00050026), 'ERRNO(38)');
  assert.is(actionName(0x00050000), 'ERRNO(0)');
  assert.is(actionName(0x7fc00000), 'USER_NOTIF');
  assert.is(actionName(0x7ff00007), 'TRACE(7)');
  assert.is(actionName(0x7ffc0000), 'LOG');
  assert.is(actionName(0x12340000), '0x12340000');
});

test('disassembly: every classic opcode seccomp accepts, absolute targets, ??? for the rest', () => {
  const text = bpfToPfc(
    prog(
      stmt(0x80), // 0 ld #len
      stmt(0x81), // 1 ldx #len
      stmt(0x00, 5), // 2
      stmt(0x01, 0x12345), // 3
      stmt(0x02, 0), // 4
      stmt(0x03, 1), // 5
      stmt(0x60, 1), // 6
      stmt(0x61, 0), // 7
      ...[0x04, 0x14, 0x24, 0x34, 0x44, 0x54, 0x64, 0x74, 0x94, 0xa4].map((c) => stmt(c, 2)), // 8..17
      ...[0x0c, 0x1c, 0x2c, 0x3c, 0x4c, 0x5c, 0x6c, 0x7c, 0x9c, 0xac].map((c) => stmt(c)), // 18..27
      stmt(0x84), // 28 neg
      stmt(0x07), // 29 tax
      stmt(0x87), // 30 txa
      stmt(JA, 1), // 31 ja 33
      stmt(0xffff), // 32 ??? (unreachable)
      jump(0x15, 59, 0, 0), // 33
      jump(0x1d, 0, 0, 1), // 34
      jump(0x25, 3, 1, 0), // 35
      jump(0x2d, 0, 0, 0), // 36
      jump(0x35, 0x40000000, 0, 0), // 37
      jump(0x3d, 0, 0, 0), // 38
      jump(0x45, 0x10, 0, 0), // 39
      jump(0x4d, 0, 0, 0), // 40
      stmt(LD_ABS, 0), // 41
      stmt(LD_ABS, 4), // 42
      stmt(LD_ABS, 8), // 43
      stmt(LD_ABS, 12), // 44
      stmt(LD_ABS, 16), // 45
      stmt(LD_ABS, 20), // 46
      stmt(LD_ABS, 60), // 47
      stmt(LD_ABS, 64), // 48
      stmt(0x21, 4), // 49 ldx [k] is not classic BPF
      stmt(0x28, 0), // 50 ldh [0]: not for seccomp
      stmt(0x16), // 51 ret a
      stmt(RET, ALLOW),
      stmt(RET, 0x80000000),
      stmt(RET, 0),
      stmt(RET, 0x00030000),
      stmt(RET, ERRNO(38)),
      stmt(RET, NOTIF),
      stmt(RET, 0x7ff00000),
      stmt(RET, 0x7ffc0000),
      stmt(RET, 0x12340000),
    ),
    x86,
  );
  assert.equal(disassembly(text), [
    note('0000: ld #len', 'sizeof(struct seccomp_data) = 64'),
    note('0001: ldx #len', 'sizeof(struct seccomp_data) = 64'),
    '0002: ld #5',
    '0003: ldx #0x12345',
    '0004: st M[0]',
    '0005: stx M[1]',
    '0006: ld M[1]',
    '0007: ldx M[0]',
    '0008: add #2',
    '0009: sub #2',
    '0010: mul #2',
    '0011: div #2',
    '0012: or #2',
    '0013: and #2',
    '0014: lsh #2',
    '0015: rsh #2',
    '0016: mod #2',
    '0017: xor #2',
    '0018: add x',
    '0019: sub x',
    '0020: mul x',
    '0021: div x',
    '0022: or x',
    '0023: and x',
    '0024: lsh x',
    '0025: rsh x',
    '0026: mod x',
    '0027: xor x',
    '0028: neg',
    '0029: tax',
    '0030: txa',
    '0031: ja 33',
    note('0032: ??? code=0xffff jt 0 jf 0 k 0x0', 'unreachable'),
    '0033: jeq #59 jt 34 jf 34',
    '0034: jeq x jt 35 jf 36',
    '0035: jgt #3 jt 37 jf 36',
    '0036: jgt x jt 37 jf 37',
    '0037: jge #0x40000000 jt 38 jf 38',
    '0038: jge x jt 39 jf 39',
    '0039: jset #16 jt 40 jf 40',
    '0040: jset x jt 41 jf 41',
    note('0041: ld [0]', 'nr'),
    note('0042: ld [4]', 'arch'),
    note('0043: ld [8]', 'instruction_pointer (low)'),
    note('0044: ld [12]', 'instruction_pointer (high)'),
    note('0045: ld [16]', 'args[0] (low)'),
    note('0046: ld [20]', 'args[0] (high)'),
    note('0047: ld [60]', 'args[5] (high)'),
    note('0048: ld [64]', 'outside seccomp_data'),
    '0049: ??? code=0x21 jt 0 jf 0 k 0x4',
    '0050: ??? code=0x28 jt 0 jf 0 k 0x0',
    '0051: ret a',
    // Nothing jumps past the `ret a`: the rest is dead code, still decoded.
    note('0052: ret ALLOW', 'unreachable'),
    note('0053: ret KILL_PROCESS', 'unreachable'),
    note('0054: ret KILL_THREAD', 'unreachable'),
    note('0055: ret TRAP', 'unreachable'),
    note('0056: ret ERRNO(38)', 'ENOSYS, unreachable'),
    note('0057: ret USER_NOTIF', 'unreachable'),
    note('0058: ret TRACE', 'unreachable'),
    note('0059: ret LOG', 'unreachable'),
    note('0060: ret 0x12340000', 'unknown action, unreachable'),
  ]);
  // Constants fold through every ALU op; the run stops at the ld [64] (outside seccomp_data).
  assert.equal(summary(text), [
    '# no summary: not a filter on $arch and $syscall alone: instruction 0048 loads outside seccomp_data (ld [64])',
    '# disassembly only',
  ]);
});

/** addon/filter.cc's layout on x86_64, by hand: notify openat, deny execve with EPERM. */
const x86Filter = () =>
  prog(
    stmt(LD_ABS, 4), // 0
    jump(JEQ, X86, 1, 0), // 1
    stmt(RET, ERRNO(38)), // 2
    stmt(LD_ABS, 0), // 3
    jump(JGE, 0x40000000, 5, 0), // 4 → 10
    jump(JEQ, 257, 3, 0), // 5 → 9
    jump(JEQ, 59, 0, 1), // 6
    stmt(RET, ERRNO(1)), // 7
    stmt(RET, ALLOW), // 8
    stmt(RET, NOTIF), // 9
    stmt(RET, ERRNO(38)), // 10
  );

test('the whole listing of an x86_64 filter built by hand', () => {
  const text = bpfToPfc(x86Filter(), { ...x86, title: 'hand-made' });
  assert.is(
    text,
    [
      '#',
      '# pseudo filter code: hand-made',
      '# arch: x86_64 (AUDIT_ARCH_X86_64 = 0xc000003e)',
      '# 11 instructions',
      '#',
      '# summary: what each $arch/$syscall leads to, found by following the program',
      'if ($arch != 0xc000003e /* AUDIT_ARCH_X86_64 */) action ERRNO(38)',
      'if ($arch == 0xc000003e /* AUDIT_ARCH_X86_64 */)',
      '  if ($syscall >= 0x40000000) action ERRNO(38)  # x32 ABI (__X32_SYSCALL_BIT)',
      '  if ($syscall == 257 /* openat */) action USER_NOTIF',
      '  if ($syscall == 59 /* execve */) action ERRNO(1)',
      '  # default action',
      '  action ALLOW',
      '#',
      '# disassembly',
      '0000: ld [4]                           ; arch',
      '0001: jeq #0xc000003e jt 3 jf 2        ; AUDIT_ARCH_X86_64',
      '0002: ret ERRNO(38)                    ; ENOSYS',
      '0003: ld [0]                           ; nr',
      '0004: jge #0x40000000 jt 10 jf 5       ; __X32_SYSCALL_BIT',
      '0005: jeq #257 jt 9 jf 6               ; openat',
      '0006: jeq #59 jt 7 jf 8                ; execve',
      '0007: ret ERRNO(1)                     ; EPERM',
      '0008: ret ALLOW',
      '0009: ret USER_NOTIF',
      '0010: ret ERRNO(38)                    ; ENOSYS',
      '#',
      '# pseudo filter code end',
      '#',
      '',
    ].join('\n'),
  );
});

test('summary follows the jumps: swapped targets, shadowed compares, ja, default not last', () => {
  const text = bpfToPfc(
    prog(
      stmt(LD_ABS, 4), // 0
      jump(JEQ, X86, 0, 9), // 1: foreign → 11 (KILL_PROCESS)
      stmt(LD_ABS, 0), // 2
      jump(JEQ, 59, 6, 0), // 3: execve → 10 (ALLOW, not the ERRNO right after)
      jump(JEQ, 59, 0, 1), // 4: never true: 59 already went elsewhere
      stmt(RET, ERRNO(99)), // 5
      jump(JEQ, 2, 0, 2), // 6: open → ja → 9
      stmt(JA, 1), // 7 → 9
      stmt(RET, ERRNO(7)), // 8: unreachable
      stmt(RET, NOTIF), // 9
      stmt(RET, ALLOW), // 10
      stmt(RET, 0x80000000), // 11
      stmt(RET, ERRNO(1)), // 12: unreachable
    ),
    x86,
  );
  // Instruction 6's false branch reaches 9 too: every number but 59 is notified.
  assert.equal(summary(text), [
    'if ($arch != 0xc000003e /* AUDIT_ARCH_X86_64 */) action KILL_PROCESS',
    'if ($arch == 0xc000003e /* AUDIT_ARCH_X86_64 */)',
    '  if ($syscall == 59 /* execve */) action ALLOW',
    '  if ($syscall == 2 /* open */) action USER_NOTIF',
    '  # default action',
    '  action USER_NOTIF',
  ]);
  const dis = disassembly(text);
  // Instruction 5 is unreachable only by the values involved (the graph has an edge to it).
  assert.is(dis[5], note('0005: ret ERRNO(99)', 'EADDRNOTAVAIL, unreachable'));
  assert.is(dis[8], note('0008: ret ERRNO(7)', 'E2BIG, unreachable'));
  assert.is(dis[12], note('0012: ret ERRNO(1)', 'EPERM, unreachable'));
  assert.is(dis[9], '0009: ret USER_NOTIF');
});

test('summary: ranges from jgt/jge, holes only after the == lines, constants folded', () => {
  const text = bpfToPfc(
    prog(
      stmt(LD_ABS, 4), // 0
      jump(JEQ, X86, 1, 0), // 1
      stmt(RET, 0x80000000), // 2
      stmt(0x00, 3), // 3 ld #3
      stmt(0x04, 2), // 4 add #2 → 5
      stmt(0x07), // 5 tax
      stmt(LD_ABS, 0), // 6
      jump(0x1d, 0, 5, 0), // 7 jeq x (5) → 13
      jump(JGT, 300, 0, 2), // 8 > 300 → 9, else 11
      jump(JEQ, 400, 3, 0), // 9 → 13
      stmt(RET, ERRNO(13)), // 10: 301.. except 400
      jump(JEQ, 0, 1, 0), // 11 read → 13
      stmt(RET, ALLOW), // 12
      stmt(RET, NOTIF), // 13
    ),
    x86,
  );
  assert.equal(summary(text), [
    'if ($arch != 0xc000003e /* AUDIT_ARCH_X86_64 */) action KILL_PROCESS',
    'if ($arch == 0xc000003e /* AUDIT_ARCH_X86_64 */)',
    '  if ($syscall == 5) action USER_NOTIF',
    '  if ($syscall == 400) action USER_NOTIF',
    '  if ($syscall == 0 /* read */) action USER_NOTIF',
    '  if ($syscall >= 301) action ERRNO(13)',
    '  # default action',
    '  action ALLOW',
  ]);
});

test('summary: aarch64 layout (ja instead of the x32 check), names only for the named arch', () => {
  const filter = prog(
    stmt(LD_ABS, 4),
    jump(JEQ, A64, 1, 0),
    stmt(RET, ERRNO(38)),
    stmt(LD_ABS, 0),
    stmt(JA, 0),
    jump(JEQ, 56, 2, 0), // openat on aarch64
    stmt(RET, ALLOW),
    stmt(RET, ERRNO(38)),
    stmt(RET, NOTIF),
  );
  const expected = (name: string) => [
    'if ($arch != 0xc00000b7 /* AUDIT_ARCH_AARCH64 */) action ERRNO(38)',
    'if ($arch == 0xc00000b7 /* AUDIT_ARCH_AARCH64 */)',
    `  if ($syscall == 56${name}) action USER_NOTIF`,
    '  # default action',
    '  action ALLOW',
  ];
  const a64Names = { title: 't', arch: 'aarch64', syscallName: (nr: number) => (nr === 56 ? 'openat' : undefined) };
  assert.equal(summary(bpfToPfc(filter, a64Names)), expected(' /* openat */'));
  // x86_64's table would call 56 "clone": it must not be consulted for an aarch64 compare.
  const x86Table = { title: 't', arch: 'x86_64', syscallName: (nr: number) => (nr === 56 ? 'clone' : undefined) };
  const text = bpfToPfc(filter, x86Table);
  assert.equal(summary(text), expected(''));
  assert.is(disassembly(text)[5], '0005: jeq #56 jt 8 jf 6');
  assert.is(disassembly(text)[4], '0004: ja 5');
});

test('summary: two architectures, and a program that never checks $arch', () => {
  const two = bpfToPfc(
    prog(
      stmt(LD_ABS, 4), // 0
      jump(JEQ, X86, 3, 0), // 1 → 5
      jump(JEQ, I386, 4, 0), // 2 → 7
      stmt(RET, 0x80000000), // 3
      stmt(RET, 0), // 4 unreachable
      stmt(LD_ABS, 0), // 5
      jump(JEQ, 59, 3, 2), // 6 → 10 / 9
      stmt(LD_ABS, 0), // 7
      jump(JEQ, 11, 1, 0), // 8 → 10 (i386 execve)
      stmt(RET, ALLOW), // 9
      stmt(RET, ERRNO(1)), // 10
    ),
    x86,
  );
  assert.equal(summary(two), [
    'if ($arch != 0xc000003e /* AUDIT_ARCH_X86_64 */ && $arch != 0x40000003 /* AUDIT_ARCH_I386 */) action KILL_PROCESS',
    'if ($arch == 0xc000003e /* AUDIT_ARCH_X86_64 */)',
    '  if ($syscall == 59 /* execve */) action ERRNO(1)',
    '  # default action',
    '  action ALLOW',
    'if ($arch == 0x40000003 /* AUDIT_ARCH_I386 */)',
    '  if ($syscall == 11) action ERRNO(1)',
    '  # default action',
    '  action ALLOW',
  ]);
  const blind = bpfToPfc(prog(stmt(LD_ABS, 0), jump(JEQ, 59, 0, 1), stmt(RET, ERRNO(1)), stmt(RET, ALLOW)), x86);
  assert.equal(summary(blind), [
    '# WARNING: the program never compares $arch for equality',
    'if ($syscall == 59 /* execve */) action ERRNO(1)',
    '# default action',
    'action ALLOW',
  ]);
});

test('other shapes: disassembly with a note, never a made-up summary', () => {
  const cases: Array<[Buffer, string]> = [
    [
      prog(stmt(LD_ABS, 16), jump(JEQ, 1, 0, 1), stmt(RET, ERRNO(1)), stmt(RET, ALLOW)),
      'instruction 0001 compares seccomp_data.args[0] (low)',
    ],
    [prog(stmt(LD_ABS, 0), stmt(0x16)), 'instruction 0001 returns $syscall (ret a)'],
    [prog(stmt(LD_ABS, 0), jump(JSET, 1, 0, 1), stmt(RET, 0), stmt(RET, ALLOW)), 'instruction 0001 tests bits of $syscall (jset 0x1)'],
    [prog(stmt(LD_ABS, 0), stmt(0xffff), stmt(RET, ALLOW)), 'instruction 0001 has an unknown instruction (code 0xffff)'],
    [prog(stmt(LD_ABS, 0)), 'instruction 0000 runs past its last instruction'],
    [prog(jump(JEQ, 1, 5, 0), stmt(RET, ALLOW)), 'instruction 0000 jumps past the last instruction'],
    [prog(stmt(0x60, 3), stmt(RET, ALLOW)), 'instruction 0000 reads M[3] before storing to it'],
  ];
  for (const [buf, why] of cases) {
    const text = bpfToPfc(buf, x86);
    assert.equal(summary(text), [`# no summary: not a filter on $arch and $syscall alone: ${why}`, '# disassembly only'], why);
    assert.not.match(text, /^\s*(if \(|action )/m, why);
    assert.is(disassembly(text).length, decodeBpf(buf).length, why);
  }
  assert.is(disassembly(bpfToPfc(prog(jump(JEQ, 1, 5, 0), stmt(RET, ALLOW)), x86))[0], note('0000: jeq #1 jt 6 jf 1', 'jump target past the end'));
  assert.match(bpfToPfc(Buffer.alloc(0), x86), '# no summary: the program is empty');
});

const names = Object.fromEntries(Object.entries(native.syscalls).map(([name, nr]) => [nr, name]));
const real = { title: 'tsyd filter', arch: native.arch, syscallName: (nr: number) => names[nr] };
const head = native.arch === 'x86_64' ? '0xc000003e /* AUDIT_ARCH_X86_64 */' : '0xc00000b7 /* AUDIT_ARCH_AARCH64 */';
const x32 = native.arch === 'x86_64' ? ['  if ($syscall >= 0x40000000) action ERRNO(38)  # x32 ABI (__X32_SYSCALL_BIT)'] : [];

test('the addon program: openat → USER_NOTIF, execve → ERRNO(1), default ALLOW', () => {
  const { openat, execve } = native.syscalls;
  const text = bpfToPfc(native.buildFilter([openat!], [[execve!, 1]]), real);
  assert.ok(text.startsWith(`#\n# pseudo filter code: tsyd filter\n# arch: ${native.arch} (`));
  assert.equal(summary(text), [
    `if ($arch != ${head}) action ERRNO(38)`,
    `if ($arch == ${head})`,
    ...x32,
    `  if ($syscall == ${openat} /* openat */) action USER_NOTIF`,
    `  if ($syscall == ${execve} /* execve */) action ERRNO(1)`,
    '  # default action',
    '  action ALLOW',
  ]);
  const dis = disassembly(text);
  assert.is(dis.length, 11);
  assert.is(dis[0], note('0000: ld [4]', 'arch'));
  assert.is(dis[3], note('0003: ld [0]', 'nr'));
  if (native.arch === 'x86_64') assert.is(dis[4], note('0004: jge #0x40000000 jt 10 jf 5', '__X32_SYSCALL_BIT'));
  else assert.is(dis[4], '0004: ja 5');
  assert.is(dis[5], note(`0005: jeq #${openat} jt 9 jf 6`, 'openat'));
});

test('the addon program: many calls and a fallback errno', () => {
  const s = native.syscalls;
  const notify = [s.openat!, s.connect!, s.bind!, s.statx!];
  const deny: Array<[number, number]> = [
    [s.ptrace!, 1],
    [s.mount!, 13],
    [s.bpf!, 38],
  ];
  const text = bpfToPfc(native.buildFilter(notify, deny, 95), real);
  assert.equal(summary(text), [
    `if ($arch != ${head}) action ERRNO(38)`,
    `if ($arch == ${head})`,
    ...x32,
    ...notify.map((nr) => `  if ($syscall == ${nr} /* ${names[nr]} */) action USER_NOTIF`),
    ...deny.map(([nr, e]) => `  if ($syscall == ${nr} /* ${names[nr]} */) action ERRNO(${e})`),
    '  # default action',
    '  action ERRNO(95)',
  ]);
  assert.is(disassembly(text).length, 4 + 1 + notify.length + 2 * deny.length + 3);
  // Every instruction of the real program is reachable.
  assert.not.match(text, 'unreachable');
});

test('AUDIT_ARCH constants', () => {
  assert.is(AUDIT_ARCH.X86_64, 0xc000003e);
  assert.is(AUDIT_ARCH.AARCH64, 0xc00000b7);
  assert.is(AUDIT_ARCH.I386, 0x40000003);
});

test.run();
