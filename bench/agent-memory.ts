// Containers: what the agent keeps once containers end. Batches of containers served one after
// the other by one agent; after each batch (every container_ended record in, then a short
// settle) the agent's RSS, threads and fds. A leak grows with every batch; memory V8 and the
// allocator keep for reuse stops growing. Measured, never asserted (README: Containers).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../src/export/oci-seccomp.js';
import { buildPolicy, type PolicyInput } from '../src/sandbox/build.js';
import { makeBundle, removeContainer, runContainer } from '../test/agent/container.js';
import { startAgent } from '../test/agent/agent-process.js';

export const BATCHES = 5;
export const PER_BATCH = 8;
const SETTLE_MS = 2000;
/** Each container: decided opens, allowed and denied. */
const SCRIPT = 'for i in $(seq 200); do cat /etc/public >/dev/null; cat /etc/secret 2>/dev/null; done; echo ok';

export interface AgentFootprint {
  batch: number;
  ended: number;
  rssKiB: number;
  threads: number;
  fds: number;
}

function footprint(pid: number, batch: number, ended: number): AgentFootprint {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)![1]);
  return { batch, ended, rssKiB: field('VmRSS'), threads: field('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Batch 0 is the agent before any container. `rules`/`inputs`: the agent's policy, as options and as policy input. */
export async function agentFootprints(dir: string, rules: string[], inputs: PolicyInput[]): Promise<AgentFootprint[]> {
  const agent = await startAgent(dir, 'memory', rules);
  try {
    const seccomp = exportOciSeccomp(buildPolicy(inputs), agent.socket);
    const pid = agent.child.pid!;
    const ended = () => agent.records().filter((r) => r.op === 'container_ended').length;
    const rows = [footprint(pid, 0, 0)];
    let serial = 0;
    for (let batch = 1; batch <= BATCHES; batch++) {
      const runs = Array.from({ length: PER_BATCH }, async () => {
        const id = `tsyd-bench-memory-${process.pid}-${++serial}`;
        const b = makeBundle(join(dir, id), ['sh', '-c', SCRIPT], seccomp);
        const r = await runContainer(b, id);
        removeContainer(id);
        if (!r.stdout.includes('ok')) throw new Error(`container ${id}: ${r.stderr}`);
      });
      await Promise.all(runs);
      for (const t0 = Date.now(); ended() < serial; await new Promise((r) => setTimeout(r, 50))) {
        if (Date.now() - t0 > 30_000) throw new Error('the containers did not end in the agent');
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      rows.push(footprint(pid, batch, ended()));
    }
    return rows;
  } finally {
    await agent.stop('SIGTERM');
  }
}
