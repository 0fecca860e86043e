// The IPC rules: `ipc:PATH` (an absolute UNIX socket path) or `ipc:@NAME` (an abstract name)
// makes tsyd listen for run-time control (src/actors/ipc.worker.ts); `ipc/uid:N` is the uid of
// the peers served besides tsyd's own. `lock:ipc` (src/sandbox/rules.ts) closes /dev/tsyd to
// the program and keeps the socket able to change the policy.
import { fromBytes } from './bytes.js';
import { ruleError, type RuleSource } from './source.js';

export type IpcStatement = { type: 'ipc'; set: 'address'; address: string; source?: RuleSource } | { type: 'ipc'; set: 'uid'; uid: number; source?: RuleSource };

const ADDRESS_FORM = 'ipc:/ABSOLUTE/PATH (a UNIX socket path) or ipc:@NAME (an abstract socket name), at most 107 bytes';
const UID_FORM = 'ipc/uid:N with N a uid (0 to 4294967294)';
/** sun_path holds 108 bytes; a path needs its NUL, an abstract name its leading NUL. */
const SUN_PATH_MAX = 107;

/** True for a rule text this module parses. */
export function isIpcRule(text: string): boolean {
  return text === 'ipc' || text.startsWith('ipc:') || text.startsWith('ipc/');
}

/** Parses an IPC rule (isIpcRule(text)); `lead` is where the text starts in its line. */
export function parseIpcRule(text: string, lead: number, source: RuleSource): IpcStatement {
  const fail = (at: number, what: string, expected: string) => ruleError(fromBytes(text), source, lead + at, what, expected);
  // SAFETY: the socket and who may use it are set before the program starts, never by it.
  if (source.kind === 'runtime') throw fail(0, 'ipc rules cannot be changed at run time', 'ipc rules in -m, -P or a profile');
  if (text.startsWith('ipc:')) {
    const address = text.slice(4);
    if (address === '' || address === '@') throw fail(4, 'the socket address is empty', ADDRESS_FORM);
    if (!address.startsWith('/') && !address.startsWith('@')) throw fail(4, `'${fromBytes(address)}' is neither an absolute path nor an abstract @name`, ADDRESS_FORM);
    if (address.length > SUN_PATH_MAX) throw fail(4, `the socket address is ${address.length} bytes long`, ADDRESS_FORM);
    if (address.includes('\0')) throw fail(4 + address.indexOf('\0'), 'the socket address holds a NUL byte', ADDRESS_FORM);
    if (address.startsWith('/') && address.slice(1).split('/').some((c) => c === '' || c === '.' || c === '..')) {
      throw fail(4, `'${fromBytes(address)}' is not canonical (., .. or empty components)`, ADDRESS_FORM);
    }
    return { type: 'ipc', set: 'address', address, source };
  }
  if (text.startsWith('ipc/uid:')) {
    const value = text.slice(8);
    if (!/^[0-9]{1,10}$/.test(value) || Number(value) > 0xfffffffe) throw fail(8, `'${fromBytes(value)}' is not a uid`, UID_FORM);
    return { type: 'ipc', set: 'uid', uid: Number(value), source };
  }
  throw fail(0, 'not an ipc rule', `${ADDRESS_FORM}, or ${UID_FORM}`);
}

/** The statement as a rule line. */
export function formatIpc(stmt: IpcStatement): string {
  return stmt.set === 'address' ? `ipc:${fromBytes(stmt.address)}` : `ipc/uid:${stmt.uid}`;
}

/** Plain data (PolicyData.ipc). */
export interface IpcData {
  address: string;
  uid?: number;
}

/** The IPC part of a policy: the socket's address (none: no IPC) and the extra peer uid. */
export class IpcSettings {
  address?: string;
  uid?: number;

  apply(stmt: IpcStatement): void {
    if (stmt.set === 'address') this.address = stmt.address;
    else this.uid = stmt.uid;
  }

  /** Used: the rules shown back and carried in the data. */
  get used(): boolean {
    return this.address !== undefined || this.uid !== undefined;
  }

  normalized(): string[] {
    const out: string[] = [];
    if (this.address !== undefined) out.push(`ipc:${fromBytes(this.address)}`);
    if (this.uid !== undefined) out.push(`ipc/uid:${this.uid}`);
    return out;
  }

  toJSON(): Partial<IpcData> {
    return { ...(this.address !== undefined ? { address: this.address } : {}), ...(this.uid !== undefined ? { uid: this.uid } : {}) };
  }

  loadJSON(data: Partial<IpcData>): void {
    if (data.address !== undefined) this.apply(parseIpcRule(`ipc:${data.address}`, 0, { kind: 'data' }));
    if (data.uid !== undefined) this.apply(parseIpcRule(`ipc/uid:${String(data.uid)}`, 0, { kind: 'data' }));
  }
}
