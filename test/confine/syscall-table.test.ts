// The program's filter is an allow-list compiled from one table: every call the kernel headers
// know is classified (this test fails when they know one the table does not), every decided call
// has a handler, and the compiled BPF gives each number its class's outcome under a policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildHandlerTable } from '../../src/syscalls/index.js';
import { compileProgramFilter, ERRNO, RET, REAPER_PID_PLACEHOLDER, syscallNumbers, type FilterContext } from '../../src/confine/program-filter.js';
import { AARCH64, X86_64 } from '../../src/confine/syscall-numbers.js';
import { IOCTL, SYSCALLS } from '../../src/confine/syscall-table.js';
import { native } from '../../src/native/addon.js';
import type { Capability } from '../../src/sandbox/rules.js';
import { repoRoot } from '../helpers/fixtures.js';
import { runBpf } from '../helpers/bpf-run.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const ENOSYS = RET.errno | ERRNO.ENOSYS;
const EPERM = RET.errno | ERRNO.EPERM;

interface NumberScript {
  x86_64FromHeader(text: string): Record<string, number>;
  aarch64FromHeaders(): Record<string, number>;
}
const script = (await import(pathToFileURL(join(repoRoot, 'scripts', 'syscall-numbers.mjs')).href)) as NumberScript;

test('every call the x86_64 kernel headers know is in the table, with the same number', () => {
  const header = script.x86_64FromHeader(readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8'));
  assert.ok(Object.keys(header).length > 300, 'the header was read');
  const missing = Object.keys(header).filter((n) => SYSCALLS[n] === undefined);
  assert.equal(missing, [], 'classify these in src/confine/syscall-table.ts');
  const wrong = Object.entries(header).filter(([n, nr]) => X86_64[n] !== nr);
  assert.equal(wrong, [], 'regenerate src/confine/syscall-numbers.ts (scripts/syscall-numbers.mjs)');
});

test('every call of the generic table (aarch64) is in the table, with the same number', () => {
  const generic = script.aarch64FromHeaders();
  assert.ok(Object.keys(generic).length > 250, 'the generic table was read');
  assert.equal(Object.keys(generic).filter((n) => SYSCALLS[n] === undefined), []);
  assert.equal(Object.entries(generic).filter(([n, nr]) => AARCH64[n] !== nr), []);
});

test('every name in the table is a system call, and every refusal and reason is stated', () => {
  for (const [name, e] of Object.entries(SYSCALLS)) {
    assert.ok(X86_64[name] !== undefined || AARCH64[name] !== undefined, `${name} is a system call`);
    assert.ok(e.why.length > 5, `${name} has a reason`);
    if (e.class === 'refused') assert.ok(e.errno, `${name} says its errno`);
    for (const r of e.rules ?? []) assert.ok(r.why.length > 3, `a rule of ${name} has a reason`);
  }
});

test('every decided call has a handler, and every handler is for a call that can stop', () => {
  const numbers = syscallNumbers(native.arch);
  const handled = new Set([...buildHandlerTable().values()].map((h) => h.name));
  const decided = Object.entries(SYSCALLS).filter(([n, e]) => e.class === 'decided' && numbers[n] !== undefined).map(([n]) => n);
  assert.equal(decided.filter((n) => !handled.has(n)), [], 'decided without a handler');
  const canStop = (n: string) => SYSCALLS[n]?.class === 'decided' || (SYSCALLS[n]?.rules ?? []).some((r) => r.then.action === 'notify');
  assert.equal([...handled].filter((n) => !canStop(n)), [], 'a handler whose call never stops');
});

function context(on: Capability[], lockOff = false): FilterContext {
  const handlerCaps = new Map<string, readonly Capability[]>();
  for (const h of buildHandlerTable().values()) handlerCaps.set(h.name, h.caps);
  return { arch: 'x86_64', tsydPid: 4242, isOn: (c) => on.includes(c), lockOff, handlerCaps };
}

const run = (prog: Buffer, name: string, args: bigint[] = []) => runBpf(prog, { nr: X86_64[name]!, arch: AUDIT_ARCH_X86_64, args });

test('plain outcomes: allowed, refused with their errno, unknown numbers ENOSYS, foreign ABIs ENOSYS', () => {
  const prog = compileProgramFilter(context(['read']));
  assert.ok(prog.length / 8 < 1500, `a short program: ${prog.length / 8} instructions`);
  for (const [name, e] of Object.entries(SYSCALLS)) {
    if (X86_64[name] === undefined || e.rules) continue;
    if (e.class === 'allowed') assert.is(run(prog, name), RET.allow, name);
    if (e.class === 'refused') assert.is(run(prog, name), RET.errno | ERRNO[e.errno!], name);
  }
  for (const nr of [470, 471, 511, 1000, 0x3fffffff, 0xffffffff]) assert.is(runBpf(prog, { nr, arch: AUDIT_ARCH_X86_64 }), ENOSYS, `number ${nr}`);
  assert.is(runBpf(prog, { nr: X86_64['read']! | 0x40000000, arch: AUDIT_ARCH_X86_64 }), ENOSYS, 'x32 read');
  assert.is(runBpf(prog, { nr: 3, arch: AUDIT_ARCH_I386 }), ENOSYS, 'i386 read');
  // Numbers between classified ones are unknown too.
  const known = new Set(Object.values(X86_64));
  for (let nr = 0; nr < 470; nr++) if (!known.has(nr)) assert.is(runBpf(prog, { nr, arch: AUDIT_ARCH_X86_64 }), ENOSYS, `gap ${nr}`);
});

test('decided calls stop only while a capability they decide is on (always under lock:off)', () => {
  const off = compileProgramFilter(context([]));
  const read = compileProgramFilter(context(['read']));
  const dynamic = compileProgramFilter(context([], true));
  assert.is(run(off, 'openat'), RET.allow);
  assert.is(run(read, 'openat'), RET.notify);
  assert.is(run(dynamic, 'openat'), RET.notify);
  assert.is(run(read, 'connect'), RET.allow);
  assert.is(run(off, 'kill', [1234n, 9n]), RET.notify, 'signals stop whatever the policy');
});

test('argument rules: listeners, terminals, namespaces, personalities', () => {
  const prog = compileProgramFilter(context(['read', 'write', 'exec']));
  assert.is(run(prog, 'seccomp', [1n, 8n, 0n]), RET.errno | ERRNO.EBUSY, 'SECCOMP_FILTER_FLAG_NEW_LISTENER');
  assert.is(run(prog, 'seccomp', [1n, 1n | 8n, 0n]), RET.errno | ERRNO.EBUSY, 'TSYNC|NEW_LISTENER');
  assert.is(run(prog, 'seccomp', [1n, 0n, 0n]), RET.allow, 'a filter of its own');
  assert.is(run(prog, 'ioctl', [0n, BigInt(IOCTL.TIOCSTI)]), EPERM);
  assert.is(run(prog, 'ioctl', [0n, (0xdeadn << 32n) | BigInt(IOCTL.TIOCSTI)]), EPERM, 'the kernel reads the low 32 bits of cmd');
  assert.is(run(prog, 'ioctl', [0n, BigInt(IOCTL.TIOCLINUX)]), EPERM);
  assert.is(run(prog, 'ioctl', [0n, BigInt(IOCTL.USERFAULTFD_IOC_NEW)]), EPERM);
  assert.is(run(prog, 'ioctl', [0n, 0x5401n]), RET.allow, 'TCGETS');
  assert.is(run(prog, 'ioctl', [0n, BigInt(IOCTL.FS_IOC_SETFLAGS)]), RET.notify, 'chattr: decided as write');
  assert.is(run(compileProgramFilter(context([])), 'ioctl', [0n, BigInt(IOCTL.FS_IOC_SETFLAGS)]), RET.allow, 'write off');
  assert.is(run(prog, 'ioctl', [0n, BigInt(IOCTL.FIOSETOWN)]), RET.notify);
  assert.is(run(prog, 'clone', [0x10000000n]), EPERM, 'CLONE_NEWUSER');
  assert.is(run(prog, 'clone', [0x20000n | 0x11n]), EPERM, 'CLONE_NEWNS');
  assert.is(run(prog, 'clone', [0x3d0f00n]), RET.allow, 'a thread');
  assert.is(run(prog, 'clone3'), ENOSYS);
  assert.is(run(prog, 'personality', [0xffffffffn]), RET.allow, 'a query');
  assert.is(run(prog, 'personality', [0x0400000n]), EPERM, 'READ_IMPLIES_EXEC');
  assert.is(run(prog, 'personality', [0x0040000n]), RET.allow, 'ADDR_NO_RANDOMIZE');
});

test('argument rules: exec mappings, signals and scheduling of others', () => {
  const prog = compileProgramFilter(context(['exec']));
  assert.is(run(prog, 'mmap', [0n, 4096n, 5n, 2n, 3n, 0n]), RET.notify, 'a file mapped executable');
  assert.is(run(prog, 'mmap', [0n, 4096n, 7n, 0x22n, -1n, 0n]), RET.allow, 'anonymous executable memory (a JIT)');
  assert.is(run(prog, 'mmap', [0n, 4096n, 1n, 2n, 3n, 0n]), RET.allow, 'a file mapped readable');
  assert.is(run(prog, 'mprotect', [0n, 4096n, 4n]), RET.notify);
  assert.is(run(prog, 'mprotect', [0n, 4096n, 3n]), RET.allow);
  assert.is(run(compileProgramFilter(context([])), 'mmap', [0n, 4096n, 5n, 2n, 3n, 0n]), RET.allow, 'exec off');
  assert.is(run(prog, 'kill', [0n, 15n]), RET.allow, "the caller's group");
  assert.is(run(prog, 'kill', [4242n, 9n]), RET.notify);
  assert.is(run(prog, 'kill', [0xffffffffn, 9n]), RET.notify, 'kill(-1)');
  assert.is(run(prog, 'tgkill', [4242n, 4243n, 9n]), RET.notify, "tsyd's thread group");
  assert.is(run(prog, 'tgkill', [BigInt(REAPER_PID_PLACEHOLDER), 1n, 9n]), RET.notify, 'the reaper (filled in at start)');
  assert.is(run(prog, 'tgkill', [777n, 778n, 9n]), RET.allow, 'another thread group');
  assert.is(run(prog, 'pidfd_open', [777n, 0n]), RET.allow);
  assert.is(run(prog, 'pidfd_open', [777n, 0o200n]), RET.notify, 'PIDFD_THREAD: may be a thread of tsyd');
  assert.is(run(prog, 'prlimit64', [0n, 7n, 1n, 0n]), RET.allow, 'the caller');
  assert.is(run(prog, 'prlimit64', [0n, 4n, 1n, 0n]), RET.notify, 'its core limit');
  assert.is(run(prog, 'prlimit64', [0n, 4n, 0n, 1n]), RET.allow, 'a query of its core limit');
  assert.is(run(prog, 'prlimit64', [555n, 0n, 0n, 1n]), RET.notify, 'another process');
  // RLIMIT_NICE (13) and RLIMIT_RTPRIO (14) raised would give what CAP_SYS_NICE (dropped) gives.
  for (const res of [13n, 14n]) {
    assert.is(run(prog, 'prlimit64', [0n, res, 1n, 0n]), EPERM, `prlimit64 sets ${res}`);
    assert.is(run(prog, 'prlimit64', [555n, res, 1n, 0n]), EPERM, `prlimit64 sets ${res} of another`);
    assert.is(run(prog, 'prlimit64', [0n, res, 0n, 1n]), RET.allow, `a query of ${res}`);
    assert.is(run(prog, 'setrlimit', [res, 1n]), EPERM, `setrlimit ${res}`);
  }
  assert.is(run(prog, 'sched_setaffinity', [0n]), RET.allow);
  assert.is(run(prog, 'sched_setaffinity', [4243n]), RET.notify);
  assert.is(run(prog, 'setpgid', [0n, 0n]), RET.allow);
  assert.is(run(prog, 'setpgid', [0n, 77n]), RET.notify);
  assert.is(run(prog, 'fcntl', [3n, 8n, 0n]), RET.allow, 'F_SETOWN 0');
  assert.is(run(prog, 'fcntl', [3n, 8n, 4242n]), RET.notify, 'F_SETOWN pid');
  assert.is(run(prog, 'fcntl', [3n, 2n, 1n]), RET.allow, 'F_SETFD');
});

test('the compiled filter is a binary search: few instructions for any call', () => {
  const prog = compileProgramFilter(context(['read', 'write', 'stat', 'exec']));
  // Count what the kernel runs for the most common calls by stepping through the program.
  for (const name of ['read', 'write', 'futex', 'openat', 'epoll_wait', 'close']) {
    let steps = 0;
    const n = prog.length / 8;
    const data = Buffer.alloc(64);
    data.writeInt32LE(X86_64[name]!, 0);
    data.writeUInt32LE(AUDIT_ARCH_X86_64, 4);
    let A = 0;
    for (let pc = 0; pc < n; steps++) {
      const code = prog.readUInt16LE(8 * pc);
      const k = prog.readUInt32LE(8 * pc + 4);
      if (code === 0x06) break;
      if (code === 0x20) { A = data.readUInt32LE(k); pc++; continue; }
      if (code === 0x05) { pc += 1 + k; continue; }
      const taken = code === 0x15 ? A === k : code === 0x35 ? A >= k : code === 0x25 ? A > k : (A & k) !== 0;
      pc += 1 + (taken ? prog.readUInt8(8 * pc + 2) : prog.readUInt8(8 * pc + 3));
    }
    assert.ok(steps <= 24, `${name}: ${steps} instructions`);
  }
});

test.run();
