// `tsyd learn`: the accesses of one recorded run → a policy file with which the same run
// succeeds and anything beyond it is denied. Groups into `dir/***` only where that is safe.
// Names are bytes (latin1 strings, as everywhere in tsyd): a rule names exactly the bytes the
// run used, and no learned rule reaches a secret the run did not touch.
import { toBytes } from './bytes.js';
import { CAPABILITIES, isNetCapability, type Capability } from './capabilities.js';
import { globLiteral } from './glob-literal.js';
import { globOverlap } from './glob-overlap.js';
import { globMatcher, globStateKey } from './glob.js';
import { agentCaps, startupProtected, type ProfileContext } from './profiles.js';
import { agentGlobs, secretGlobs, secretRoots } from './secrets.js';

/** One recorded decision (the fields of an 'access' event that matter here). */
export interface LearnedAccess {
  cap: Capability;
  /** UTF-8 text; bytes that were not UTF-8 show as U+FFFD (then `pathBytes` has them). */
  path?: string;
  /** The path's exact bytes (latin1) when they are not UTF-8: what the rule is written for. */
  pathBytes?: string;
  addr?: string;
  allowed: boolean;
  /** The system call (getdents64 listings keep their entries visible). */
  sys?: string;
}

export interface LearnOptions {
  accesses: Iterable<LearnedAccess>;
  context: ProfileContext;
  /** The learned command line, for the header. */
  command: string[];
  date?: Date;
  /** Capabilities this tsyd enforces; the others are written as a comment. @default all */
  enforced?: ReadonlySet<Capability>;
  /** Names under /home (whose secrets a rule must not cover). @default none */
  users?: string[];
  /** A directory with at least this many entries accessed becomes `dir/***`. @default 3 */
  groupAt?: number;
  /**
   * The canonical names (bytes) of the policy files of the learning run and of its output
   * (Policy.protectedPolicyFiles): no learned write, create or delete rule reaches them.
   * @default none
   */
  policyFiles?: string[];
}

export interface LearnedPolicy {
  /**
   * The policy file. Names keep their exact bytes, so it need not be UTF-8: write this, and
   * `tsyd check -P` / `tsyd run -P` read the same bytes back.
   */
  data: Buffer;
  /** `data` as UTF-8 text, for display: bytes that are not UTF-8 show as U+FFFD. */
  text: string;
  /** Secret paths the run touched, as `cap path` (each allowed explicitly in the text). */
  secrets: string[];
  /** Rules narrowed or left out (a secret within their reach, a name no policy line can hold). */
  warnings: string[];
}

/** /proc/<pid>/… and …/task/<tid>/…: another pid next run. */
function stablePath(path: string): string {
  return path.replace(/^\/proc\/\d+(?=\/|$)/, '/proc/[0-9]*').replace(/^(\/proc\/\[0-9\]\*\/task)\/\d+(?=\/|$)/, '$1/[0-9]*');
}

/**
 * A name as an exact glob, or null when no policy line can hold it: every glob, comment and
 * blank char escaped; a CR as a one-byte class (`[`, the CR byte, `]`): a line's last CR is cut
 * as a CRLF ending, so an escaped CR at the end of a rule would be lost.
 * A newline cannot be written at all (the file is one rule per line).
 * SAFETY: never a wildcard — bytes that are not UTF-8 stay those bytes.
 */
function literal(bytes: string): string | null {
  if (bytes.includes('\n')) return null;
  return globLiteral(bytes).replace(/\\\r/g, '[\r]');
}

/** A recorded path (bytes) as a glob: literal, except the /proc pid parts; null: unwritable. */
function pathGlob(path: string): string | null {
  const stable = stablePath(path);
  const head = stable.startsWith('/proc/[0-9]*') ? (stable.startsWith('/proc/[0-9]*/task/[0-9]*') ? 24 : 12) : 0;
  const rest = literal(stable.slice(head));
  return rest === null ? null : stable.slice(0, head) + rest;
}

/** Bytes for a message: UTF-8 shown as text; other bytes, control chars and `\` escaped. */
export function showBytes(bytes: string): string {
  const buf = Buffer.from(bytes, 'latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let out = '';
  for (let i = 0; i < buf.length; ) {
    const b = buf[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let ch: string | undefined;
    try {
      if (len > 0 && i + len <= buf.length) ch = utf8.decode(buf.subarray(i, i + len));
    } catch {
      ch = undefined;
    }
    if (ch !== undefined && !/[\x00-\x1f\x7f-\x9f\\]/.test(ch)) {
      out += ch;
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i++;
    }
  }
  return out;
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const within = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/** A rule a run asks for: its glob (null: the name cannot be written) and the paths it covers. */
export interface Candidate {
  glob: string | null;
  /** What the glob stands for, for messages: a path, `dir/*` or `dir/***` (bytes). */
  name: string;
  /** The recorded paths (bytes) behind it: what it may be narrowed to. */
  from: string[];
}

class Grouper {
  private readonly roots: string[];
  private readonly temps: string[];
  /** `protectedGlobs`: byte globs (secrets; for write, create and delete start-up files too). */
  constructor(
    ctx: ProfileContext,
    protectedGlobs: string[],
    private readonly groupAt: number,
  ) {
    this.roots = secretRoots(protectedGlobs);
    this.temps = ['/tmp', '/var/tmp', '/dev/shm', ...(ctx.tmp !== undefined ? [toBytes(ctx.tmp)] : [])];
  }

  /**
   * SAFETY: a directory may become `dir/***` only when no secret (for write, create and
   * delete: no start-up file) lies at or below it and it is not inside one; never `/`.
   */
  widenable(dir: string): boolean {
    if (dir === '/' || dir.startsWith('/proc')) return false;
    return !this.roots.some((r) => within(r, dir) || within(dir, r));
  }

  /** SAFETY: `dir/*` matches no secret when none is directly in `dir` and `dir` is in none. */
  namesSafe(dir: string): boolean {
    return dir !== '/' && !this.roots.some((r) => parentOf(r) === dir || within(dir, r));
  }

  /** Literal paths → rule candidates: temp dirs whole, then directories with many entries. */
  group(paths: Set<string>): Candidate[] {
    const trees = new Set<string>();
    const names = new Set<string>();
    const exact = new Set<string>();
    for (const p of paths) {
      // Names in temp dirs are random (cc's /tmp/ccXXXX.s): the next run uses others. A temp
      // dir with a secret below it (a $HOME in /tmp) gets `dir/*`: any name, no deeper.
      const temp = this.temps.find((t) => within(p, t) && p !== t);
      if (temp !== undefined && this.widenable(temp)) trees.add(temp);
      else if (temp !== undefined && parentOf(p) === temp && this.namesSafe(temp)) names.add(temp);
      else exact.add(p);
    }
    for (let changed = true; changed; ) {
      changed = false;
      const byDir = new Map<string, number>();
      for (const p of [...exact, ...trees]) if (p !== '/') byDir.set(parentOf(p), (byDir.get(parentOf(p)) ?? 0) + 1);
      for (const [dir, n] of byDir) {
        if (n < this.groupAt || !this.widenable(dir) || [...trees].some((t) => within(dir, t))) continue;
        trees.add(dir);
        changed = true;
      }
      for (const t of trees) {
        for (const p of exact) if (within(p, t)) exact.delete(p);
        for (const u of trees) if (u !== t && within(u, t)) trees.delete(u);
      }
    }
    for (const t of trees) for (const n of names) if (within(n, t)) names.delete(n);
    // Each recorded path is covered by one candidate (trees are disjoint, names are in none).
    const from = new Map<string, string[]>();
    const cover = (key: string, p: string) => {
      const list = from.get(key);
      if (list === undefined) from.set(key, [p]);
      else list.push(p);
    };
    for (const p of paths) {
      const t = [...trees].find((d) => within(p, d));
      if (t !== undefined) cover(`t${t}`, p);
      else if (!exact.has(p) && names.has(parentOf(p))) cover(`n${parentOf(p)}`, p);
      else cover(`e${p}`, p);
    }
    const of = (dir: string, suffix: string, key: string): Candidate => ({ glob: glob(dir, suffix), name: named(dir, suffix), from: from.get(key)! });
    return [
      ...[...exact].map((p) => of(p, '', `e${p}`)),
      ...[...names].map((n) => of(n, '/*', `n${n}`)),
      ...[...trees].map((t) => of(t, '/***', `t${t}`)),
    ];
  }
}

/**
 * The candidates that may be written, as globs: SAFETY: defense in depth behind the grouping —
 * a glob that could match any secret (`secrets`: byte globs) is narrowed to the exact paths it
 * was made of, an exact path that still could is left out (a secret the run touched is allowed
 * by its own `# SECRET` rule, never through a learned one), and so is a name no policy line can
 * hold. Each narrowing or omission is reported through `warn` (display text).
 */
export function keepOffSecrets(cap: Capability, candidates: Candidate[], secrets: string[], warn: (msg: string) => void, what: (hit: string) => string = secretUntouched): string[] {
  const out = new Set<string>();
  const admit = (c: Candidate): void => {
    if (c.glob === null) {
      // Below a name with a newline: each path on its own (it has the newline too).
      if (c.from.length === 1 && c.from[0] === c.name) {
        warn(`not learned: allow/${cap}+${showBytes(c.name)}: a newline in a name cannot be written in a policy file`);
        return;
      }
      if (c.from.length === 0) warn(`not learned: allow/${cap}+${showBytes(c.name)}: a newline in a name cannot be written in a policy file`);
    } else {
      const hit = secrets.map((s) => globOverlap(c.glob!, s)).find((w) => w !== null);
      if (hit === undefined) {
        out.add(c.glob);
        return;
      }
      const rule = `allow/${cap}+${showBytes(c.glob)}`;
      if (c.from.length === 0 || (c.from.length === 1 && c.from[0] === c.name)) {
        warn(`not learned: ${rule} could match ${what(hit!)}`);
        return;
      }
      warn(`narrowed: ${rule} could match ${what(hit!)}: only the ${c.from.length} path(s) the run used are allowed`);
    }
    for (const p of c.from) admit({ glob: pathGlob(p), name: p, from: [p] });
  };
  for (const c of candidates) admit(c);
  return [...out].sort();
}

const secretUntouched = (hit: string) => `the secret ${showBytes(hit)}, which the run did not touch`;

/** The capabilities that change a file: a start-up file is never learned into them by grouping. */
const CHANGES: ReadonlySet<Capability> = new Set(['write', 'create', 'delete']);

export function learnPolicy(opts: LearnOptions): LearnedPolicy {
  const ctx = opts.context;
  // SAFETY: the secret globs of the user profile (every home under /home, not only the listed
  // users), as bytes like the recorded paths; for write, create and delete also its start-up
  // files (code that runs later outside the sandbox).
  const secretGlobList = secretGlobs(ctx).map(toBytes);
  const startupGlobList = startupProtected(ctx).map(toBytes);
  const isSecret = secretGlobList.map((g) => globMatcher(g));
  const isStartup = startupGlobList.map((g) => globMatcher(g));
  const secretOf = (p: string) => isSecret.some((m) => m(p));
  const startupOf = (cap: Capability, p: string) => CHANGES.has(cap) && isStartup.some((m) => m(p));
  // SAFETY: the agent sockets of the user profile, denied after every learned allow (a temp
  // dir's `/tmp/***` would reach them), for connect, bind and the changes that replace them.
  const agents = agentGlobs(ctx).map((a) => ({ glob: toBytes(a.glob), caps: agentCaps(a.caps), match: globMatcher(toBytes(a.glob)) }));
  const agentOf = (cap: Capability, p: string) => agents.some((a) => a.caps.includes(cap) && a.match(p));
  // SAFETY: the policy files of the learning run and its output: no learned rule changes them.
  const policyFiles = new Set(opts.policyFiles ?? []);
  const policyFileGlobList = [...policyFiles].map(literal).filter((g): g is string => g !== null);
  const changesPolicyFile = (cap: Capability, p: string) => CHANGES.has(cap) && policyFiles.has(p);
  const paths = new Map<Capability, Set<string>>(CAPABILITIES.map((c) => [c, new Set()]));
  const addrs = new Map<Capability, Set<string>>(CAPABILITIES.map((c) => [c, new Set()]));
  /** Touched places that are only ever allowed by their own commented rule. */
  const explicit = { secret: [] as Explicit[], startup: [] as Explicit[], agent: [] as Explicit[] };
  const warnings: string[] = [];
  const warn = (msg: string) => {
    if (!warnings.includes(msg)) warnings.push(msg);
  };
  const seen = new Set<string>();
  const reported = new Set<string>();
  const once = (list: Explicit[], cap: Capability, path: string) => {
    const key = `${cap} ${path}`;
    if (!seen.has(key)) list.push({ cap, path });
    seen.add(key);
  };
  // Directories the run listed: their entries must stay visible (stat), or the same listing would
  // come back shorter — except where a secret could be among them (it stays hidden).
  const listed = new Set<string>();
  const secretBelow = (dir: string) => secretGlobList.some((g) => globStateKey(g, `${dir}/`) !== '');
  for (const a of opts.accesses) {
    // SAFETY: the exact bytes of the name; a name recorded as text only (U+FFFD where bytes were
    // lost) is taken as the UTF-8 of that text: a rule for another name, never a wildcard.
    const path = a.path === undefined ? undefined : (a.pathBytes ?? toBytes(a.path));
    if (path !== undefined && changesPolicyFile(a.cap, path)) {
      warn(`not learned: the run tried to change a policy file (${a.cap} ${showBytes(path)}): it never may`);
      continue;
    }
    // Denied accesses (a -m deny during learning) did not happen: nothing to allow.
    if (!a.allowed) continue;
    if (a.addr !== undefined) addrs.get(a.cap)!.add(a.addr);
    if (path === undefined) continue;
    if (a.cap === 'stat' && a.sys === 'getdents64' && !secretBelow(path)) listed.add(path);
    if (path.startsWith('@')) {
      const name = literal(path.slice(1));
      if (name === null) warn(`not learned: ${a.cap} ${showBytes(path)}: a newline in a name cannot be written in a policy file`);
      else addrs.get(a.cap)!.add(`@${name}`);
    } else if (agentOf(a.cap, path)) {
      // After the agent denies (an agent socket can be a secret too: reported as one).
      once(explicit.agent, a.cap, path);
      if (secretOf(path)) reported.add(`${a.cap} ${showBytes(path)}`);
      warn(`the learned run used an agent socket (${a.cap} ${showBytes(path)}): allowed explicitly after the agent denies, marked # AGENT`);
    } else if (secretOf(path)) {
      // SAFETY: never silently allow a secret: an explicit, commented rule and a warning.
      once(explicit.secret, a.cap, path);
      reported.add(`${a.cap} ${showBytes(path)}`);
    } else if (startupOf(a.cap, path)) {
      once(explicit.startup, a.cap, path);
      warn(`the learned run changed a start-up file (${a.cap} ${showBytes(path)}), which runs code outside the sandbox later: allowed explicitly, marked # START-UP`);
    } else paths.get(a.cap)!.add(path);
  }
  // The initial program, whether or not the exec of the program itself was recorded.
  const program = ctx.program !== undefined ? toBytes(ctx.program) : undefined;
  if (program !== undefined && !secretOf(program)) paths.get('exec')!.add(program);

  const groupAt = opts.groupAt ?? 3;
  const users = opts.users ?? [];
  const readGrouper = new Grouper(ctx, secretGlobs(ctx, users).map(toBytes), groupAt);
  const changeGrouper = new Grouper(ctx, [...[...secretGlobs(ctx, users), ...startupProtected(ctx, users)].map(toBytes), ...policyFileGlobList], groupAt);
  const enforced = opts.enforced ?? new Set(CAPABILITIES);
  const lines = [
    `# Learned by tsyd learn on ${(opts.date ?? new Date()).toISOString()}`,
    `# command: ${opts.command.map(quote).join(' ').replace(/[\r\n]/g, ' ')}`,
    `# working directory: ${ctx.cwd.replace(/[\r\n]/g, ' ')}`,
  ].map(toBytes);
  lines.push('');
  for (const cap of CAPABILITIES) {
    lines.push(enforced.has(cap) ? `sandbox/${cap}:on` : `# sandbox/${cap}:on   (not enforced by this tsyd: nothing was recorded)`);
  }
  const allowed = new Map<Capability, string[]>();
  for (const cap of CAPABILITIES) {
    // SAFETY: UNIX socket paths are never grouped: `/tmp/***` for connect would reach every
    // agent socket in /tmp (an ssh-agent at /tmp/ssh-*/agent.N). Each is allowed as it was used.
    const candidates = isNetCapability(cap)
      ? [...paths.get(cap)!].map((p) => ({ glob: pathGlob(p), name: p, from: [p] }))
      : (CHANGES.has(cap) ? changeGrouper : readGrouper).group(paths.get(cap)!);
    if (cap === 'stat') for (const d of listed) candidates.push({ glob: glob(d, '/*'), name: named(d, '/*'), from: [] });
    const keepOff = CHANGES.has(cap) ? [...secretGlobList, ...startupGlobList, ...policyFileGlobList] : secretGlobList;
    const what = (hit: string) => (policyFiles.has(hit) ? `the policy file ${showBytes(hit)}` : secretUntouched(hit));
    const kept = keepOffSecrets(cap, candidates, keepOff, warn, what);
    allowed.set(cap, kept);
    const patterns = [...kept, ...(isNetCapability(cap) ? [...addrs.get(cap)!].sort() : [])];
    if (patterns.length > 0) lines.push('', ...patterns.map((p) => `allow/${cap}+${p}`));
  }
  const explicitRules = (list: Explicit[], comment: string) => {
    for (const e of list) {
      const g = pathGlob(e.path);
      if (g === null) warn(`not learned: ${e.cap} ${showBytes(e.path)}: a newline in a name cannot be written in a policy file`);
      else lines.push('', comment, `allow/${e.cap}+${g}`);
    }
  };
  explicitRules(explicit.secret, '# SECRET: the learned run read this');
  explicitRules(explicit.startup, '# START-UP: the learned run changed this file, which runs code outside the sandbox later');
  lines.push('', '# Agent sockets act for the user: never reached, bound or replaced, whatever the rules above allow');
  for (const a of agents) for (const cap of a.caps) if (enforced.has(cap)) lines.push(`deny/${cap}+${a.glob}`);
  explicitRules(explicit.agent, '# AGENT: the learned run used this agent socket');
  const data = Buffer.from(`${lines.join('\n')}\n`, 'latin1');
  return { data, text: data.toString('utf8'), secrets: [...reported], warnings };
}

/** A touched place allowed by its own rule. */
interface Explicit {
  cap: Capability;
  path: string;
}

/** `dir` + suffix (`/*`, `/***`, or '' for `dir` itself) as a glob; null: `dir` cannot be written. */
function glob(dir: string, suffix: string): string | null {
  if (dir === '/' && suffix !== '') return suffix;
  const g = pathGlob(dir);
  return g === null ? null : g + suffix;
}

const named = (dir: string, suffix: string) => (dir === '/' && suffix !== '' ? suffix : dir + suffix);

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
