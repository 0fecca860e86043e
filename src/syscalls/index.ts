// Which system calls stop in the kernel for tsyd, and which handler decides each.
import { native } from '../native/addon.js';
import { compileProgramFilter, ERRNO, syscallNumbers } from '../confine/program-filter.js';
import { SYSCALLS } from '../confine/syscall-table.js';
import { CAPABILITIES, type Capability } from '../sandbox/rules.js';
import type { Policy } from '../sandbox/policy.js';
import type { Handler, HandlerSpec } from './context.js';
import { attributeHandlers } from './attributes.js';
import { createHandlers } from './create.js';
import { credentialHandlers } from './credentials.js';
import { deleteHandlers } from './delete.js';
import { execHandlers } from './exec.js';
import { netHandlers } from './net.js';
import { openHandlers } from './open.js';
import { renameHandlers } from './rename.js';
import { statHandlers } from './stat.js';
import { truncateHandlers } from './truncate.js';
import { ioctlHandlers } from './ioctl.js';
import { memoryHandlers } from './memory.js';
import { processHandlers } from './processes.js';
import { syslogHandlers } from './syslog.js';

export interface HandlerEntry {
  name: string;
  caps: readonly Capability[];
  handle: Handler;
}

/** System calls the filter refuses whatever the policy, with the errno and the reason (from the table). */
export const DENIED_SYSCALLS: ReadonlyArray<{ name: string; errno: number; why: string }> = Object.entries(SYSCALLS)
  .filter(([, e]) => e.class === 'refused')
  .map(([name, e]) => ({ name, errno: ERRNO[e.errno ?? 'ENOSYS'], why: e.why }));

export function allHandlers(): Array<[string, HandlerSpec]> {
  return [
    ...openHandlers(),
    ...truncateHandlers(),
    ...attributeHandlers(),
    ...createHandlers(),
    ...deleteHandlers(),
    ...renameHandlers(),
    ...statHandlers(),
    ...execHandlers(),
    ...credentialHandlers(),
    ...netHandlers(),
    ...memoryHandlers(),
    ...processHandlers(),
    ...ioctlHandlers(),
    ...syslogHandlers(),
  ];
}

/** nr → handler, for every system call tsyd can decide. */
export function buildHandlerTable(): Map<number, HandlerEntry> {
  const table = new Map<number, HandlerEntry>();
  const numbers = syscallNumbers(native.arch);
  for (const [name, spec] of allHandlers()) {
    const nr = numbers[name];
    if (nr !== undefined) table.set(nr, { name, caps: spec.caps, handle: spec.handle });
  }
  return table;
}

/** The capabilities some handler decides: a capability outside this set is not enforced. */
export function enforcedCapabilities(): Set<Capability> {
  const caps = new Set<Capability>();
  for (const [, spec] of allHandlers()) for (const c of spec.caps) caps.add(c);
  return caps;
}

/** The program filters made, by what they are made of (filterKey). */
const childFilters = new Map<string, Buffer>();

/** The capabilities whose calls can name a crypt file. */
const CRYPT_DECIDED: ReadonlySet<Capability> = new Set(['read', 'write', 'create', 'delete', 'stat', 'exec']);

/**
 * The capabilities whose calls stop in the kernel under `policy`. SAFETY: with Crypt on, every
 * call that names a file stops: a crypt file is opened, truncated, renamed, linked, stat'ed and
 * executed only as tsyd decides (src/syscalls/crypt.ts).
 */
function decidedCapabilities(policy: Policy): (c: Capability) => boolean {
  const crypt = policy.crypt.on;
  return (c) => policy.isOn(c) || (crypt && CRYPT_DECIDED.has(c));
}

/**
 * Everything compileProgramFilter reads of a policy: which capabilities are decided (Crypt
 * included), and the lock (the arch, the handlers and their capabilities are the same for the
 * whole process).
 */
function filterKey(policy: Policy, tsydPid: number): string {
  const decided = decidedCapabilities(policy);
  return JSON.stringify([tsydPid, policy.stopsEveryDecidedCall, CAPABILITIES.filter((c) => decided(c))]);
}

/**
 * The program's filter for `policy`: the allow-list of src/confine/syscall-table.ts, where a
 * decided call stops in the kernel when a capability it decides is on (always while lock:off).
 * Made once per filterKey (a library host spawns many programs with few policies); a copy each
 * time, so that no caller can change the next one's.
 */
export function buildChildFilter(policy: Policy, tsydPid = process.pid): Buffer {
  const key = filterKey(policy, tsydPid);
  let filter = childFilters.get(key);
  if (filter === undefined) {
    const handlerCaps = new Map<string, readonly Capability[]>();
    for (const [name, spec] of allHandlers()) handlerCaps.set(name, spec.caps);
    filter = compileProgramFilter({
      arch: native.arch,
      tsydPid,
      isOn: decidedCapabilities(policy),
      lockOff: policy.stopsEveryDecidedCall,
      handlerCaps,
    });
    childFilters.set(key, filter);
  }
  return Buffer.from(filter);
}
