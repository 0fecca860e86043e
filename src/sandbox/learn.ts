// `tsyd learn`: the accesses of one recorded run → a policy file with which the same run
// succeeds and anything beyond it is denied. Groups into `dir/***` only where that is safe.
import { CAPABILITIES, isNetCapability, type Capability } from './capabilities.js';
import { globLiteral } from './glob-literal.js';
import { globMatcher, globStateKey } from './glob.js';
import type { ProfileContext } from './profiles.js';
import { secretGlobs, secretRoots } from './secrets.js';

/** One recorded decision (the fields of an 'access' event that matter here). */
export interface LearnedAccess {
  cap: Capability;
  path?: string;
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
}

export interface LearnedPolicy {
  text: string;
  /** Secret paths the run touched, as `cap path` (each allowed explicitly in the text). */
  secrets: string[];
}

/** /proc/<pid>/… and …/task/<tid>/…: another pid next run. */
function stablePath(path: string): string {
  return path.replace(/^\/proc\/\d+(?=\/|$)/, '/proc/[0-9]*').replace(/^(\/proc\/\[0-9\]\*\/task)\/\d+(?=\/|$)/, '$1/[0-9]*');
}

/** A recorded path as a glob: literal, except the /proc pid parts and bytes that were not UTF-8. */
function pathGlob(path: string): string {
  const stable = stablePath(path);
  const head = stable.startsWith('/proc/[0-9]*') ? (stable.startsWith('/proc/[0-9]*/task/[0-9]*') ? 24 : 12) : 0;
  // U+FFFD stands for bytes that were not UTF-8: `*` matches them (never a `/`).
  return stable.slice(0, head) + globLiteral(stable.slice(head)).replace(/\uFFFD+/g, '*');
}

const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const within = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

class Grouper {
  private readonly roots: string[];
  private readonly temps: string[];
  constructor(
    ctx: ProfileContext,
    users: string[],
    private readonly groupAt: number,
  ) {
    this.roots = secretRoots(secretGlobs(ctx.home, users));
    this.temps = ['/tmp', '/var/tmp', '/dev/shm', ...(ctx.tmp !== undefined ? [ctx.tmp] : [])];
  }

  /**
   * SAFETY: a directory may become `dir/***` only when no secret lies at or below it and it
   * is not inside one; never `/`.
   */
  widenable(dir: string): boolean {
    if (dir === '/' || dir.startsWith('/proc') || dir.includes('\uFFFD')) return false;
    return !this.roots.some((r) => within(r, dir) || within(dir, r));
  }

  /** SAFETY: `dir/*` matches no secret when none is directly in `dir` and `dir` is in none. */
  namesSafe(dir: string): boolean {
    return dir !== '/' && !this.roots.some((r) => parentOf(r) === dir || within(dir, r));
  }

  /** Literal paths → rule patterns: temp dirs whole, then directories with many entries. */
  group(paths: Set<string>): string[] {
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
    const globs = [...[...exact].map(pathGlob), ...[...names].map((n) => `${pathGlob(n)}/*`), ...[...trees].map((t) => `${pathGlob(t)}/***`)];
    return [...new Set(globs)].sort();
  }
}

export function learnPolicy(opts: LearnOptions): LearnedPolicy {
  const ctx = opts.context;
  const isSecret = secretGlobs(ctx.home).map((g) => globMatcher(g));
  const secretOf = (p: string) => isSecret.some((m) => m(Buffer.from(p).toString('latin1')));
  const paths = new Map<Capability, Set<string>>(CAPABILITIES.map((c) => [c, new Set()]));
  const addrs = new Map<Capability, Set<string>>(CAPABILITIES.map((c) => [c, new Set()]));
  const secrets: Array<{ cap: Capability; path: string }> = [];
  const seen = new Set<string>();
  // Directories the run listed: their entries must stay visible (stat), or the same listing would
  // come back shorter — except where a secret could be among them (it stays hidden).
  const listed = new Set<string>();
  const secretGlobList = secretGlobs(ctx.home);
  const secretBelow = (dir: string) => secretGlobList.some((g) => globStateKey(g, `${Buffer.from(dir).toString('latin1')}/`) !== '');
  for (const a of opts.accesses) {
    // Denied accesses (a -m deny during learning) did not happen: nothing to allow.
    if (!a.allowed) continue;
    if (a.cap === 'stat' && a.sys === 'getdents64' && a.path !== undefined && !secretBelow(a.path)) listed.add(a.path);
    if (a.addr !== undefined) addrs.get(a.cap)!.add(a.addr);
    if (a.path === undefined) continue;
    if (a.path.startsWith('@')) {
      addrs.get(a.cap)!.add(`@${globLiteral(a.path.slice(1))}`);
    } else if (secretOf(a.path)) {
      // SAFETY: never silently allow a secret: an explicit, commented rule and a warning.
      const key = `${a.cap} ${a.path}`;
      if (!seen.has(key)) secrets.push({ cap: a.cap, path: a.path });
      seen.add(key);
    } else paths.get(a.cap)!.add(a.path);
  }
  // The initial program, whether or not the exec of the program itself was recorded.
  if (ctx.program !== undefined && !secretOf(ctx.program)) paths.get('exec')!.add(ctx.program);

  const grouper = new Grouper(ctx, opts.users ?? [], opts.groupAt ?? 3);
  const enforced = opts.enforced ?? new Set(CAPABILITIES);
  const lines = [
    `# Learned by tsyd learn on ${(opts.date ?? new Date()).toISOString()}`,
    `# command: ${opts.command.map(quote).join(' ').replace(/[\r\n]/g, ' ')}`,
    `# working directory: ${ctx.cwd.replace(/[\r\n]/g, ' ')}`,
    '',
  ];
  for (const cap of CAPABILITIES) {
    lines.push(enforced.has(cap) ? `sandbox/${cap}:on` : `# sandbox/${cap}:on   (not enforced by this tsyd: nothing was recorded)`);
  }
  for (const cap of CAPABILITIES) {
    const patterns = [...grouper.group(paths.get(cap)!), ...(isNetCapability(cap) ? [...addrs.get(cap)!].sort() : [])];
    if (cap === 'stat') for (const d of [...listed].sort()) patterns.push(d === '/' ? '/*' : `${pathGlob(d)}/*`);
    if (patterns.length > 0) lines.push('', ...patterns.map((p) => `allow/${cap}+${p}`));
  }
  for (const s of secrets) lines.push('', '# SECRET: the learned run read this', `allow/${s.cap}+${pathGlob(s.path)}`);
  return { text: `${lines.join('\n')}\n`, secrets: secrets.map((s) => `${s.cap} ${s.path}`) };
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
