// `tsyd agent`: see src/agent/agent.ts.
import type { AgentCommand } from './agent-args.js';

export async function runAgent(cmd: AgentCommand): Promise<number> {
  const { serveAgent } = await import('../agent/agent.js');
  return serveAgent(cmd);
}
