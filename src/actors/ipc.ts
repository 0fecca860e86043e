// The monitor's side of tsyd_ipc (src/actors/ipc.worker.ts): starts it for a sandbox whose
// policy names an IPC socket and waits until it listens, confined (startingIpc); stops it at
// the sandbox's exit (stoppingIpc), which closes every client and removes the socket path.
import { Worker } from 'node:worker_threads';
import type { TsydLogger } from '../log.js';
import type { IpcConfig, IpcGuard, LogConfig, MonitorConfig } from '../shared/thread-config.js';
import { MONITOR_LIMITS } from '../shared/thread-limits.js';
import { removeSocketFile } from './ipc-socket-file.js';

/** What tsyd_ipc is given. */
export interface IpcWorkerData {
  ipc: IpcConfig;
  /** The policy's data (JSON text) and the log of the rules added at run time (PolicyLog). */
  policy: string;
  policyLog: SharedArrayBuffer;
  shared: SharedArrayBuffer;
  maxEmulators: number;
  log: LogConfig;
  fault?: string;
}

type IpcMessage = { type: 'ipc.ready'; dev?: bigint; ino?: bigint } | { type: 'ipc.failed'; error: string };

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 2_000;

/**
 * Starts tsyd_ipc for `data` (data.ipc set): resolves with the socket's identity once it listens
 * and is confined (the emulators refuse the program any connect to it); rejects when it cannot.
 */
export function startIpc(data: MonitorConfig, log: TsydLogger): Promise<{ ipc: IpcThread; guard: IpcGuard }> {
  const ipc = data.ipc!;
  const workerData: IpcWorkerData = { ipc, policy: data.emulator.policy, policyLog: data.emulator.policyLog, shared: data.shared, maxEmulators: data.maxEmulators, log: data.log, fault: data.fault };
  const worker = new Worker(new URL('../actors/ipc.worker.cjs', import.meta.url), { workerData, name: 'tsyd_ipc', resourceLimits: MONITOR_LIMITS });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      // Once: a worker that reported its failure exits next.
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      log.alert({ ctx: 'boot', op: 'ipc_failed', msg: `failed to start the IPC worker: ${why}` });
      void worker.terminate();
      reject(new Error(`IPC worker: ${why}`));
    };
    const timer = setTimeout(() => fail('it did not listen in time'), START_TIMEOUT_MS);
    worker.once('error', (err) => fail(String(err)));
    worker.once('exit', (code) => fail(`it exited (${code}) before it listened`));
    worker.once('message', (m: IpcMessage) => {
      if (m.type === 'ipc.failed') return fail(m.error);
      settled = true;
      clearTimeout(timer);
      worker.removeAllListeners('exit');
      worker.removeAllListeners('error');
      const guard: IpcGuard = ipc.address.startsWith('@') ? { abstract: ipc.address } : { dev: m.dev, ino: m.ino };
      resolve({ ipc: new IpcThread(worker, log, ipc.address, guard), guard });
    });
  });
}

/**
 * A running tsyd_ipc. SAFETY: its death (an uncaught error) never ends the sandbox: it is logged
 * once (alert) and the program runs on without run-time control — not restarted, since the
 * emulators guard the socket file they were given, and a new one would be another file. Its
 * socket stops listening; its file is removed at the sandbox's exit (stopIpc).
 */
export class IpcThread {
  /** Resolves once the thread has exited, whenever that was. */
  readonly exited: Promise<void>;
  private stopping = false;

  constructor(
    readonly worker: Worker,
    log: TsydLogger,
    readonly address: string,
    readonly guard: IpcGuard,
  ) {
    let died = false;
    const death = (why: string) => {
      if (died || this.stopping) return;
      died = true;
      log.alert({ ctx: 'ipc', op: 'ipc_died', err: why }, `the IPC worker died (${why}): the program runs on without run-time control`);
    };
    worker.on('error', (err) => death(String(err)));
    this.exited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        death(`exit ${code}`);
        resolve();
      }),
    );
  }

  /** Marks the exit that follows as asked for (no alert). */
  stop(): void {
    this.stopping = true;
  }
}

/** Stops tsyd_ipc: its clients are closed, its socket removed; ended by force after a bound. A thread gone already is done. */
export async function stopIpc(ipc: IpcThread, log: TsydLogger): Promise<void> {
  const { worker, exited } = ipc;
  ipc.stop();
  worker.postMessage({ type: 'ipc.close' });
  const timer = setTimeout(() => {
    log.warn({ ctx: 'ipc', op: 'exit_ipc_thread' }, 'IPC worker did not stop in time: terminated');
    void worker.terminate();
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  // Removed by the thread as it closes; here too for a thread that died (only the file it bound).
  const { dev, ino } = ipc.guard;
  if (dev !== undefined && ino !== undefined) removeSocketFile(ipc.address, dev, ino);
  log.debug({ ctx: 'boot', op: 'exit_ipc_thread' }, 'IPC worker joined');
}
