// The supervisor threads' configuration for one sandbox (src/shared/thread-config.ts), built
// once from the normalised options and what the spawn made.
import { confinementFilter } from '../confine/thread-filters.js';
import { credentialBounds } from '../confine/emulator-filter.js';
import { PolicyLog } from '../shared/policy-log.js';
import { processIpcSockets } from '../shared/ipc-sockets.js';
import type { CryptConfig, IpcConfig, MonitorConfig } from '../shared/thread-config.js';
import type { SandboxConfig } from './options.js';
import type { Policy } from '../sandbox/policy.js';
import { native } from '../native/addon.js';
import { SystemCallError } from '../errors.js';

/** The JSON text of each policy, as of its version (a cached policy serves many sandboxes). */
const texts = new WeakMap<Policy, { version: number; text: string }>();

function policyText(policy: Policy): string {
  let t = texts.get(policy);
  if (t === undefined || t.version !== policy.version) texts.set(policy, (t = { version: policy.version, text: JSON.stringify(policy.toJSON()) }));
  return t.text;
}

/** What the spawn and the main thread made for the supervisor threads. */
export interface SupervisorFds {
  notifyFd: number;
  pidfd: number;
  reaperPid: number;
  /** Written to wake every idle emulator at exit. */
  wakeFd: number;
  /** The shared words (WorkerData) and the decision ring. */
  shared: SharedArrayBuffer;
  decisions: SharedArrayBuffer;
  /** The machines' states (StateBoard), for the IPC worker; and the program's pid. */
  board?: SharedArrayBuffer;
  programPid?: number;
}

/**
 * Loads Crypt sandboxing's key into the addon (it derives the keys and wipes the bytes): the
 * handle every thread of this sandbox uses, or undefined with Crypt off. Throws when it cannot.
 */
export function loadCryptKey(config: SandboxConfig): CryptConfig | undefined {
  if (config.cryptKey === undefined) return undefined;
  const handle = native.cryptKeyLoad(config.cryptKey.take());
  if (handle < 0) throw new SystemCallError('cryptKeyLoad', -handle);
  const tmp = config.policy.crypt.tmp;
  return tmp === undefined ? { handle } : { handle, tmp };
}

/** The monitor's configuration, with what it hands every emulator and the interrupter. */
export function monitorConfig(config: SandboxConfig, made: SupervisorFds, crypt?: CryptConfig): MonitorConfig {
  const log = { level: config.logLevel, fd: config.logFd, format: config.logFormat };
  return {
    notifyFd: made.notifyFd,
    pidfd: made.pidfd,
    wakeFd: made.wakeFd,
    shared: made.shared,
    reaperPid: made.reaperPid,
    maxEmulators: config.maxEmulators,
    coreSize: config.coreSize,
    keepAliveMs: config.keepAliveMs,
    log,
    emulator: {
      notifyFd: made.notifyFd,
      wakeFd: made.wakeFd,
      reaperPid: made.reaperPid,
      policy: policyText(config.policy),
      log,
      decisions: made.decisions,
      policyLog: PolicyLog.create().buffer,
      ipcSockets: processIpcSockets(),
      audit: config.audit,
      record: config.record,
      fault: config.fault,
      crypt,
    },
    crypt,
    // Absent with TSYD_SKIP_SCMP (debugging only, logged at error).
    emulatorFilter: config.skipConfinement ? undefined : confinementFilter('emulator', credentialBounds(config.policy.transits)),
    interrupterFilter: config.skipConfinement ? undefined : confinementFilter('interrupter'),
    aesFilter: config.skipConfinement ? undefined : confinementFilter('aes'),
    fault: config.fault,
    ...ipcConfig(config, made),
  };
}

/** tsyd_ipc's configuration when the policy names an IPC socket. */
function ipcConfig(config: SandboxConfig, made: SupervisorFds): { ipc?: IpcConfig } {
  const { address, uid } = config.policy.ipc;
  if (address === undefined || made.board === undefined) return {};
  const own = process.getuid?.() ?? 0;
  return {
    ipc: {
      address,
      uids: uid === undefined || uid === own ? [own] : [own, uid],
      filter: config.skipConfinement ? undefined : confinementFilter('ipc'),
      board: made.board,
      decisions: made.decisions,
      programPid: made.programPid ?? 0,
    },
  };
}
