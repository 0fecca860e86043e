// `tsyd agent` as a child of the test: started on a socket in a scratch dir, its JSON log read
// back as records.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import type { PolicyInput } from '../../src/sandbox/build.js';
import { tsydBin } from '../helpers/tsyd.js';
import { runContainer, type Bundle } from './container.js';

export interface AgentProcess {
  socket: string;
  child: ChildProcess;
  /** Every JSON record the agent wrote so far. */
  records(): Array<Record<string, unknown>>;
  /** Ends the agent (SIGKILL unless said) and waits for it. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `tsyd agent --listen DIR/NAME.sock ARGS...` (`bin`: another checkout's bin/tsyd.js; `uid`: as that user) and waits until it listens. */
export async function startAgent(dir: string, name: string, args: string[], bin = tsydBin, uid?: number): Promise<AgentProcess> {
  const socket = join(dir, `${name}.sock`);
  const logPath = join(dir, `${name}.log`);
  const logFd = openSync(logPath, 'w');
  const child = spawn(process.execPath, [bin, 'agent', '--listen', socket, '--log-level', 'info', ...args], { stdio: ['ignore', 'ignore', logFd], ...(uid !== undefined ? { uid, gid: uid } : {}) });
  closeSync(logFd);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const records = () =>
    readFileSync(logPath, 'utf8')
      .split('\n')
      .slice(0, -1) // a line being written has no newline yet
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const deadline = Date.now() + 20_000; !records().some((r) => r.op === 'listen'); ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not listen: ${readFileSync(logPath, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!existsSync(socket)) throw new Error('the agent says it listens, but its socket is missing');
  return {
    socket,
    child,
    records,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** One agent for a test file's tests: `-p none -m RULE...`, and the same policy as policy inputs (for the exported profile). */
export interface FileAgent {
  inputs: PolicyInput[];
  /** The agent, once the file's `before` started it. */
  readonly agent: AgentProcess;
}

/** Starts the file's agent before its tests (not when containers are `missing`); stops it and removes `tmp` after them. */
export function agentForFile(suite: Test, tmp: { dir: string; remove(): void }, name: string, rules: string[], missing: string | undefined): FileAgent {
  let agent: AgentProcess | undefined;
  suite.before(async () => {
    if (missing === undefined) agent = await startAgent(tmp.dir, name, ['-p', 'none', ...rules.flatMap((r) => ['-m', r])]);
  });
  suite.after(async () => {
    await agent?.stop();
    tmp.remove();
  });
  return {
    inputs: [{ profile: 'none' }, ...rules.map((rule) => ({ rule }))],
    get agent() {
      if (agent === undefined) throw new Error(`the agent ${name} is not started`);
      return agent;
    },
  };
}

/** The access records (denials) of container `id`. */
export function denials(agent: AgentProcess, id: string): Array<Record<string, unknown>> {
  return agent.records().filter((r) => r.ctx === 'access' && r.container === id);
}

/** The denials of container `id` counted, not logged: its summary records and its `container_ended` record. */
export function denialsCounted(agent: AgentProcess, id: string): number {
  const records = agent.records().filter((r) => r.container === id);
  const summed = records.filter((r) => r.op === 'denials_not_logged').reduce((s, r) => s + Number(r.count), 0);
  return summed + Number(records.find((r) => r.op === 'container_ended')?.denials_not_logged);
}

/** Whether `agent` writes a record matching `match` within 10 s (the wait is not what is tested). */
export async function recordedWithin(agent: AgentProcess, match: (r: Record<string, unknown>) => boolean): Promise<boolean> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((res) => setTimeout(res, 50))) {
    if (agent.records().some(match)) return true;
  }
  return false;
}

/** Runs the container of `bundle` (`cat /etc/public; cat /etc/secret; echo rc=$?`): served, its secret denied. */
export async function assertServedSecretDenied(agent: AgentProcess, bundle: Bundle, id: string): Promise<void> {
  const r = await runContainer(bundle, id);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /container public/);
  assert.match(r.stdout, /rc=1/, 'the container is served: its secret denied');
  assert.equal(denials(agent, id).map((d) => d.path), ['/etc/secret']);
}
