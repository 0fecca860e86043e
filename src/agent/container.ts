// One container's listener, served by tsyd's own supervisor: a monitor thread with its pool of
// emulators and its interrupter (src/actors/), the same decision code as `tsyd run`. What differs
// is where the listener comes from (the runtime) and the view the emulators decide in (the
// container's root, cwd and /proc: ContainerView). Each container gets its own pool: a container
// whose calls block or flood grows and holds only its own emulators.
import { availableParallelism } from 'node:os';
import { confinementFilter } from '../confine/thread-filters.js';
import { credentialBounds, type CredentialBounds } from '../confine/emulator-filter.js';
import { readCredentials, readEffectiveCapabilities } from '../proc/proc-status.js';
import { joinRanges, readIdMap } from '../proc/id-maps.js';
import { inOtherNamespace } from '../proc/namespaces.js';
import { isRuntimeUid } from './peer.js';
import type { MonitorHandle } from '../actors/monitor-handle.js';
import type { TsydLogger } from '../log.js';
import type { LogLevel } from '../log.js';
import { native } from '../native/addon.js';
import type { Policy } from '../sandbox/policy.js';
import { DecisionReader } from '../supervisor/decisions.js';
import { DEFAULT_KEEP_ALIVE_MS, type SandboxConfig } from '../supervisor/options.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import { monitorConfig } from '../supervisor/thread-configs.js';
import { Ctl, WorkerData } from '../shared/worker-data.js';
import type { ContainerMessage } from './message.js';
import { denialsNotLogged } from './denial-budget.js';

const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const SIGKILL = 9;
const EPERM = 1;
const EACCES = 13;
const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;
/** How often a served listener is looked at for its hang-up (every process of the container ended). */
const HANGUP_POLL_MS = 100;
/** A container's emulators at most (its blocked calls wait on job threads, not emulators). */
const MAX_EMULATORS_PER_CONTAINER = 16;
/**
 * SAFETY: a container's calls that block at once (FIFO opens, connects: one job thread each,
 * threads of the agent, outside the container's pids cgroup); the next one fails EAGAIN, as
 * under tsyd run past its own limit.
 */
export const MAX_JOBS_PER_CONTAINER = 64;

export interface ServeOptions {
  policy: Policy;
  /** The policy's name (default, or NAME of policy=NAME) for the records. */
  policyName: string;
  logLevel: LogLevel;
  logFd: number;
  supervisor: Supervisor;
  log: TsydLogger;
  /** SO_PEERCRED uid of the client that sent the listener: in every record when not root's. */
  clientUid: number;
}

/** A container being served; `ended` settles once its threads have stopped and its fds are closed. */
export interface ServedContainer {
  id: string;
  ended: Promise<void>;
}

/**
 * The ids the emulators may take to act for the container: tsyd's own, those of the process that
 * loaded the filter, and every id the container's user namespace maps (the host side of its
 * uid_map and gid_map): its processes may take any of those (nginx's and postgres's workers drop
 * to their users, `su`, runc without noNewPrivileges takes process.user after the filter). The
 * ids a call is made with are always the caller's, read from the kernel (addon/act-as.cc): this
 * bound only keeps an emulator taken over by a bug within the container's ids.
 * SAFETY: never the bundle's process.user (the message names the bundle: a client of the socket
 * could name a file of its own). A container in the agent's own user namespace maps every id
 * (its root may take any): `mapped` only for the runtime's containers (root or the agent's
 * user); an allowed user's container there is bounded to the ids its process had. `runtime`:
 * a map of many ranges may be bounded by the one covering them (id-maps.ts joinRanges).
 */
function containerIds(pid: number, mapped: boolean, runtime: boolean): CredentialBounds {
  const own = credentialBounds();
  const uids = [...own.uids];
  const gids = [...own.gids];
  const now = readCredentials(pid);
  if (now !== null) {
    uids.push(...now.uid);
    gids.push(...now.gid, ...now.groups);
  }
  const uniq = (ids: number[]) => [...new Set(ids)].sort((a, b) => a - b);
  return {
    uids: uniq(uids),
    gids: uniq(gids),
    uidRanges: mapped ? joinRanges(readIdMap(pid, 'uid_map'), runtime) : [],
    gidRanges: mapped ? joinRanges(readIdMap(pid, 'gid_map'), runtime) : [],
  };
}

/** `/proc/PID/root`, opened O_PATH; refused unless the agent may look into `pid` (as ptrace may). */
function openContainerRoot(pid: number): number {
  const path = `/proc/${pid}/root`;
  try {
    return native.openat2(Buffer.from(path), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
  } catch (err) {
    // The addon's errors carry the positive errno.
    const errno = (err as { errno?: number }).errno;
    if (errno !== EACCES && errno !== EPERM) throw err;
    throw new Error(`cannot open ${path} (${errno === EACCES ? 'EACCES' : 'EPERM'}): the agent must run as root or as the container's user`);
  }
}

/**
 * Serves `msg`'s listener until no process of the container uses it. Throws (after closing what
 * it opened, the listener included) when the container cannot be served.
 */
export function serveContainer(msg: ContainerMessage, opts: ServeOptions): ServedContainer {
  const { log } = opts;
  const opened: number[] = [msg.listenerFd];
  const closeAll = () => {
    for (const fd of opened) native.close(fd);
  };
  let pidfd: number;
  let rootFd: number;
  let runtimeExe: string;
  let pidNs: string | number;
  let root: string | number;
  let ownPidNs: boolean;
  let inOtherUserNs: boolean;
  let bounds: CredentialBounds;
  let capabilities: number[];
  try {
    pidfd = native.pidfdOpen(msg.pid);
    opened.push(pidfd);
    // SAFETY: the root of the process that loaded the filter, taken now (runc has pivoted into
    // the container's root by then, and chroot/pivot_root are refused to the container): every
    // path of the container is looked up from it.
    rootFd = openContainerRoot(msg.pid);
    opened.push(rootFd);
    const exe = native.exeIdentity(msg.pid);
    if (typeof exe === 'number') throw new Error(`cannot read the exe of ${msg.pid} (errno ${-exe})`);
    runtimeExe = exe;
    pidNs = native.procIdentity(msg.pid, 'ns/pid');
    root = native.procIdentity(msg.pid, 'root');
    if (typeof pidNs === 'number' || typeof root === 'number') throw new Error(`cannot read the namespace or root of ${msg.pid}`);
    capabilities = readEffectiveCapabilities(msg.pid);
    ownPidNs = inOtherNamespace(msg.pid, 'pid');
    inOtherUserNs = inOtherNamespace(msg.pid, 'user');
    bounds = containerIds(msg.pid, inOtherUserNs || isRuntimeUid(opts.clientUid), isRuntimeUid(opts.clientUid));
  } catch (err) {
    closeAll();
    throw err;
  }
  // SAFETY: a container in the agent's pid namespace could name tsyd's pids, and the profile
  // lets signals through (kill, ptrace-free calls that tsyd run guards for its own pid): refused.
  if (!ownPidNs) {
    closeAll();
    throw new Error('the container shares the agent\'s pid namespace: not served (its calls fail with ENOSYS)');
  }
  // As tsyd run (src/supervisor/program.ts): the kernel switches straight to the emulator.
  try {
    native.setNotifyFlags(msg.listenerFd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  } catch {
    // Linux < 6.6: the answer is only slower
  }
  const coreSize = Math.min(2, availableParallelism());
  const config = {
    policy: opts.policy,
    logLevel: opts.logLevel,
    logFd: opts.logFd,
    logFormat: 'json',
    coreSize,
    // SAFETY: one container's pool is bounded well below tsyd run's (each emulator ~10 MiB): a
    // container that keeps every emulator busy holds at most these, never the machine's memory.
    maxEmulators: MAX_EMULATORS_PER_CONTAINER,
    keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
    maxBlockingCalls: MAX_JOBS_PER_CONTAINER,
    audit: false,
    record: false,
    skipConfinement: process.env.TSYD_SKIP_SCMP !== undefined && process.env.TSYD_SKIP_SCMP !== '',
    fault: process.env.TSYD_FAULT || undefined,
  } as SandboxConfig;
  const wd = WorkerData.create(config.maxEmulators, config.maxBlockingCalls);
  // The policy is locked (policies.ts): the supervisor threads confine themselves at once.
  wd.lock();
  const decisions = new DecisionReader({ access: () => {}, violation: () => {} }, false);
  const wakeFd = native.eventfd();
  opened.push(wakeFd);
  const data = monitorConfig(config, { notifyFd: msg.listenerFd, pidfd, reaperPid: 0, wakeFd, shared: wd.buffer, decisions: decisions.ring.buffer });
  // SAFETY: the id is the client's word: a container of an allowed user (--allow-uid) carries
  // that uid in every record, so that it never passes for a container of root's runtime.
  const bindings: Record<string, string> = { container: msg.id };
  if (opts.clientUid !== 0) bindings.client_uid = String(opts.clientUid);
  data.log.bindings = bindings;
  data.emulator.log = { ...data.emulator.log, bindings };
  data.emulator.view = { rootFd, ownPidNs, pidNs, root, otherUserNs: inOtherUserNs, capabilities, runtimePid: msg.pid, runtimeExe, programWord: Ctl.programStarted };
  // The emulators act with the container's credentials: their filter lets them take its ids.
  if (data.emulatorFilter !== undefined) data.emulatorFilter = confinementFilter('emulator', bounds);
  const clog = log.child(bindings);
  const handle: MonitorHandle = opts.supervisor.serve(config, wd, data, clog);
  handle.once('monitor.done', (m: { exitCode: number }) => {
    // SAFETY: the supervisor failed: the container must not run on without it.
    if (m.exitCode !== 0) {
      clog.alert({ ctx: 'agent', op: 'supervisor_failed', pid: msg.pid }, 'the supervisor of this container failed: killing it');
      native.pidfdSendSignal(pidfd, SIGKILL);
    }
  });
  clog.notice({ ctx: 'agent', op: 'serve_container', pid: msg.pid, policy: opts.policyName, bundle: msg.bundle }, `serving container ${msg.id} (policy ${opts.policyName})`);
  const ended = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (native.hungUp(msg.listenerFd) === 0 && handle.result === undefined) return;
      clearInterval(timer);
      void (async () => {
        const clean = await handle.stop();
        await opts.supervisor.release(handle, clean);
        await decisions.close();
        // SAFETY: closed only once every thread of this container has ended (a live emulator
        // must never poll a reused fd number), and only when they did.
        if (clean) closeAll();
        clog.notice({ ctx: 'agent', op: 'container_ended', violations: decisions.violationCount, denials_not_logged: denialsNotLogged(wd.ctl), clean }, `container ${msg.id} ended`);
        resolve();
      })();
    }, HANGUP_POLL_MS);
  });
  return { id: msg.id, ended };
}
