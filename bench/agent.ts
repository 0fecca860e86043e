// Containers: the cost of one decided call inside a runc container served by `tsyd agent`, beside
// the same call under `tsyd run` on the host and natively in a container whose profile stops
// nothing; and whether a neighbour container that blocks 200 FIFO opens, or floods denials, slows
// the served container down (README: Containers). Needs root, runc and busybox-static.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportOciSeccomp } from '../src/export/oci-seccomp.js';
import { buildPolicy, type PolicyInput } from '../src/sandbox/build.js';
import { containersMissing, finished, makeBundle, removeContainer, runContainer, startContainer, type Bundle } from '../test/agent/container.js';
import { startAgent, type AgentProcess } from '../test/agent/agent-process.js';
import { fmtNs, fmtRatio, median, parseNs, sideBySide, Skipped } from './lib/measure.js';
import type { Section } from './lib/report.js';
import { root, tsydBin } from './lib/tools.js';
import { agentFootprints, BATCHES, PER_BATCH } from './agent-memory.js';

const CALLS = 4000;
const INNER = 5;
const RULES = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret'];
const INPUTS: PolicyInput[] = [{ profile: 'none' }, { rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }, { rule: 'deny/read+/etc/secret' }];

type Where = 'container-native' | 'container-agent' | 'container-baseline' | 'tsyd-run';
interface Variant {
  name: string;
  where: Where;
  /** A neighbour container under the same agent while the measured one runs. */
  neighbour?: 'fifo' | 'denials';
}

/**
 * TSYD_BENCH_BASELINE=DIR: another built checkout (e.g. a worktree of main); its agent serves the
 * same container beside this one's, in turn within each round (before/after a change, one run).
 */
const BASELINE = process.env.TSYD_BENCH_BASELINE || undefined;

const VARIANTS: Variant[] = [
  { name: 'container, profile stops nothing (native)', where: 'container-native' },
  { name: 'container, tsyd agent', where: 'container-agent' },
  { name: 'tsyd run (host)', where: 'tsyd-run' },
  { name: 'container, tsyd agent, neighbour blocks 200 FIFO opens', where: 'container-agent', neighbour: 'fifo' },
  { name: 'container, tsyd agent, neighbour floods denials', where: 'container-agent', neighbour: 'denials' },
  ...(BASELINE === undefined ? [] : [{ name: `container, tsyd agent of the baseline (${BASELINE})`, where: 'container-baseline' as const }]),
];

const NEIGHBOUR = {
  fifo: 'mkfifo /tmp/fifo; for i in $(seq 200); do cat /tmp/fifo & done; echo > /tmp/ready; wait',
  denials: 'echo > /tmp/ready; while :; do cat /etc/secret 2>/dev/null; done',
};

interface Setup {
  dir: string;
  agent: AgentProcess;
  baseline?: AgentProcess;
  /** callloop, linked statically (the rootfs has no libc). */
  loop: string;
  serial: number;
}

const STAT_INPUTS: PolicyInput[] = [...INPUTS, { rule: 'sandbox/stat:on' }, { rule: 'allow/stat+/***' }];

function bundle(s: Setup, script: string, stops: boolean, op: 'openat' | 'stat' = 'openat', agent = s.agent): { id: string; bundle: Bundle } {
  const id = `tsyd-bench-agent-${process.pid}-${++s.serial}`;
  const seccomp = exportOciSeccomp(buildPolicy(stops ? (op === 'stat' ? STAT_INPUTS : INPUTS) : [{ profile: 'none' }]), agent.socket);
  const b = makeBundle(join(s.dir, id), ['sh', '-c', script], seccomp);
  copyFileSync(s.loop, join(b.rootfs, 'bin/callloop'));
  return { id, bundle: b };
}

async function runOnce(s: Setup, v: Variant, op: 'openat' | 'stat'): Promise<number> {
  const args = `${op} /etc/public 1 ${CALLS} ${INNER}`;
  if (v.where === 'tsyd-run') {
    const rules = op === 'stat' ? [...RULES, '-m', 'sandbox/stat:on', '-m', 'allow/stat+/***'] : RULES;
    const r = spawnSync(process.execPath, [tsydBin, 'run', ...rules, '--', s.loop, ...args.replace('/etc/public', '/etc/hostname').split(' ')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsyd run: ${r.stderr}`);
    return parseNs(r.stdout);
  }
  let neighbour: { id: string; done: Promise<unknown> } | undefined;
  if (v.neighbour !== undefined) {
    const n = bundle(s, NEIGHBOUR[v.neighbour], true);
    const done = finished(startContainer(n.bundle, n.id), n.id, 120_000);
    for (const t0 = Date.now(); !existsSync(join(n.bundle.rootfs, 'tmp/ready')); ) {
      if (Date.now() - t0 > 30_000) throw new Error('the neighbour did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    neighbour = { id: n.id, done };
  }
  try {
    const agent = v.where === 'container-baseline' ? s.baseline! : s.agent;
    const c = bundle(s, `exec /bin/callloop ${args}`, v.where !== 'container-native', op, agent);
    const r = await runContainer(c.bundle, c.id);
    removeContainer(c.id);
    if (r.status !== 0) throw new Error(`runc run: ${r.stderr}`);
    return parseNs(r.stdout);
  } finally {
    if (neighbour !== undefined) {
      spawnSync('runc', ['kill', neighbour.id, 'KILL']);
      await neighbour.done;
      removeContainer(neighbour.id);
    }
  }
}

export async function agent(rounds: number): Promise<Section> {
  const missing = containersMissing();
  const dir = mkdtempSync(join(tmpdir(), 'tsyd-bench-agent-'));
  const tables: Section['tables'] = [];
  const data: Record<string, unknown> = {};
  let agentProcess: AgentProcess | undefined;
  let baselineProcess: AgentProcess | undefined;
  try {
    if (missing !== undefined) throw new Skipped(missing);
    const loop = join(dir, 'callloop');
    execFileSync('cc', ['-O2', '-static', '-pthread', '-I', join(root, 'bench'), '-o', loop, join(root, 'bench', 'callloop.c')]);
    // The stat variant: the agent's default policy decides stat too (the profile stops it only then).
    const agentRules = [...RULES, '-m', 'sandbox/stat:on', '-m', 'allow/stat+/***'];
    agentProcess = await startAgent(dir, 'bench', agentRules);
    if (BASELINE !== undefined) baselineProcess = await startAgent(dir, 'baseline', agentRules, join(BASELINE, 'bin', 'tsyd.js'));
    const setup: Setup = { dir, agent: agentProcess, baseline: baselineProcess, loop, serial: 0 };
    for (const op of ['openat', 'stat'] as const) {
      const results = await sideBySide(VARIANTS, rounds, (v) => runOnce(setup, v, op));
      const base = median(results.get(VARIANTS[2]!.name)!.samples);
      const rows = VARIANTS.map((v) => {
        const cell = results.get(v.name)!;
        return cell.skipped ? [v.name, cell.skipped, ''] : [v.name, fmtNs(median(cell.samples)), fmtRatio(median(cell.samples) / base)];
      });
      tables.push({ caption: `**${op}** (1 thread)`, headers: ['where', `per ${op}`, '× tsyd run'], rows });
      data[op] = Object.fromEntries([...results].map(([n, c]) => [n, { ns: median(c.samples), samples: c.samples, skipped: c.skipped }]));
    }
    // What the agent keeps once containers end: its own agent, after the calls above.
    const rows = await agentFootprints(dir, RULES, INPUTS);
    const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
    tables.push({
      caption: `**the agent after each batch of ${PER_BATCH} containers** (${BATCHES} batches, one after the other; batch 0: before any)`,
      headers: ['batch', 'containers ended', 'agent RSS', 'threads', 'fds'],
      rows: rows.map((r) => [String(r.batch), String(r.ended), mib(r.rssKiB), String(r.threads), String(r.fds)]),
    });
    data.memory = rows;
  } catch (err) {
    tables.push({ headers: ['where', 'per openat'], rows: [['all', err instanceof Skipped ? `skipped: ${err.message}` : `failed: ${String(err)}`]] });
  } finally {
    await agentProcess?.stop('SIGTERM');
    await baselineProcess?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    id: 'agent',
    title: 'Containers: a decided call inside a runc container (tsyd agent) and under tsyd run',
    method: [
      `\`bench/callloop.c\` linked statically, \`callloop openat /etc/public 1 ${CALLS} ${INNER}\` (/etc/hostname on the host), ${rounds} rounds, the variants in turn within each round; the policy is \`${RULES.join(' ')}\` (every open emulated).`,
      ...(BASELINE === undefined ? [] : [`**baseline**: the same container under the agent of another checkout (\`TSYD_BENCH_BASELINE=${BASELINE}\`), started beside this one's, in turn with the other variants.`]),
      '**native**: the container\'s profile (`tsyd export oci-seccomp -p none`) stops nothing. **tsyd agent**: the profile of that policy, one agent serving every container (a pool per container). **neighbour**: another container under the same agent at the same time, with 200 readers blocked in opens of a FIFO without writer, or looping on a denied read.',
    ],
    tables,
    notes: [],
    data,
  };
}

// `node dist/bench/agent.js [ROUNDS]`: this section alone, printed.
if (process.argv[1]?.endsWith('agent.js')) {
  const { markdownSection } = await import('./lib/report.js');
  const s = await agent(Number(process.argv[2] ?? 3));
  process.stdout.write(`${markdownSection(s)}\n`);
}
