// The IPC worker (tsyd_ipc): serves run-time control on a UNIX stream socket (ipc:PATH or
// ipc:@NAME). A Node worker, not a native thread: the commands are rules, and the rule parser
// must be the very code of -m (same messages), which a native thread could only reach by
// handing every line to a JS thread. It runs beside the program's calls, never in their path:
// the emulators read what it changes from the shared PolicyLog, so no client, slow or
// hostile, holds up a decision. Started by the monitor machine (startingIpc) before the first
// emulator, so it listens before the program runs; it confines itself with its own filter
// (src/confine/thread-filters.ts 'ipc') once it listens, before it serves anybody.
import { openSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../native/addon.js';
import { createThreadLogger } from '../thread-log.js';
import { Policy, type PolicyData } from '../sandbox/policy.js';
import { DecisionRing } from '../shared/decision-ring.js';
import { PolicyLog } from '../shared/policy-log.js';
import { StateBoard } from '../shared/state-board.js';
import { WorkerData } from '../shared/worker-data.js';
import type { IpcWorkerData } from './ipc.js';
import { answer, type IpcState } from './ipc-commands.js';
import { IPC_LIMITS, SHORT_IDLE_MS } from './ipc-limits.js';

const data = workerData as IpcWorkerData;
native.setThreadName('tsyd_ipc');
const log = createThreadLogger(data.log).child({ module: 'ipc' });
const state: IpcState = {
  policy: Policy.fromJSON(JSON.parse(data.policy) as PolicyData),
  rules: new PolicyLog(data.policyLog),
  wd: new WorkerData(data.shared, data.maxEmulators),
  board: new StateBoard(data.ipc.board),
  ring: new DecisionRing(data.ipc.decisions),
  programPid: data.ipc.programPid,
  log,
};
const { address, uids } = data.ipc;
const clients = new Set<Socket>();
/** How long a refused peer's answer may take to reach the kernel. */
const REFUSED_MS = 1_000;
const idleMs = data.fault === 'ipc-short-idle' ? SHORT_IDLE_MS : IPC_LIMITS.idleMs;

const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, serve);
server.on('error', (err: NodeJS.ErrnoException) => {
  parentPort?.postMessage({ type: 'ipc.failed', error: `cannot listen on ${address}: ${err.message}` });
});
// An abstract name is given to libuv with its leading NUL.
server.listen(address.startsWith('@') ? `\0${address.slice(1)}` : address, IPC_LIMITS.backlog, () => {
  let identity: { dev?: bigint; ino?: bigint } = {};
  if (address.startsWith('/')) {
    const st = statSync(address, { bigint: true });
    identity = { dev: st.dev, ino: st.ino };
  }
  try {
    if (data.ipc.filter) native.loadThreadFilter(data.ipc.filter);
  } catch (err) {
    server.close();
    parentPort?.postMessage({ type: 'ipc.failed', error: `its seccomp filter failed to load: ${String(err)}` });
    return;
  }
  if (data.fault === 'ipc-probe') probe();
  if (data.fault === 'ipc-die') setTimeout(() => {
    throw new Error('TSYD_FAULT=ipc-die');
  }, 200);
  log.info({ ctx: 'boot', op: 'start_ipc_thread', address, confined: data.ipc.filter !== undefined }, `IPC worker listens on ${address}`);
  parentPort?.postMessage({ type: 'ipc.ready', ...identity });
});

/** Test only (TSYD_FAULT=ipc-probe): what the filter does to an open and an exec of this thread. */
function probe(): void {
  let openErrno = 0;
  try {
    openSync('/dev/null', 'r');
  } catch (err) {
    openErrno = -((err as NodeJS.ErrnoException).errno ?? 0);
  }
  const exec = spawnSync('/bin/true');
  const execErrno = exec.error ? -((exec.error as NodeJS.ErrnoException).errno ?? 0) : exec.status === 0 ? 0 : -1;
  log.warn({ ctx: 'ipc', op: 'probe', open_errno: openErrno, exec_errno: execErrno }, 'IPC worker probe');
}

/** One client: its uid checked, then its lines answered, within IPC_LIMITS. */
function serve(socket: Socket): void {
  // SAFETY: the error listener comes before any write: a peer that is gone already (EPIPE,
  // ECONNRESET on the refusal) is an event of this socket, never an uncaught error of tsyd_ipc.
  socket.on('error', () => socket.destroy());
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  const uid = fd >= 0 ? native.peerUid(fd) : -1;
  // SAFETY: only tsyd's own uid (and ipc/uid:N) may control the sandbox; a peer whose
  // credentials cannot be read is refused too.
  if (uid < 0 || !uids.includes(uid)) {
    log.warn({ ctx: 'ipc', op: 'refuse_peer', uid }, `IPC peer with uid ${uid} refused`);
    return refuse(socket, 'error: permission denied');
  }
  if (clients.size >= IPC_LIMITS.clients) {
    log.warn({ ctx: 'ipc', op: 'too_many_clients', max: IPC_LIMITS.clients }, 'IPC client refused: too many clients');
    return refuse(socket, 'error: too many clients');
  }
  clients.add(socket);
  socket.on('close', () => clients.delete(socket));
  socket.setTimeout(idleMs, () => {
    log.info({ ctx: 'ipc', op: 'idle_client', idle_ms: idleMs }, 'IPC client closed: idle');
    socket.destroy();
  });
  let pending: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let nl = pending.indexOf(10); nl >= 0 && !socket.destroyed; nl = pending.indexOf(10)) {
      const line = pending.subarray(0, nl);
      pending = pending.subarray(nl + 1);
      if (line.length > IPC_LIMITS.lineBytes) return tooLong(socket);
      reply(socket, answer(state, line.toString('latin1').replace(/\r$/, '')));
    }
    if (pending.length > IPC_LIMITS.lineBytes) tooLong(socket);
  });
}

/**
 * SAFETY: a refused peer is closed as soon as its answer is in the kernel (a fresh connection has
 * room: at once), whether or not it reads; one that stalls even that is closed after REFUSED_MS.
 */
function refuse(socket: Socket, text: string): void {
  socket.setTimeout(REFUSED_MS, () => socket.destroy());
  socket.write(`${text}\n`, () => socket.destroy());
}

function tooLong(socket: Socket): void {
  socket.end('error: line too long\n');
  socket.destroy();
}

/**
 * SAFETY: a client that does not read its answers is dropped once IPC_LIMITS.outputBytes wait
 * for it: its answers never pile up in tsyd's memory.
 */
function reply(socket: Socket, text: string): void {
  socket.write(`${text}\n`);
  if (socket.writableLength > IPC_LIMITS.outputBytes) {
    log.warn({ ctx: 'ipc', op: 'drop_client', pending: socket.writableLength }, 'IPC client dropped: it does not read its answers');
    socket.destroy();
  }
}

parentPort?.on('message', (m: { type: string }) => {
  if (m.type !== 'ipc.close') return;
  for (const c of clients) c.destroy();
  // libuv unlinks a socket path it bound when the server closes.
  server.close(() => parentPort?.close());
});
