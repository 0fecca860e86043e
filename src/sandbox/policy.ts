// The policy: which capabilities are on, and per capability an ordered rule list in which
// the last matching rule wins.
import { matchAddress, type AddressFamily, type AddressRule } from './address.js';
import { fromBytes } from './bytes.js';
import { CAPABILITIES, isCapability, type Capability, type NetCapability } from './capabilities.js';
import { ChildMatch, childMatch, globMatcher, parsedGlob, type GlobMatcher } from './glob.js';
import { RuleIndex } from './rule-index.js';
import { globLiteral } from './glob-literal.js';
import { SubtreeDecisions, type DecisionRule } from './subtree-decisions.js';
import { formatStatement, parseRuleBytes, type Action, type LockMode, type Statement, type Target } from './rules.js';
import { ruleError } from './source.js';
import { PolicyError } from '../errors.js';
import { CryptSettings, type CryptData } from './crypt-policy.js';
import { Transits, type SetidData } from './setid-policy.js';
import { IpcSettings, type IpcData } from './ipc-rules.js';

/** Plain data (for postMessage or JSON): rebuilt with Policy.fromJSON. */
export interface PolicyData {
  /** Capabilities that are on. */
  on: Capability[];
  /** Rules in order; `pattern` is a byte string (a glob as written, or a canonical address). */
  rules: Array<{ action: Action; cap: Capability; pattern: string }>;
  lock: LockMode;
  /** The names a program may never change: Policy.protectPolicyFiles (omitted when none). */
  policyFiles?: string[];
  /** The IPC socket's names: Policy.protectSocketWay (omitted when none). */
  socketFiles?: string[];
  /** Crypt sandboxing (omitted when unused); never the key. */
  crypt?: CryptData;
  /** SafeSetID transits (omitted when none). */
  setid?: SetidData;
  /** The IPC socket (omitted when unused). */
  ipc?: Partial<IpcData>;
}

interface Rule {
  action: Action;
  pattern: string;
  /** Set for path, UNIX socket and abstract socket globs. */
  glob?: GlobMatcher;
  /** Set for IP address rules. */
  address?: AddressRule;
}

export class Policy {
  private readonly on = new Set<Capability>();
  private readonly rules = new Map<Capability, Rule[]>(CAPABILITIES.map((c) => [c, []]));
  // SAFETY: by default the policy locks once the program runs: it can never change its own rules.
  private lockMode: LockMode = 'exec';
  /** Bumped by every change: the caches below belong to one generation. */
  private generation = 0;
  private childrenGeneration = -1;
  private readonly childrenCache = new Map<string, boolean>();
  private hidesGeneration = -1;
  private hides = true;
  /** Per capability, the rule index of check(); rebuilt lazily after a change. */
  private readonly indexes = new Map<Capability, RuleIndex>();
  private indexGeneration = -1;
  /** Per capability, the automata of sameDecisionsBelow(); rebuilt lazily after a change. */
  private readonly subtree = new Map<Capability, SubtreeDecisions>();
  private subtreeGeneration = -1;
  /** The policy's own files and the links to them: never written, created or deleted. */
  private readonly policyFiles = new Set<string>();
  /** The directories on the way to them: never created or deleted (nor renamed, either way). */
  private readonly policyFileDirs = new Set<string>();
  /** The IPC socket's names (policy files too), and the directories on the way to them: never written either (chmod, chown, xattrs). */
  private readonly socketFiles = new Set<string>();
  private readonly socketDirs = new Set<string>();
  /** Crypt sandboxing: which files are encrypted at rest, the key's source, crypt/tmp. */
  readonly crypt = new CryptSettings();
  /** SafeSetID: the credential transits the program may take. */
  readonly transits = new Transits();
  /** Run-time control: the IPC socket's address and its extra peer uid. */
  readonly ipc = new IpcSettings();

  static from(statements: Iterable<Statement>): Policy {
    const p = new Policy();
    for (const s of statements) p.apply(s);
    return p;
  }

  /** Changes with every rule or state applied: what was derived from the policy before is stale. */
  get version(): number {
    return this.generation;
  }

  /**
   * Every decided call must stop in the kernel: the policy may change while the program runs
   * (lock:off, lock:ipc), or an IPC socket must be kept from it (connects are all looked at).
   */
  get stopsEveryDecidedCall(): boolean {
    return this.lockMode === 'off' || this.lockMode === 'ipc' || this.ipc.address !== undefined;
  }

  /** `on`: no change is possible any more; `exec`: the runtime locks it once the program runs. */
  get lock(): LockMode {
    return this.lockMode;
  }

  apply(stmt: Statement): void {
    this.generation++;
    // SAFETY: lock:on is final: nothing, not even lock:off, changes the policy afterwards.
    if (this.lockMode === 'on') {
      throw ruleError(formatStatement(stmt), stmt.source, 0, 'the policy is locked (lock:on was applied)', 'no rule after lock:on');
    }
    switch (stmt.type) {
      case 'lock':
        this.lockMode = stmt.mode;
        return;
      case 'sandbox':
        for (const c of stmt.caps) {
          if (stmt.on) this.on.add(c);
          else this.on.delete(c);
        }
        return;
      case 'crypt':
        this.crypt.apply(stmt);
        return;
      case 'setid':
        this.transits.apply(stmt);
        return;
      case 'ipc':
        this.ipc.apply(stmt);
        return;
      case 'rule': {
        const list = this.rules.get(stmt.cap)!;
        for (const t of stmt.targets) {
          if (stmt.op === '+') list.push(toRule(stmt.action, t));
          else removeRules(list, stmt.action, t.pattern, stmt.op === '^');
        }
        return;
      }
    }
  }

  /** On by the rules (`sandbox/CAP:on`), not only to protect the policy files. */
  isOnByRules(cap: Capability): boolean {
    return this.on.has(cap);
  }

  /** Decided? On by the rules, or write, create and delete while a policy file is protected. */
  isOn(cap: Capability): boolean {
    return this.on.has(cap) || (this.policyFiles.size > 0 && CHANGES_A_FILE.has(cap));
  }

  /**
   * Protects the files this policy was made of: `names` are canonical byte strings (each file,
   * and each symlink met on the way to it). SAFETY: a program must never change the policy it
   * runs under next time. This is no rule: no rule before or after it (a `-m`, a rule the
   * program adds at run time, `sandbox/write:off`) lets the program write, create or delete
   * these names, nor create, delete or rename a directory on the way to them (a renamed
   * parent would take the file along, a new one could hold another file or a symlink).
   */
  protectPolicyFiles(names: Iterable<string>): void {
    this.generation++;
    for (const name of names) {
      if (!name.startsWith('/')) throw new PolicyError(`a protected policy file must be a canonical absolute path, got '${fromBytes(name)}'`);
      this.policyFiles.add(name);
      for (let dir = parentDir(name); dir !== null; dir = parentDir(dir)) this.policyFileDirs.add(dir);
    }
  }

  /**
   * Protects the IPC socket's names as policy files, and the directories on the way to them
   * from attribute changes too. SAFETY: a program that may chmod a directory it owns on the way
   * (`ipc:/tmp/x/ctl.sock`, `chmod 000 /tmp/x`, a chown, an ACL) would lock the operator out.
   */
  protectSocketWay(names: Iterable<string>): void {
    const all = [...names];
    this.protectPolicyFiles(all);
    for (const name of all) {
      this.socketFiles.add(name);
      for (let dir = parentDir(name); dir !== null; dir = parentDir(dir)) this.socketDirs.add(dir);
    }
  }

  /** Would `cap` on `path` change a protected policy file (or the way to one, or to the IPC socket)? */
  changesPolicyFile(cap: Capability, path: string): boolean {
    if (!CHANGES_A_FILE.has(cap) || this.policyFiles.size === 0) return false;
    return this.policyFiles.has(path) || (cap === 'write' ? this.socketDirs.has(path) : this.policyFileDirs.has(path));
  }

  /** The protected names (canonical byte strings). */
  protectedPolicyFiles(): string[] {
    return [...this.policyFiles];
  }

  /**
   * Allowed? `path` is a canonical absolute path as a byte string (for net capabilities: a
   * UNIX socket path, or `@name` for an abstract socket).
   */
  check(cap: Capability, path: string): boolean {
    const list = this.rules.get(cap);
    // SAFETY: an unknown capability (a caller's bug) is denied, not allowed.
    if (list === undefined) return false;
    // SAFETY: before any rule, and whether or not the capability is on (protectPolicyFiles).
    if (this.changesPolicyFile(cap, path)) return false;
    if (!this.on.has(cap)) return true;
    if (list.length <= LINEAR_MAX) {
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i]!;
        if (r.glob !== undefined && r.glob(path)) return r.action === 'allow';
      }
      // SAFETY: fail closed: a capability that is on denies what no rule allows.
      return false;
    }
    // The same decision as the scan above (the last matching rule), found through the index.
    const best = this.indexOf(cap, list).lastMatch(path);
    // SAFETY: fail closed: a capability that is on denies what no rule allows.
    return best >= 0 && list[best]!.action === 'allow';
  }

  /** The path rules of `cap` by literal prefix (rule-index.ts); rebuilt after a change. */
  private indexOf(cap: Capability, list: Rule[]): RuleIndex {
    if (this.indexGeneration !== this.generation) {
      this.indexGeneration = this.generation;
      this.indexes.clear();
    }
    let index = this.indexes.get(cap);
    if (index === undefined) {
      index = new RuleIndex(list);
      this.indexes.set(cap, index);
    }
    return index;
  }

  /**
   * Can `cap` deny any path at all? False when it is off, or when its last rules allow
   * everything (`/***`, `/**`) with no deny after them. Cheap: computed once per change.
   */
  deniesAny(cap: Capability): boolean {
    if (!this.on.has(cap)) return false;
    if (this.hidesGeneration !== this.generation) {
      this.hidesGeneration = this.generation;
      this.hides = true;
      const list = this.rules.get(cap) ?? [];
      for (let i = list.length - 1; i >= 0; i--) {
        const r = list[i]!;
        if (r.glob === undefined) continue;
        if (r.action === 'deny') break;
        if (EVERYTHING.has(r.pattern)) {
          this.hides = false;
          break;
        }
      }
    }
    return this.hides;
  }

  /**
   * Could `cap` deny some direct child `DIR/NAME` of the directory `dir`? Conservative: true
   * when unsure. (stat: the link count of a directory counts its subdirectories, hidden ones
   * too.) Cached per directory until the policy changes; off the hot path of files.
   */
  mayDenyChildren(cap: Capability, dir: string): boolean {
    if (!this.on.has(cap)) return false;
    if (this.childrenGeneration !== this.generation) {
      this.childrenGeneration = this.generation;
      this.childrenCache.clear();
    }
    const key = `${cap}\0${dir}`;
    const known = this.childrenCache.get(key);
    if (known !== undefined) return known;
    // Last rule first: a later deny that can match a child may hide it; a later allow of
    // every child decides all of them; with no such rule a child is unmatched (fail closed).
    // Only the rules keyed by a prefix of `dir/` can match a child (RuleIndex.childRules): the
    // others are `none` for every child and would be passed over by this scan anyway.
    let result = true;
    const list = this.rules.get(cap) ?? [];
    for (const i of this.indexOf(cap, list).childRules(dir)) {
      const r = list[i]!;
      const c = childMatch(r.pattern, dir);
      if (r.action === 'deny' && c !== ChildMatch.none) break;
      if (r.action === 'allow' && c === ChildMatch.all) {
        result = false;
        break;
      }
    }
    // Bounded by the policy's own use, not by the program: cleared when full.
    if (this.childrenCache.size >= 4096) this.childrenCache.clear();
    this.childrenCache.set(key, result);
    return result;
  }

  /**
   * Would every path below `from` be decided exactly as the same path below `to`, for every
   * capability that is decided (UNIX socket path rules of the net capabilities, and the
   * protected policy files, included)? For renames of whole directories.
   */
  sameDecisionsBelow(from: string, to: string): boolean {
    return this.firstDifferenceBelow(from, to) === null;
  }

  /**
   * Where `from/SUFFIX` and `to/SUFFIX` are first decided differently: the capability and the
   * shortest such SUFFIX (undefined when the search gave up: treated as different); null when
   * they never are. Exact: the equivalence of two states of the product of a capability's
   * rule automata (subtree-decisions.ts).
   */
  firstDifferenceBelow(from: string, to: string): { cap: Capability; suffix: string | undefined } | null {
    for (const cap of CAPABILITIES) {
      if (!this.isOn(cap)) continue;
      const d = this.subtreeDecisionsOf(cap).difference(`${from}/`, `${to}/`);
      if (d !== null) return { cap, suffix: d.suffix };
    }
    return null;
  }

  /** The rule list that check() applies for `cap`, as automata; rebuilt after a change. */
  private subtreeDecisionsOf(cap: Capability): SubtreeDecisions {
    if (this.subtreeGeneration !== this.generation) {
      this.subtreeGeneration = this.generation;
      this.subtree.clear();
    }
    let decisions = this.subtree.get(cap);
    if (decisions === undefined) {
      // As check(): with the capability off only the policy files are denied, the rest allowed.
      const on = this.on.has(cap);
      const rules: DecisionRule[] = [];
      if (on) for (const r of this.rules.get(cap)!) if (r.glob !== undefined) rules.push({ allow: r.action === 'allow', glob: parsedGlob(r.pattern) });
      // SAFETY: the policy files come before any rule in check(): last here, so they win.
      for (const name of this.protectedNames(cap)) rules.push({ allow: false, glob: parsedGlob(globLiteral(name)) });
      decisions = new SubtreeDecisions(rules, !on);
      this.subtree.set(cap, decisions);
    }
    return decisions;
  }

  /** The names changesPolicyFile() denies `cap` on. */
  private protectedNames(cap: Capability): string[] {
    if (!CHANGES_A_FILE.has(cap)) return [];
    return cap === 'write' ? [...this.policyFiles, ...this.socketDirs] : [...this.policyFiles, ...this.policyFileDirs];
  }

  /** Allowed? `addr` has 4 bytes (family 4) or 16 bytes (family 6); `port` in host order. */
  checkAddress(cap: NetCapability, family: AddressFamily, addr: Uint8Array, port: number): boolean {
    const list = this.rules.get(cap);
    if (list === undefined) return false;
    if (!this.on.has(cap)) return true;
    // SAFETY: a malformed address or port is denied: it cannot be matched reliably.
    const size = family === 4 ? 4 : family === 6 ? 16 : -1;
    if (addr.length !== size || !Number.isInteger(port) || port < 0 || port > 65535) return false;
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i]!;
      if (r.address !== undefined && matchAddress(r.address, family, addr, port)) return r.action === 'allow';
    }
    return false;
  }

  toJSON(): PolicyData {
    const rules: PolicyData['rules'] = [];
    for (const [cap, list] of this.rules) for (const r of list) rules.push({ action: r.action, cap, pattern: r.pattern });
    const data: PolicyData = { on: CAPABILITIES.filter((c) => this.on.has(c)), rules, lock: this.lockMode };
    if (this.policyFiles.size > 0) data.policyFiles = [...this.policyFiles];
    if (this.socketFiles.size > 0) data.socketFiles = [...this.socketFiles];
    if (this.cryptUsed()) data.crypt = this.crypt.toJSON();
    if (this.transits.declared) data.setid = this.transits.toJSON();
    if (this.ipc.used) data.ipc = this.ipc.toJSON();
    return data;
  }

  /** Any crypt rule given (on, or a glob, key or tmp rule): toJSON() and normalized() carry them. */
  private cryptUsed(): boolean {
    return this.crypt.on || this.crypt.normalized().length > 1;
  }

  /** Rebuilds a policy from toJSON() data, validating it as rules are validated. */
  static fromJSON(data: PolicyData): Policy {
    const p = new Policy();
    for (const cap of data.on) {
      if (!isCapability(cap)) throw new PolicyError(`bad policy data: unknown capability '${String(cap)}'`);
      p.on.add(cap);
    }
    for (const r of data.rules) {
      if ((r.action !== 'allow' && r.action !== 'deny') || !isCapability(r.cap)) {
        throw new PolicyError(`bad policy data: '${String(r.action)}/${String(r.cap)}' is not an action and a capability`);
      }
      const stmt = parseRuleBytes(`${r.action}/${r.cap}+${r.pattern}`, { kind: 'data' });
      if (stmt.type !== 'rule') throw new PolicyError(`bad policy data: '${r.action}/${r.cap}' is not a rule`);
      for (const t of stmt.targets) p.rules.get(stmt.cap)!.push(toRule(stmt.action, t));
    }
    p.generation++;
    if (data.lock !== 'on' && data.lock !== 'off' && data.lock !== 'exec' && data.lock !== 'ipc') {
      throw new PolicyError(`bad policy data: lock must be on, off, exec or ipc, got '${String(data.lock)}'`);
    }
    p.lockMode = data.lock;
    if (data.policyFiles !== undefined) {
      if (!Array.isArray(data.policyFiles) || !data.policyFiles.every((f) => typeof f === 'string')) {
        throw new PolicyError('bad policy data: policyFiles must be a list of paths');
      }
      p.protectPolicyFiles(data.policyFiles);
    }
    if (data.socketFiles !== undefined) {
      if (!Array.isArray(data.socketFiles) || !data.socketFiles.every((f) => typeof f === 'string')) {
        throw new PolicyError('bad policy data: socketFiles must be a list of paths');
      }
      p.protectSocketWay(data.socketFiles);
    }
    if (data.crypt !== undefined) p.crypt.loadJSON(data.crypt);
    if (data.setid !== undefined) p.transits.loadJSON(data.setid);
    if (data.ipc !== undefined) p.ipc.loadJSON(data.ipc);
    return p;
  }

  /**
   * The policy as rule lines in a canonical form (for `tsyd check`): every capability's state,
   * the rules grouped by capability in order, then the lock. Applying the lines in order gives
   * the same decisions. Patterns are shown as UTF-8 (non-UTF-8 bytes as U+FFFD).
   */
  normalized(): string[] {
    const out = CAPABILITIES.map((c) => `sandbox/${c}:${this.on.has(c) ? 'on' : 'off'}`);
    for (const [cap, list] of this.rules) for (const r of list) out.push(`${r.action}/${cap}+${fromBytes(r.pattern)}`);
    if (this.cryptUsed()) out.push(...this.crypt.normalized());
    out.push(...this.transits.normalized());
    out.push(...this.ipc.normalized());
    out.push(`lock:${this.lockMode}`);
    return out;
  }
}

/** The capabilities that change a file or a name: denied on the protected policy files. */
const CHANGES_A_FILE: ReadonlySet<Capability> = new Set(['write', 'create', 'delete']);

/** `/a/b` → `/a`, `/a` → `/`, `/` → null. */
function parentDir(path: string): string | null {
  if (path === '/') return null;
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

/** Rule lists up to this long are scanned; longer ones (the user profile's) go through an index. */
const LINEAR_MAX = 24;

/** Patterns that match every absolute path. */
const EVERYTHING = new Set(['/***', '/**', '**', '***']);

function toRule(action: Action, t: Target): Rule {
  return t.kind === 'glob' ? { action, pattern: t.pattern, glob: globMatcher(t.pattern) } : { action, pattern: t.pattern, address: t.address };
}

/** Removes the last identical rule, or all of them; a rule that is not there is no error. */
function removeRules(list: Rule[], action: Action, pattern: string, all: boolean): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const r = list[i]!;
    if (r.action !== action || r.pattern !== pattern) continue;
    list.splice(i, 1);
    if (!all) return;
  }
}
