// Built-in profiles (`-p NAME`): rule lists made from where the program runs. Every rule
// carries the source `profile NAME`, so an error names the profile.
import { UsageError } from '../errors.js';
import { CAPABILITIES, type Capability, type PathCapability } from './capabilities.js';
import { parseRule, type Statement } from './rules.js';
import { globLiteral } from './glob-literal.js';
import { unknownName } from '../shared/did-you-mean.js';
import { agentGlobs, secretGlobs, startupGlobs, type AgentContext, type HomesContext } from './secrets.js';

export const PROFILES = ['off', 'user', 'paranoid', 'none'] as const;
export type ProfileName = (typeof PROFILES)[number];
/** The base profile when no -p is given: -m and -P apply on top of it (CLI and spawn()). */
export const DEFAULT_PROFILE: ProfileName = 'user';

export interface ProfileContext extends HomesContext, AgentContext {
  /** The program's working directory at start: canonical and absolute. */
  cwd: string;
  /** $HOME: canonical and absolute. */
  home: string;
  /** $TMPDIR when it is not /tmp (canonical). */
  tmp?: string;
  /** The homes of /etc/passwd (canonical, existing, no system directory): their secrets are denied too. */
  homes?: string[];
  /** Agent sockets the environment names ($SSH_AUTH_SOCK, $TMUX's, $GPG_AGENT_INFO's): canonical. */
  agents?: string[];
  /** $XDG_RUNTIME_DIR, canonical. */
  runtime?: string;
  /** The program's canonical path (paranoid lets it, and nothing else, be executed). */
  program?: string;
  /** The symlinks followed from the program's path as found to its canonical path (/bin, …). */
  programLinks?: string[];
  /** The canonical absolute directories of $PATH (user lets their toolchains be executed). */
  path?: string[];
  /** The files read to make this context (/etc/passwd): protected like policy files. */
  files?: string[];
}

const PATH_CAPS: PathCapability[] = ['read', 'write', 'create', 'delete', 'stat', 'exec'];
const ALL_ON = `sandbox/${CAPABILITIES.join(',')}:on`;

export function isProfile(name: string): name is ProfileName {
  return (PROFILES as readonly string[]).includes(name);
}

export function unknownProfile(name: string): string {
  return unknownName('profile', name, PROFILES);
}

/** The statements of profile `name`; an unknown name is a usage error listing the profiles. */
export function profileStatements(name: string, ctx: ProfileContext): Statement[] {
  return profileLines(name, ctx).map((l) => parseRule(l, { kind: 'profile', name }));
}

/** The rule lines of profile `name`; an unknown name is a usage error listing the profiles. */
export function profileLines(name: string, ctx: ProfileContext): string[] {
  if (!isProfile(name)) throw new UsageError(unknownProfile(name));
  // `none`: the empty base (nothing on, no rule), for a policy built from scratch with -m/-P.
  return name === 'none' ? [] : name === 'off' ? offRules() : name === 'user' ? userRules(ctx) : paranoidRules(ctx);
}

/** Every capability on and everything allowed: each access is still decided and recordable. */
function offRules(): string[] {
  return [
    ALL_ON,
    ...PATH_CAPS.map((c) => `allow/${c}+/***`),
    ...(['net/bind', 'net/connect'] as const).flatMap((c) => [`allow/${c}+any!0-65535`, `allow/${c}+/***`, `allow/${c}+@**`]),
  ];
}

/** The directories the user profile lets a program change: its cwd and the temp dirs. */
function scratchDirs(ctx: ProfileContext): string[] {
  // SAFETY: a program started in `/` does not get the whole file system as its project.
  const dirs = ctx.cwd === '/' ? [] : [globLiteral(ctx.cwd)];
  dirs.push('/tmp', '/var/tmp', '/dev/shm');
  if (ctx.tmp !== undefined && ctx.tmp !== '/' && !dirs.includes(globLiteral(ctx.tmp))) dirs.push(globLiteral(ctx.tmp));
  return dirs;
}

/**
 * Caches under $HOME that package managers write on every run (npm's logs, cache and update
 * check in ~/.npm; pip's and other XDG caches in ~/.cache; cargo's downloaded registry and git
 * sources): written, created and deleted. SAFETY (accepted): a program can plant entries there
 * that a later run outside the sandbox uses (cache poisoning). npm and cargo check what they
 * take from their caches against the lockfile's hashes; pip only with --require-hashes. Not
 * ~/.cargo/bin, ~/.cargo/config* nor ~/.npmrc: start-up files, denied by the rules after these.
 */
const HOME_CACHES = ['.npm', '.cache', '.cargo/registry', '.cargo/git'];

/** Device nodes every program may write (terminals, the bit buckets, entropy). */
const USER_DEVICES = ['/dev/null', '/dev/zero', '/dev/full', '/dev/tty', '/dev/pts/*', '/dev/ptmx', '/dev/random', '/dev/urandom'];
/** The program's own open files by path (/dev/stdout, /dev/fd/N, /proc/self/fd/N): magic paths. */
const OWN_FDS = ['/proc/[0-9]*/fd/*', '/proc/[0-9]*/task/[0-9]*/fd/*'];
/** Where system programs live; the user profile runs them and nothing the program fetched elsewhere. */
const SYSTEM_BIN = ['/usr/***', '/bin/***', '/sbin/***', '/lib/***', '/lib64/***', '/lib32/***', '/libx32/***', '/opt/***'];
/**
 * UNIX sockets of local services a normal program needs: name resolution (nscd and
 * systemd-resolved). SAFETY: not /run/*** — /run/docker.sock is root, the system D-Bus reaches
 * privileged services, /run/user/UID holds the ssh and gpg agents.
 */
const LOCAL_SERVICES = ['/run/nscd/socket', '/run/systemd/resolve/io.systemd.Resolve'];
/**
 * The trees of the user's $PATH: a directory outside $HOME as it is; one under $HOME as its
 * top directory there (~/.pyenv/shims → ~/.pyenv/***: shims run the versions beside them).
 * SAFETY: the user profile lets the program write none of them (unless they are scratch dirs,
 * which are executable anyway); secrets stay denied by the rules after these; $HOME and `/`
 * themselves are never made executable.
 */
function toolchains(ctx: ProfileContext): string[] {
  const out = new Set<string>();
  for (const dir of ctx.path ?? []) {
    if (!dir.startsWith('/') || dir === '/' || dir === ctx.home) continue;
    const top = dir.startsWith(`${ctx.home}/`) ? `${ctx.home}/${dir.slice(ctx.home.length + 1).split('/')[0]}` : dir;
    if (!SYSTEM_BIN.some((b) => `${top}/`.startsWith(b.slice(0, -3)))) out.add(`${globLiteral(top)}/***`);
  }
  return [...out];
}

/**
 * The $PATH trees under $HOME (as toolchains() makes them executable): what they hold runs
 * later outside the sandbox, at the user's next command. SAFETY: never written by a program
 * started in $HOME (or with $HOME in a temp dir); a tree that holds the cwd is the user's
 * project (~/src/tool with ~/src/tool/target/release in $PATH): left writable, like a Makefile.
 */
function homeToolchains(ctx: ProfileContext): string[] {
  const out = new Set<string>();
  for (const dir of ctx.path ?? []) {
    if (!dir.startsWith(`${ctx.home}/`)) continue;
    const top = `${ctx.home}/${dir.slice(ctx.home.length + 1).split('/')[0]}`;
    if (ctx.cwd === top || ctx.cwd.startsWith(`${top}/`)) continue;
    out.add(`${globLiteral(top)}/***`);
  }
  return [...out];
}

/**
 * What the user profile never lets a program write, create or delete: start-up files, home
 * toolchains. `users`: as for secretGlobs.
 */
export function startupProtected(ctx: ProfileContext, users?: string[]): string[] {
  return [...startupGlobs(ctx, users), ...homeToolchains(ctx)];
}

/**
 * The directories (globs) between a directory of `within` and each of `globs` (`D/***` counts
 * as D): those a program may create or delete, on whose names the globs' decisions rest.
 */
export function dirsOnTheWay(globs: string[], within: string[]): string[] {
  const out = new Set<string>();
  for (const glob of globs) {
    const parts = glob.replace(/\/\*\*\*$/, '').split('/');
    for (let k = 2; k < parts.length; k++) {
      const dir = parts.slice(0, k).join('/');
      if (within.some((w) => dir.startsWith(w === '/' ? w : `${w}/`))) out.add(dir);
    }
  }
  return [...out];
}

/** The capabilities denied on an agent socket glob. */
export function agentCaps(caps: 'all' | 'connect'): Capability[] {
  return caps === 'all' ? ['net/connect', 'net/bind', 'write', 'create', 'delete'] : ['net/connect', 'net/bind'];
}

function userRules(ctx: ProfileContext): string[] {
  const scratch = scratchDirs(ctx);
  const out = [ALL_ON, 'allow/read+/***', 'allow/stat+/***'];
  for (const cap of ['write', 'create', 'delete'] as const) for (const d of scratch) out.push(`allow/${cap}+${d}/***`);
  if (ctx.home !== '/') {
    for (const cap of ['write', 'create', 'delete'] as const) for (const c of HOME_CACHES) out.push(`allow/${cap}+${globLiteral(ctx.home)}/${c}/***`);
  }
  for (const dev of [...USER_DEVICES, ...OWN_FDS]) out.push(`allow/write+${dev}`);
  // SAFETY (accepted): exec from the cwd and the temp dirs adds nothing to what a program that
  // may write there can do (it could write a script and run it with /bin/sh), and builds run
  // what they compile there (configure tests, cc's temp programs).
  for (const d of [...SYSTEM_BIN, ...scratch.map((s) => `${s}/***`), ...toolchains(ctx)]) out.push(`allow/exec+${d}`);
  for (const cap of ['net/connect', 'net/bind'] as const) {
    out.push(`allow/${cap}+loopback!0-65535`);
    for (const d of scratch) out.push(`allow/${cap}+${d}/***`);
  }
  for (const s of LOCAL_SERVICES) out.push(`allow/net/connect+${s}`);
  // SAFETY: agent sockets in the temp dirs and the runtime dir, and those the environment
  // names: neither reached nor replaced (unlinked, bound or created in their place).
  for (const a of agentGlobs(ctx)) for (const cap of agentCaps(a.caps)) out.push(`deny/${cap}+${a.glob}`);
  // SAFETY: a program started in $HOME (or with $HOME under a temp dir) may change files there,
  // but not those that run code outside the sandbox later: at the next login, shell, Python,
  // git or editor start, or as the command the user types (~/.local/bin comes first in $PATH).
  const startup = startupProtected(ctx);
  for (const glob of startup) for (const cap of ['write', 'create', 'delete'] as const) out.push(`deny/${cap}+${glob}`);
  // SAFETY: nor the directories on the way to them (~/.config, ~/.local/share): moved away or
  // replaced by a symlink (~/.config → /tmp/x), they would take the start-up files out of these
  // rules, which name paths. Created and deleted never; renamed never (a rename deletes its source).
  for (const dir of dirsOnTheWay(startup, scratch)) for (const cap of ['create', 'delete'] as const) out.push(`deny/${cap}+${dir}`);
  // SAFETY: secrets last, since the last matching rule wins: denied even under the cwd or /tmp.
  for (const glob of secretGlobs(ctx)) {
    for (const cap of PATH_CAPS) out.push(`deny/${cap}+${glob}`);
    out.push(`deny/net/connect+${glob}`, `deny/net/bind+${glob}`);
  }
  return out;
}

/** What the dynamic loader and libc read to start a program (glibc, x86-64 and others). */
const STARTUP_FILES = [
  '/etc/ld.so.cache',
  '/etc/ld.so.preload',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d/***',
  '/lib*/ld-linux*.so*',
  '/lib*/**/ld-linux*.so*',
  '/usr/lib*/**/ld-linux*.so*',
  ...['libc', 'libm', 'libpthread', 'libdl', 'librt', 'libgcc_s', 'libstdc++', 'libselinux', 'libpcre2-8'].flatMap((l) => [
    `/lib*/**/${l}.so*`,
    `/usr/lib*/**/${l}.so*`,
    `/lib*/${l}.so*`,
    `/usr/lib*/${l}.so*`,
  ]),
  '/usr/lib/locale/locale-archive',
  '/usr/lib/locale/C.*/***',
  '/usr/share/locale/locale.alias',
  '/etc/locale.alias',
  '/usr/lib*/**/gconv/gconv-modules*',
  '/usr/lib*/**/gconv/gconv-modules.d/***',
  '/etc/localtime',
  '/dev/null',
  '/dev/urandom',
  '/proc/[0-9]*/maps',
  '/proc/sys/vm/overcommit_memory',
  '/sys/devices/system/cpu/online',
  '/sys/devices/system/cpu/possible',
];

function paranoidRules(ctx: ProfileContext): string[] {
  const out = [ALL_ON];
  for (const f of STARTUP_FILES) out.push(`allow/read+${f}`, `allow/stat+${f}`);
  // The loader and the libraries run: mapping them executable is decided as exec.
  for (const f of STARTUP_FILES) if (f.includes('.so')) out.push(`allow/exec+${f}`);
  // The loader probes library directories (tls/, x86_64/, glibc-hwcaps/) by stat.
  for (const d of ['/lib*/***', '/usr/lib*/***']) out.push(`allow/stat+${d}`);
  // A terminal handed to the program as stdio: fstat of an fd is decided on its path, and libc
  // and coreutils fstat their standard streams (cat fails without it). Its metadata only.
  for (const t of ['/dev/pts/*', '/dev/tty']) out.push(`allow/stat+${t}`);
  if (ctx.program !== undefined) {
    const p = globLiteral(ctx.program);
    out.push(`allow/read+${p}`, `allow/stat+${p}`, `allow/exec+${p}`);
    // A symlink followed must be visible (/bin/echo passes /bin): its name only.
    for (const l of ctx.programLinks ?? []) out.push(`allow/stat+${globLiteral(l)}`);
  }
  return out;
}
