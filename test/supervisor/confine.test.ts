// The supervisor threads' own hardening: a private fs and close-on-exec fds, self-confinement
// by lock mode, exit 101 when confinement fails, and the exported filters.
import { execFileSync } from 'node:child_process';
import { internals } from '../../src/supervisor/internals.js';
import { openSync, closeSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from '../../src/index.js';
import { EmuState } from '../../src/shared/emulator-states.js';
import { Ctl } from '../../src/shared/worker-data.js';
import { Slot } from '../../src/shared/slot.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { runTsyd } from '../helpers/tsyd.js';
import { collect, makeFifos, releaseFifo, until } from './helpers.js';

const seccompMode = (tid: number) => Number(/^Seccomp:\s*(\d)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]);

function emulatorTids(child: ReturnType<typeof spawn>): number[] {
  const wd = internals(child).supervisor;
  const tids: number[] = [];
  for (let i = 0; i < wd.maxEmulators; i++) {
    const s = wd.slot(i);
    if (Atomics.load(s, Slot.state) !== EmuState.free && s[Slot.tid]! > 0) tids.push(s[Slot.tid]!);
  }
  return tids;
}

/** Runs a program that waits on a FIFO, so the supervisor stays up while we look at it. */
async function holdOpen(rules: string[]) {
  const dir = tempTree('hold', { mainfile: 'M' });
  const [fifo] = makeFifos(dir, 'f', 1);
  const child = spawn(fixture('fifointr'), [fifo!], {
    policy: rules.map((rule) => ({ rule })),
    stdio: ['ignore', 'pipe', 'inherit'],
    emulators: 2,
    logLevel: 'silent',
  });
  const out = collect(child.stdout);
  await until(() => out.text().includes('ready'), 'ready');
  await until(() => emulatorTids(child).length >= 2 && internals(child).supervisor.ctl[Ctl.monitorTid]! > 0, 'the pool is up');
  return { child, dir, release: () => releaseFifo(fifo!) };
}

test('supervisor threads share the fd table (Node wakes worker loops by fd number) but not the fs; every fd tsyd opened is close-on-exec', async () => {
  const before = new Set(readdirSync('/proc/self/fd').map(Number));
  const { child, dir, release } = await holdOpen(['sandbox/read:on', 'allow/read+/***']);
  // Opened by the main thread after start: the same file in every supervisor thread's table.
  // A private table made V8's platform threads write wake-ups to fd numbers closed there (abort).
  const fd = openSync(`${dir}/mainfile`, 'r');
  const mine = readlinkSync(`/proc/self/fd/${fd}`);
  const monitorTid = internals(child).supervisor.ctl[Ctl.monitorTid]!;
  const umaskOf = (tid: number) => /^Umask:\s*(\d+)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1];
  for (const tid of [monitorTid, ...emulatorTids(child)]) {
    assert.is(readlinkSync(`/proc/self/task/${tid}/fd/${fd}`), mine, `thread ${tid} shares the fd table`);
    // The private fs: umask 0 there (modes are masked with the program's umask), ours untouched.
    assert.is(umaskOf(tid), '0000', `thread ${tid} has the supervisor's own fs`);
  }
  assert.is.not(umaskOf(process.pid), '0000', "the main thread's umask is not the supervisor's");
  // SAFETY: nothing tsyd opened (listener, pidfd, eventfds, loop fds, fds taken from the
  // program) can be inherited by a child of this process.
  for (const name of readdirSync('/proc/self/fd')) {
    const n = Number(name);
    if (before.has(n) || n === fd) continue;
    let flags: string | undefined;
    try {
      flags = /^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'))?.[1];
    } catch {
      continue; // closed meanwhile
    }
    assert.ok(flags !== undefined && (parseInt(flags, 8) & 0o2000000) !== 0, `fd ${n} -> ${readlinkSync(`/proc/self/fd/${n}`)} is close-on-exec`);
  }
  closeSync(fd);
  release();
  assert.is((await child.result).exitCode, 0);
});

test('lock:on: emulator, monitor and interrupter threads carry a seccomp filter, the main thread none', async () => {
  const { child, release } = await holdOpen(['sandbox/read:on', 'allow/read+/***', 'lock:on']);
  const wd = internals(child).supervisor;
  for (const tid of emulatorTids(child)) assert.is(seccompMode(tid), 2, `emulator ${tid} confined`);
  await until(() => seccompMode(wd.ctl[Ctl.monitorTid]!) === 2, 'the monitor confined');
  await until(() => wd.ctl[Ctl.interrupterTid]! > 0 && seccompMode(wd.ctl[Ctl.interrupterTid]!) === 2, 'the interrupter confined');
  assert.is(seccompMode(process.pid), 0, 'the main thread is never confined');
  release();
  assert.is((await child.result).exitCode, 0);
});

/** The ids of this process's threads named `name` (/proc/self/task/TID/comm). */
const threadsNamed = (name: string) => readdirSync('/proc/self/task').filter((t) => readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === name).map(Number);
const blockedSignals = (tid: number) => BigInt('0x' + /^SigBlk:\s*([0-9a-f]+)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]);

test('the interrupter is one native thread tsyd_int, confined (even under lock:off) with every signal blocked, joined at exit', async () => {
  const { child, release } = await holdOpen(['sandbox/read:on', 'allow/read+/***', 'lock:off']);
  const tids = threadsNamed('tsyd_int');
  assert.equal(tids, [internals(child).supervisor.ctl[Ctl.interrupterTid]!], 'one tsyd_int, the one in the shared words');
  assert.is(seccompMode(tids[0]!), 2, 'confined before its handshake');
  // SAFETY: SIGALRM is for emulators and job threads, async signals for the main thread; KILL
  // and STOP cannot be blocked, 32 and 33 are the C library's own.
  const blocked = blockedSignals(tids[0]!);
  for (let sig = 1; sig <= 64; sig++) if (![9, 19, 32, 33].includes(sig)) assert.ok((blocked >> BigInt(sig - 1)) & 1n, `signal ${sig} blocked`);
  release();
  assert.is((await child.result).exitCode, 0);
  await until(() => threadsNamed('tsyd_int').length === 0, 'the interrupter joined');
});

test('an interrupter that cannot load its filter fails its handshake: exit 101', async () => {
  const ok = await runTsyd(['run', '--log-level', 'info', '--', 'true']);
  const up = ok.records.find((x) => x.op === 'start_interrupter_thread');
  assert.ok(up && up.confined === true && (up.tid as number) > 0, `the monitor logs the interrupter up and confined: ${ok.stderr}`);
  const r = await runTsyd(['run', '--', 'true'], { env: { TSYD_FAULT: 'fail-interrupter-confine' } });
  assert.is(r.code, 101, r.stderr);
  assert.match(r.stderr, /interrupter died before its handshake: its seccomp filter failed to load \(errno 22\)/);
});

test('lock:off: no supervisor thread is confined', async () => {
  const { child, release } = await holdOpen(['sandbox/read:on', 'allow/read+/***', 'lock:off']);
  for (const tid of [internals(child).supervisor.ctl[Ctl.monitorTid]!, ...emulatorTids(child)]) assert.is(seccompMode(tid), 0);
  release();
  assert.is((await child.result).exitCode, 0);
});

test('lock:exec: confined once the program runs', async () => {
  const { child, release } = await holdOpen(['sandbox/read:on', 'allow/read+/***', 'lock:exec']);
  const wd = internals(child).supervisor;
  await until(() => emulatorTids(child).every((t) => seccompMode(t) === 2), 'emulators confine themselves', 3000);
  await until(() => seccompMode(wd.ctl[Ctl.monitorTid]!) === 2, 'the monitor confines itself (confine-when-locked)', 3000);
  release();
  assert.is((await child.result).exitCode, 0);
});

test('a confined emulator cannot execve; a failed confinement exits 101', async () => {
  // An open to decide, so that an emulator runs (no emulator starts once the program has ended).
  const r = await runTsyd(['run', '--log-level', 'warn', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'lock:on', '--', 'cat', '/etc/hostname'], { env: { TSYD_FAULT: 'probe-exec' } });
  assert.is(r.code, 0);
  const probes = r.records.filter((x) => x.op === 'probe_execve');
  assert.ok(probes.length >= 1, `probe records: ${r.stderr}`);
  for (const p of probes) assert.is(p.err, 1, 'execve → EPERM');
  const failed = await runTsyd(['run', '-m', 'lock:on', '--', 'sleep', '5'], { env: { TSYD_FAULT: 'fail-confine' } });
  assert.is(failed.code, 101, failed.stderr);
  assert.ok(failed.records.some((x) => x.op === 'confine_monitor_thread' && x.level === 'alert'), failed.stderr);
});

test('export bpf: four files, mode 0400, exclusive; the emulator filter really denies execve', async () => {
  const dir = tempTree('export');
  const r = await runTsyd(['export', 'bpf'], { cwd: dir });
  assert.is(r.code, 0, r.stderr);
  for (const name of ['tsyd_emu.bpf', 'tsyd_int.bpf', 'tsyd_ipc.bpf', 'tsyd_aes.bpf']) {
    const st = statSync(`${dir}/${name}`);
    assert.is(st.mode & 0o777, 0o400, name);
    assert.ok(st.size > 0 && st.size % 8 === 0, `${name} is BPF`);
  }
  const again = await runTsyd(['run', '--', 'true'], { cwd: dir, env: { TSYD_EXPORT: 'bpf' } });
  assert.is(again.code, 125);
  assert.match(again.stderr, /tsyd_emu.bpf already exists: an export never overwrites/);
  const out = execFileSync(fixture('loadbpf'), [`${dir}/tsyd_emu.bpf`], { encoding: 'utf8' });
  assert.match(out, 'execve errno=1');
  assert.match(out, 'getpid ok');
});

test('export pfc: the four filters as text on stdout', async () => {
  const r = await runTsyd(['export', 'pfc']);
  assert.is(r.code, 0);
  for (const f of ['tsyd_emu.bpf', 'tsyd_int.bpf', 'tsyd_ipc.bpf', 'tsyd_aes.bpf']) assert.match(r.stdout, f);
  assert.match(r.stdout, /if \(\$syscall == \d+ \/\* execve \*\/\) action ERRNO\(1\)/);
});

test.run();
