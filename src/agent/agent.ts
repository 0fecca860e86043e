import type { AgentCommand } from '../cli/agent-args.js';

export async function serveAgent(_cmd: AgentCommand): Promise<number> {
  return 1;
}
