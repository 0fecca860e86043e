// `tsyd agent --listen SOCK`: the seccomp agent of OCI runtimes. The runtime connects to SOCK
// once per container process it starts (runc run, runc exec) and sends the container's seccomp
// listener with the container's state; the agent serves each listener (container.ts) with the
// policy the container asks for (policies.ts) until the container ends. Hostile input on the
// socket (garbage, no fd, an fd that is no listener, a client that never ends its message)
// costs one warn record, within the budget of the client's uid (peer-records.ts), and nothing else.
import { chmodSync, lstatSync, statSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import type { AgentCommand } from '../cli/agent-args.js';
import { createLogger, type LogLevel } from '../log.js';
import { native } from '../native/addon.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { BadMessage, parseMessage } from './message.js';
import { readMessage, socketSource } from './read-message.js';
import { PeerRecords } from './peer-records.js';
import { agentPolicy, choosePolicy, denyAll, unknownMetadataKeys } from './policies.js';
import { serveContainer, type ServedContainer } from './container.js';
import { claimRefused, peerServed } from './peer.js';
import { ClientListeners } from './client-listeners.js';
import type { Policy } from '../sandbox/policy.js';

/**
 * Connections of one peer uid being read at once. SAFETY: per uid, so that an allowed user's held
 * connections never crowd out root's runtime; past it, the uid's connection that has waited
 * longest is closed (a runtime's message comes at once: only a held connection grows old).
 */
const MAX_PENDING_PER_UID = 64;
/** Refused peer uids that get a record (one each). */
const MAX_REFUSED_UIDS_LOGGED = 1024;

/** The fd of an accepted connection (libuv's; paused, so only the agent reads it). */
function fdOf(socket: Socket): number {
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}

/** A connection whose message is being read; `evicted` once closed for a newer one. */
interface PendingConnection {
  socket: Socket;
  evicted: boolean;
}

/** How a connect to `path` ends: the listener's pid (SO_PEERCRED; 0 or less: untold) when something accepted it, else the error's code. */
function connectOutcome(path: string): Promise<{ pid: number } | { error: string }> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      const pid = native.peerPid(fdOf(probe));
      probe.destroy();
      resolve({ pid });
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

/**
 * Replaces a socket left by an earlier agent; never anything else. SAFETY: a socket something
 * answers on belongs to a running agent: taking it over would hand its containers (the next
 * `runc run`) to this agent's policy and leave that agent unreachable. Only a socket whose connect
 * is refused (nobody listens: ECONNREFUSED) is stale; any other answer leaves it in place.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (st === undefined) return;
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const outcome = await connectOutcome(path);
  if ('pid' in outcome) throw new Error(`another agent listens on ${path}${outcome.pid > 0 ? ` (pid ${outcome.pid})` : ''}: stop it first (or choose another --listen)`);
  if (outcome.error !== 'ECONNREFUSED') throw new Error(`cannot tell whether an agent listens on ${path} (connect: ${outcome.error}): left in place`);
  unlinkSync(path);
}

/** Why `path` is not a directory the agent can use, or undefined. */
function notADirectory(path: string): string | undefined {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  if (st === undefined) return 'does not exist';
  return st.isDirectory() ? undefined : 'is not a directory';
}

/** The agent did not start (bad usage, a socket it must not take): why on stderr, 125. */
function refuseStart(why: string): number {
  process.stderr.write(`tsyd: agent: ${why}\n`);
  return 125;
}

export async function serveAgent(cmd: AgentCommand): Promise<number> {
  const logLevel: LogLevel = cmd.logLevel ?? 'warn';
  const logFd = cmd.logFd ?? 2;
  const log = createLogger({ level: logLevel, fd: logFd, format: 'json' }).child({ module: 'agent' });
  let fallback: Policy;
  try {
    fallback = agentPolicy(cmd.policy);
  } catch (err) {
    return refuseStart((err as Error).message);
  }
  const policiesWrong = cmd.policies === undefined ? undefined : notADirectory(cmd.policies);
  if (policiesWrong !== undefined) return refuseStart(`--policies ${cmd.policies} ${policiesWrong} (policy=NAME reads DIR/NAME.policy)`);
  const refused = denyAll();
  const cache = new Map<string, Policy>();
  // One monitor thread per container, none kept idle: a container's threads end with it.
  const supervisor = new Supervisor({ maxIdle: 0 });
  const served = new Set<ServedContainer>();
  /** Per peer uid, its connections being read, oldest first. */
  const pending = new Map<number, PendingConnection[]>();
  const allowed = new Set(cmd.allowUids ?? []);
  const refusedUids = new Set<number>();
  const perClient = new ClientListeners();
  const records = new PeerRecords(log);

  const accept = async (conn: PendingConnection, peerUid: number) => {
    const { socket } = conn;
    const fd = fdOf(socket);
    try {
      const { text, fds } = await readMessage(socketSource(fd, () => conn.evicted));
      const msg = parseMessage(text, fds);
      const refusedClaim = claimRefused(msg.pid, peerUid);
      if (refusedClaim !== undefined) {
        native.close(msg.listenerFd);
        throw new BadMessage(`uid ${peerUid}: ${refusedClaim}`);
      }
      const overBound = perClient.take(peerUid);
      if (overBound !== undefined) {
        native.close(msg.listenerFd);
        throw new BadMessage(overBound);
      }
      const choice = choosePolicy(msg.metadata, cmd.policies, fallback, cache);
      if ('refused' in choice) records.error(peerUid, { op: 'policy_refused', container: msg.id, why: choice.refused }, `container ${msg.id}: ${choice.refused}: every decided call is denied`);
      const policy = 'refused' in choice ? refused : choice.policy;
      const name = 'refused' in choice ? 'refused' : choice.name;
      const unknownKeys = unknownMetadataKeys(msg.metadata);
      if (unknownKeys.length > 0) records.warn(peerUid, { op: 'metadata_unknown', container: msg.id, keys: unknownKeys, policy: name }, `container ${msg.id}: listenerMetadata key(s) ${unknownKeys.map((k) => `'${k}'`).join(', ')} unknown (the agent reads policy=NAME): served with the ${name === 'default' ? 'default policy' : `policy ${name}`}`);
      let container: ServedContainer;
      try {
        container = serveContainer(msg, { policy, policyName: name, logLevel, logFd, supervisor, log, clientUid: peerUid });
      } catch (err) {
        records.error(peerUid, { op: 'serve_container', container: msg.id, err: String((err as Error).message) }, `container ${msg.id} cannot be served: its decided calls fail`);
        perClient.release(peerUid);
        return;
      }
      served.add(container);
      void container.ended.then(() => {
        served.delete(container);
        perClient.release(peerUid);
      });
    } catch (err) {
      const why = err instanceof BadMessage ? err.message : String(err);
      records.warn(peerUid, { op: 'bad_message', why }, `refused a message on the agent socket: ${why}`);
    } finally {
      socket.destroy();
    }
  };

  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const uid = native.peerUid(fdOf(socket));
    if (!peerServed(uid, allowed)) {
      // One record per refused uid: a flood of connections costs no log.
      if (!refusedUids.has(uid) && refusedUids.size < MAX_REFUSED_UIDS_LOGGED) log.warn({ ctx: 'agent', op: 'peer_refused', uid }, `refused a connection of uid ${uid} (not root, the agent's user or --allow-uid)`);
      if (refusedUids.size < MAX_REFUSED_UIDS_LOGGED) refusedUids.add(uid);
      socket.destroy();
      return;
    }
    const queue = pending.get(uid) ?? [];
    if (queue.length >= MAX_PENDING_PER_UID) {
      const oldest = queue.shift()!;
      oldest.evicted = true;
      oldest.socket.destroy();
    }
    const conn: PendingConnection = { socket, evicted: false };
    queue.push(conn);
    pending.set(uid, queue);
    void accept(conn, uid).finally(() => {
      const at = queue.indexOf(conn);
      if (at >= 0) queue.splice(at, 1);
      if (queue.length === 0 && pending.get(uid) === queue) pending.delete(uid);
    });
  });
  const listenDir = dirname(cmd.listen);
  const listenDirWrong = notADirectory(listenDir);
  if (listenDirWrong !== undefined) return refuseStart(`cannot listen on ${cmd.listen}: directory ${listenDir} ${listenDirWrong}`);
  try {
    await removeStaleSocket(cmd.listen);
  } catch (err) {
    return refuseStart((err as Error).message);
  }
  try {
    // SAFETY: 0600 from its creation (umask), so that no other user can hand the agent a
    // listener to serve, or flood it: only the runtime (root, or the agent's user) connects.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(cmd.listen, () => resolve());
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(cmd.listen, 0o600);
  } catch (err) {
    return refuseStart(`cannot listen on ${cmd.listen}: ${(err as Error).message}`);
  }
  // Taken before anything says the agent listens: a signal sent on that word ends it cleanly.
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve(sig));
  });
  log.notice({ ctx: 'agent', op: 'listen', path: cmd.listen }, `listening on ${cmd.listen}`);
  // At every log level (as `tsyd run --inspect`'s address): the agent is otherwise silent until a
  // container goes wrong.
  process.stderr.write(`tsyd: agent listening on ${cmd.listen} (pid ${process.pid})\n`);
  const signal = await stopSignal;
  server.close();
  // SAFETY: the agent's end ends every listener (the kernel answers the containers' decided
  // calls ENOSYS from then on): never unchecked. Served containers are not waited for. A warn
  // record: seen at the default level, with what it leaves behind.
  log.warn({ ctx: 'agent', op: 'exit', signal, containers: served.size }, `agent stopping on ${signal}: ${served.size} container(s) lose their supervisor (their decided calls fail ENOSYS from now on)`);
  try {
    unlinkSync(cmd.listen);
  } catch {
    // gone already
  }
  process.exit(0);
}
