// The IPC worker (tsyd_ipc): serves run-time control on a UNIX stream socket (ipc:PATH or
// ipc:@NAME). A Node worker, not a native thread: the commands are rules, and the rule parser
// must be the very code of -m (same messages), which a native thread could only reach by
// handing every line to a JS thread. It runs beside the program's calls, never in their path:
// the emulators read what it changes from the shared PolicyLog, so no client, slow or
// hostile, holds up a decision. Started by the monitor machine (startingIpc) before the first
// emulator, so it listens before the program runs; it confines itself with its own filter
// (src/confine/thread-filters.ts 'ipc') once it listens, before it serves anybody.
import { chownSync, openSync, statSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';
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
import { IPC_LIMITS, SHORT_IDLE_MS, SHORT_LINE_MS } from './ipc-limits.js';
import { addressBytes, IPC_SOCKET_MODE, removeSocketFile } from './ipc-socket-file.js';

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
  spent: new Map(),
  uidsServed: new Set(data.ipc.uids).size,
};
const { address, uids } = data.ipc;
const clients = new Set<Socket>();
/** The refused peers not closed yet, per uid. */
const refusing = new Map<number, number>();
/** The clients served per peer uid. */
const perUid = new Map<number, number>();
/** SAFETY: the slots are shared evenly by the uids served: ipc/uid:N never takes all of tsyd's own uid's. */
const clientsPerUid = Math.floor(IPC_LIMITS.clients / new Set(uids).size);
/** How long a refused peer's answer may take to reach the kernel. */
const REFUSED_MS = 1_000;
/** Connections taken from the kernel's queue in one native call. */
const ACCEPT_BATCH = 64;
const idleMs = data.fault === 'ipc-short-idle' ? SHORT_IDLE_MS : IPC_LIMITS.idleMs;
const lineMs = data.fault === 'ipc-short-idle' ? SHORT_LINE_MS : IPC_LIMITS.lineMs;

/** Connections open (served or being refused): IPC_LIMITS.connections. */
let open = 0;

const server = createServer({ allowHalfOpen: false, pauseOnConnect: false }, (socket) => {
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  admit(socket, handle >= 0 ? native.peerUid(handle) : -1);
  drainQueue();
});
const failed = (error: string) => parentPort?.postMessage({ type: 'ipc.failed', error });
server.on('error', (err: NodeJS.ErrnoException) => failed(`cannot listen on ${address}: ${err.message}`));
let identity: { dev?: bigint; ino?: bigint } = {};
const listenFd = native.bindUnixSocket(addressBytes(address), IPC_SOCKET_MODE);
if (listenFd < 0) failed(`cannot listen on ${address}: ${errnoName(-listenFd)}`);
else {
  if (address.startsWith('/')) {
    const st = statSync(addressBytes(address), { bigint: true });
    identity = { dev: st.dev, ino: st.ino };
    giveToPeerUid();
  }
  server.listen({ fd: listenFd, backlog: IPC_LIMITS.backlog }, ready);
}

/**
 * ipc/uid:N of another uid gets the socket file (mode 0600, before listen): tsyd's own uid, as
 * root, still connects. An unprivileged tsyd cannot give it away: uid N is warned about and
 * reaches only an abstract socket (README).
 */
function giveToPeerUid(): void {
  const own = process.getuid?.() ?? 0;
  const other = uids.find((u) => u !== own);
  if (other === undefined) return;
  try {
    chownSync(addressBytes(address), other, -1);
  } catch (err) {
    log.warn({ ctx: 'ipc', op: 'socket_owner', uid: other, err: String(err) }, `the IPC socket file cannot be given to uid ${other}: it cannot connect (use ipc:@NAME)`);
  }
}

function ready(): void {
  try {
    if (data.ipc.filter) native.loadThreadFilter(data.ipc.filter);
  } catch (err) {
    server.close();
    failed(`its seccomp filter failed to load: ${String(err)}`);
    return;
  }
  if (data.fault === 'ipc-probe') probe();
  if (data.fault === 'ipc-die') setTimeout(() => {
    throw new Error('TSYD_FAULT=ipc-die');
  }, 200);
  log.info({ ctx: 'boot', op: 'start_ipc_thread', address, confined: data.ipc.filter !== undefined }, `IPC worker listens on ${address}`);
  parentPort?.postMessage({ type: 'ipc.ready', ...identity });
}

function errnoName(errno: number): string {
  const name = Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0];
  return name ?? `errno ${errno}`;
}

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

/**
 * SAFETY: takes every connection the kernel has queued (up to the queue's size), not one per
 * turn of the event loop: a peer of another uid that connects and closes in a loop must not
 * keep the queue full, or the operator's connect fails (EAGAIN). A connection that would be
 * closed unanswered (over a bound) is closed here as a bare fd, never made a JS socket.
 */
function drainQueue(): void {
  for (let taken = 0; taken < IPC_LIMITS.backlog; ) {
    const got = native.acceptPeers(listenFd, ACCEPT_BATCH);
    for (let i = 0; i < got.length; i += 2) {
      const peer = got[i]!;
      const uid = got[i + 1]!;
      if (open >= IPC_LIMITS.connections || (!serves(uid) && refusedAtBound(uid))) {
        if (!serves(uid)) logRefusal(uid);
        native.close(peer);
        continue;
      }
      admit(new Socket({ fd: peer, readable: true, writable: true }), uid);
    }
    taken += got.length / 2;
    if (got.length < 2 * ACCEPT_BATCH) return;
  }
}

/** SAFETY: only tsyd's own uid (and ipc/uid:N) may control the sandbox; a peer whose credentials cannot be read (uid < 0) is refused too. */
function serves(uid: number): boolean {
  return uid >= 0 && uids.includes(uid);
}

/** One client: its uid checked, then its lines answered, within IPC_LIMITS. */
function admit(socket: Socket, uid: number): void {
  // SAFETY: the error listener comes before any write: a peer that is gone already (EPIPE,
  // ECONNRESET on the refusal) is an event of this socket, never an uncaught error of tsyd_ipc.
  socket.on('error', () => socket.destroy());
  // SAFETY: every connection counts until it is closed, refused ones included: past the bound
  // one is closed unanswered, and the kernel's queue is all a flood fills, never tsyd's fds.
  if (open >= IPC_LIMITS.connections) {
    socket.destroy();
    return;
  }
  open++;
  socket.once('close', () => open--);
  if (!serves(uid)) {
    logRefusal(uid);
    return refuse(socket, uid, 'error: permission denied');
  }
  if (clients.size >= IPC_LIMITS.clients) {
    log.warn({ ctx: 'ipc', op: 'too_many_clients', max: IPC_LIMITS.clients }, 'IPC client refused: too many clients');
    return refuse(socket, uid, 'error: too many clients');
  }
  const ofUid = perUid.get(uid) ?? 0;
  if (ofUid >= clientsPerUid) {
    log.warn({ ctx: 'ipc', op: 'too_many_clients', uid, max: clientsPerUid }, `IPC client refused: too many clients of uid ${uid}`);
    return refuse(socket, uid, `error: too many clients of uid ${uid}`);
  }
  clients.add(socket);
  perUid.set(uid, ofUid + 1);
  socket.on('close', () => {
    clients.delete(socket);
    perUid.set(uid, (perUid.get(uid) ?? 1) - 1);
  });
  socket.setTimeout(idleMs, () => {
    log.info({ ctx: 'ipc', op: 'idle_client', idle_ms: idleMs }, 'IPC client closed: idle');
    socket.destroy();
  });
  let pending: Buffer = Buffer.alloc(0);
  // SAFETY: the idle bound counts silence; this one counts a line from its first byte, so that
  // a byte now and then (never a newline) does not hold a slot for ever.
  let lineTimer: NodeJS.Timeout | undefined;
  socket.on('close', () => clearTimeout(lineTimer));
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (let nl = pending.indexOf(10); nl >= 0 && !socket.destroyed; nl = pending.indexOf(10)) {
      const line = pending.subarray(0, nl);
      pending = pending.subarray(nl + 1);
      clearTimeout(lineTimer);
      lineTimer = undefined;
      if (line.length > IPC_LIMITS.lineBytes) return tooLong(socket);
      reply(socket, answer(state, line.toString('latin1').replace(/\r$/, ''), uid));
    }
    if (pending.length > IPC_LIMITS.lineBytes) return tooLong(socket);
    if (pending.length > 0 && lineTimer === undefined && !socket.destroyed) {
      lineTimer = setTimeout(() => {
        log.info({ ctx: 'ipc', op: 'slow_line', line_ms: lineMs }, 'IPC client closed: its line did not end in time');
        socket.destroy();
      }, lineMs);
    }
  });
}

/** The refusals of each uid not logged yet, and when one was last logged. */
const unlogged = new Map<number, { since: number; count: number }>();

/** SAFETY: a flood of refused peers is one warn record per uid per second (with the count it stands for), not one each. */
function logRefusal(uid: number): void {
  const now = Date.now();
  const seen = unlogged.get(uid);
  if (seen !== undefined && now - seen.since < 1_000) {
    seen.count++;
    return;
  }
  const more = seen?.count ?? 0;
  unlogged.set(uid, { since: now, count: 0 });
  log.warn({ ctx: 'ipc', op: 'refuse_peer', uid, ...(more > 0 ? { also_refused: more } : {}) }, `IPC peer with uid ${uid} refused${more > 0 ? ` (and ${more} more before)` : ''}`);
}

/**
 * SAFETY: a refused peer holds an fd of tsyd for REFUSED_MS at most (its answer, then FIN; closed
 * when it closes, or at the bound), and a uid holds at most IPC_LIMITS.refusedPerUid of them: past
 * that a refused peer is closed at once, unanswered. Its input is read and dropped, so that
 * closing never resets the connection before the answer is read.
 */
function refuse(socket: Socket, uid: number, text: string): void {
  if (refusedAtBound(uid)) {
    socket.destroy();
    return;
  }
  refusing.set(uid, (refusing.get(uid) ?? 0) + 1);
  // Counted from the refusal, not from the peer's last byte (an idle timer its input would reset:
  // 40 uids x 4 refused peers sending a byte now and then held every connection for ever).
  const bound = setTimeout(() => socket.destroy(), REFUSED_MS);
  socket.once('close', () => {
    clearTimeout(bound);
    refusing.set(uid, (refusing.get(uid) ?? 1) - 1);
  });
  socket.resume();
  socket.end(`${text}\n`);
}

/** Does uid hold IPC_LIMITS.refusedPerUid refused peers already (the next is closed unanswered)? */
function refusedAtBound(uid: number): boolean {
  return (refusing.get(uid) ?? 0) >= IPC_LIMITS.refusedPerUid;
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
  server.close(() => {
    // Bound by tsyd, not by libuv: removed here, if it is still the file bound.
    if (identity.dev !== undefined && identity.ino !== undefined) removeSocketFile(address, identity.dev, identity.ino);
    parentPort?.close();
  });
});
