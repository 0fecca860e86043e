// The machines are the code's truth at run time: a workload of real sandboxes (a FIFO flood that
// grows the pool, a helper that retires, a denial, an exec that fails, each lock mode, an export,
// exits, a monitor thread serving sandbox after sandbox, and one closed) records the states every machine was really in (XState's inspection of boot, sandbox,
// export and the monitor thread's machine; the emulators' state words, written only by steps of
// the emulator machine's table). Every state seen must exist in its machine's definition, and
// every state of every machine must have been seen, but those tagged 'error' (a crash, a
// critical failure: test/reliability provokes those).
import { test } from 'uvu';
import { internals } from '../../src/supervisor/internals.js';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createMachine, type AnyStateMachine } from 'xstate';
import { MACHINES } from '../../src/machines/index.js';
import { spawn, type SandboxedProcess } from '../../src/spawn.js';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { collect, makeFifos, releaseFifo, until } from '../supervisor/helpers.js';

type AnyNode = AnyStateMachine['root'];

/** Every state of the machine as a path, with whether it is tagged 'error'. */
function definedStates(machine: AnyStateMachine): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const walk = (node: AnyNode): void => {
    for (const child of Object.values(node.states) as AnyNode[]) {
      out.set(child.path.join('.'), child.tags.includes('error'));
      walk(child);
    }
  };
  walk(machine.root);
  return out;
}

/** What is wrong with the visits of `machines` (empty: nothing). */
function coverageProblems(machines: Record<string, AnyStateMachine>, seen: Record<string, string[]>): string[] {
  const problems: string[] = [];
  for (const [name, machine] of Object.entries(machines)) {
    const defined = definedStates(machine);
    const visited = new Set(seen[name] ?? []);
    const unknown = [...visited].filter((s) => !defined.has(s));
    if (unknown.length) problems.push(`${name}: seen in states its definition does not have: ${unknown.join(', ')}`);
    const never = [...defined].filter(([s, error]) => !error && !visited.has(s)).map(([s]) => s);
    if (never.length) problems.push(`${name}: never in ${never.join(', ')}`);
  }
  for (const name of Object.keys(seen)) if (!(name in machines)) problems.push(`a machine ran that MACHINES does not list: ${name}`);
  return problems;
}

const READ_ALL = [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }];

function merge(into: Record<string, Set<string>>, child: SandboxedProcess): void {
  for (const [name, states] of Object.entries(internals(child).stateVisits())) {
    into[name] ??= new Set();
    for (const s of states) into[name]!.add(s);
  }
}

/** spawn() with an environment variable of tsyd's set for that call only. */
function spawnWith(env: Record<string, string>, ...args: Parameters<typeof spawn>): SandboxedProcess {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return spawn(...args);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const seen: Record<string, Set<string>> = {};

test('workload: a FIFO flood grows the pool; helpers retire; the program exits', async () => {
  const dir = tempTree('visits', { regular: 'R' });
  const fifos = makeFifos(dir, 'f', 3);
  // FIFO opens hold their emulator (test-only fault), so the pool must grow past its core.
  const child = spawnWith({ TSYD_FAULT: 'inline-blocking' }, fixture('fifoflood'), ['3', `${dir}/f`, `${dir}/regular`], {
    policy: READ_ALL,
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 1,
    keepAliveMs: 200,
    logLevel: 'silent',
  });
  const out = collect(child.stdout);
  await until(() => out.text().includes('started'), 'the program started');
  await until(() => internals(child).supervisor.counts().busy >= 3, 'three emulators blocked in FIFO opens');
  child.stdin!.write('regular\n');
  await until(() => out.text().includes('regular '), 'the regular open answered by a helper');
  for (const f of fifos) releaseFifo(f);
  child.stdin!.write('join\n');
  await until(() => out.text().includes('joined'), 'the FIFO threads finished');
  await until(() => internals(child).supervisor.counts().curr === 1, 'helpers retired down to the core size', 5000);
  child.stdin!.write('exit\n');
  const r = await child.result;
  assert.is(r.exitCode, 0);
  merge(seen, child);
  assert.ok(seen['emulator']!.has('retiring'), `a helper retired: ${[...seen['emulator']!]}`);
});

test('workload: a denial, with the policy locked from the start, on a supervisor that keeps no idle thread', async () => {
  // Its monitor thread is closed once the sandbox is served (closing, done).
  const supervisor = new Supervisor({ maxIdle: 0 });
  // A secret that exists on every machine: a missing one (~/.ssh where there is none) fails its
  // walk with ENOENT before any rule is asked, which is no denial.
  assert.ok(existsSync('/etc/shadow'), 'this test needs /etc/shadow');
  const child = spawn('cat', ['/etc/shadow'], { policy: [{ profile: 'user' }, { rule: 'lock:on' }], stdio: 'ignore', logLevel: 'silent', supervisor });
  const r = await child.result;
  assert.ok(r.violationCount >= 1, 'the read of /etc/shadow was denied');
  merge(seen, child);
});

test('workload: an exec that fails in the child (ENOEXEC), unconfined supervisor, filters exported first', async () => {
  const dir = tempTree('noexec', {});
  const bad = `${dir}/not-a-program`;
  writeFileSync(bad, '\x7fELF garbage');
  chmodSync(bad, 0o755);
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const child = spawnWith({ TSYD_SKIP_SCMP: '1', TSYD_EXPORT: 'bpf' }, bad, [], { policy: READ_ALL, stdio: 'ignore', logLevel: 'silent' });
    assert.ok(existsSync(`${dir}/tsyd_emu.bpf`), 'the filters were exported before the program started');
    const r = await child.result;
    assert.is(r.exitCode, 126);
    merge(seen, child);
  } finally {
    process.chdir(cwd);
  }
});

test('workload: lock:exec confines the monitor once the program runs; a pfc export', async () => {
  // The user profile checks exec: the program's execve waits for the first emulator, so the
  // monitor precomputes its filter before the lock and loads it once the program runs.
  let printed = '';
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (printed += chunk, true)) as typeof write;
  let child: SandboxedProcess;
  try {
    child = spawnWith({ TSYD_EXPORT: 'pfc' }, 'sh', ['-c', 'sleep 0.4'], { stdio: 'ignore', logLevel: 'silent' });
  } finally {
    process.stdout.write = write;
  }
  assert.match(printed, /^# pseudo filter code: tsyd emulator thread rules/m);
  const r = await child.result;
  assert.is(r.exitCode, 0);
  merge(seen, child);
});

test('workload: Crypt sandboxing starts the AES worker and waits for its write-backs at exit', async () => {
  const dir = tempTree('visits-crypt', {});
  const rules = ['sandbox/crypt:on', `crypt+${dir}/**`, `crypt/key:${'42'.repeat(32)}`].map((rule) => ({ rule }));
  const child = spawn('sh', ['-c', `echo secret > ${dir}/f`], { policy: [{ profile: 'off' }, ...rules], stdio: 'ignore', logLevel: 'silent' });
  const r = await child.result;
  assert.is(r.exitCode, 0);
  assert.not.ok(readFileSync(`${dir}/f`).includes('secret'), 'written back encrypted');
  merge(seen, child);
});

test('workload: an IPC socket: the monitor starts tsyd_ipc and stops it at exit', async () => {
  const child = spawn('true', [], { policy: [{ profile: 'off' }, { rule: `ipc:@tsyd-visits-${process.pid}` }], stdio: 'ignore', logLevel: 'silent' });
  const r = await child.result;
  assert.is(r.exitCode, 0);
  merge(seen, child);
});

test('every state seen exists in its machine; every non-error state of every machine was seen', () => {
  const visits = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v]]));
  assert.equal(coverageProblems(MACHINES, visits), []);
});

test('the check fails for a decorative machine, a state never entered, and a state the definition lacks', () => {
  const visits = Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, [...v]]));
  const sandbox = MACHINES['sandbox']!;
  // A machine beside the code: defined, listed, never run.
  const decorative = { ...MACHINES, decor: sandbox.provide({}) };
  assert.match(coverageProblems(decorative, visits).join('\n'), /decor: never in spawning, execFailing, running, reaping, ended/);
  // A state nothing enters.
  const config = sandbox.config;
  const limbo = createMachine({ ...config, states: { ...config.states, limbo: { type: 'final' } } } as typeof config, sandbox.implementations) as AnyStateMachine;
  const withLimbo = { ...MACHINES, sandbox: limbo };
  assert.match(coverageProblems(withLimbo, visits).join('\n'), /sandbox: never in limbo/);
  // A state recorded that the definition does not have.
  assert.match(coverageProblems(MACHINES, { ...visits, boot: [...visits['boot']!, 'warping'] }).join('\n'), /boot: seen in states its definition does not have: warping/);
});

test.run();
