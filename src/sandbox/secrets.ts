// What the user profile keeps from a program, and `tsyd learn` never widens a rule over:
// secrets (files and trees that hold credentials: denied for every capability, even under the
// cwd), start-up files (code that runs later outside the sandbox: never written, created or
// deleted) and agent sockets (they act for the user: never reached, replaced or removed).
import type { Stats } from 'node:fs';
import { readdir, readFile, realpath } from './fs-reads.js';
import { globLiteral } from './glob-literal.js';
import { globMatcher } from './glob.js';
import { lstatOrUndefined, resolveLoose } from './symlink-walk.js';

/**
 * Under a home directory: `/` at the end marks a tree (the directory and everything below).
 * At most one component may have a wildcard (symlinks are resolved through one: linkedGlobs).
 */
const HOME_SECRETS = [
  // Keys and tokens: ssh, gpg, the clouds and their CLIs, container registries.
  '.ssh/',
  '.gnupg/',
  '.aws/',
  '.azure/',
  '.kube/',
  '.oci/',
  '.config/gcloud/',
  '.config/gh/',
  '.config/hub',
  '.config/doctl/',
  '.config/hcloud/',
  '.config/rclone/',
  '.s3cfg',
  '.boto',
  '.docker/config.json',
  '.dockercfg',
  '.config/containers/auth.json',
  // Passwords of tools: netrc, git's credential store, package registries, build tools.
  '.netrc',
  '.git-credentials',
  '.config/git/credentials',
  // Not ~/.npmrc (a start-up file below): npm needs it to run at all as configured.
  '.pypirc',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.m2/settings.xml',
  '.m2/settings-security.xml',
  '.gradle/gradle.properties',
  '.ivy2/.credentials',
  '.composer/auth.json',
  '.config/composer/auth.json',
  '.terraformrc',
  '.terraform.d/credentials.tfrc.json',
  '.vault-token',
  '.pgpass',
  '.my.cnf',
  // Password managers, keyrings and the agents that listen in the home (1Password, Bitwarden).
  '.password-store/',
  '.local/share/keyrings/',
  '.config/sops/',
  '.1password/',
  '.bitwarden-ssh-agent.sock',
  // Display cookies: with one a program connects to the X server (keystrokes, screen contents).
  '.Xauthority',
  '.ICEauthority',
  // The emacs server's socket and TCP key: through them a client runs any code in the user's emacs.
  '.emacs.d/server/',
  '.config/emacs/server/',
  // Browser and mail profiles: cookies, saved passwords, mail.
  '.mozilla/',
  '.config/google-chrome/',
  '.config/chromium/',
  '.thunderbird/',
  // Shell and REPL histories hold pasted tokens and passwords.
  '.bash_history',
  '.zsh_history',
  '.local/share/fish/fish_history',
  '.python_history',
  '.psql_history',
  '.mysql_history',
  '.node_repl_history',
  '.sqlite_history',
  '.irb_history',
  '.rediscli_history',
];

/** System-wide; globs allowed. */
const SYSTEM_SECRETS = [
  '/etc/shadow',
  '/etc/shadow-',
  '/etc/gshadow',
  '/etc/gshadow-',
  '/etc/security/opasswd',
  '/etc/sudoers',
  '/etc/sudoers.d/',
  '/etc/ssh/*_key',
  '/etc/ssl/private/',
  '/etc/krb5.keytab',
  // Network and VPN passwords and keys, TLS keys of the host's certificates.
  '/etc/NetworkManager/system-connections/',
  '/etc/wireguard/',
  '/etc/ipsec.secrets',
  '/etc/ppp/*-secrets',
  '/etc/letsencrypt/',
  '/run/secrets/',
  '/var/run/secrets/',
  '/var/lib/sss/secrets/',
  // Registry logins of podman (rootless in the runtime dir, root's in /run/containers/0) and
  // the display cookies kept in the runtime dir (GDM, SDDM, Xwayland).
  '/run/user/*/containers/auth.json',
  '/run/containers/*/auth.json',
  '/run/user/*/gdm/Xauthority',
  '/run/user/*/xauth_*',
  '/run/user/*/.mutter-Xwaylandauth.*',
];

/**
 * Files and trees under a home that run code outside the sandbox later: readable, never
 * written, created or deleted by a sandboxed program. Not exhaustive: the usual places.
 */
const HOME_STARTUP = [
  // Shells at every login and shell: bash (Debian's .bashrc sources .bash_aliases, Fedora's
  // ~/.bashrc.d/*), zsh, fish, oh-my-zsh's tree; readline's .inputrc binds keys to typed text;
  // starship's prompt runs its custom commands at every prompt.
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.bash_aliases',
  '.bash_functions',
  '.bashrc.d/',
  '.profile',
  '.inputrc',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.zlogout',
  '.oh-my-zsh/',
  '.config/fish/',
  '.config/starship.toml',
  // Sourced by those start-up files where installers put it: rustup's .cargo/env, nvm.
  '.cargo/env',
  '.nvm/',
  // The desktop session: X session scripts (Debian's Xsession sources .xsessionrc, im-config
  // .xinputrc), the environment of every process, autostart entries, user services (systemd
  // units, D-Bus activation files), .desktop launchers that shadow the system's, window
  // manager configs (they exec commands), GNOME Shell extensions (JavaScript in the shell),
  // user-dirs.dirs (sourced as shell by xdg-user-dir).
  '.xprofile',
  '.xinitrc',
  '.xsession',
  '.xsessionrc',
  '.xinputrc',
  '.pam_environment',
  '.config/environment.d/',
  '.config/autostart/',
  '.config/systemd/',
  '.local/share/systemd/',
  '.local/share/dbus-1/',
  '.local/share/applications/',
  '.local/share/gnome-shell/extensions/',
  '.config/plasma-workspace/',
  '.config/i3/',
  '.i3/',
  '.config/sway/',
  '.config/openbox/',
  '.config/user-dirs.dirs',
  // Directories in the default PATH before /usr/bin (Debian's .profile adds ~/bin and
  // ~/.local/bin, systemd's user PATH ~/.local/bin), and where cargo and npm install commands.
  '.local/bin/',
  'bin/',
  '.cargo/bin/',
  '.npm-global/',
  // Python runs them at every start: .pth files and usercustomize in the user site
  // (~/.local/lib/pythonX.Y/site-packages), $PYTHONSTARTUP's usual names, IPython's startup/.
  '.local/lib/python*/',
  '.pythonrc',
  '.pythonrc.py',
  '.ipython/',
  // Tools that run commands from their configuration: git (hooks path, aliases, pager, its
  // config dir), Mercurial (hooks), cargo (rustc-wrapper, runners), yarn (yarnPath), pip (the
  // index: what the next install runs), direnv (direnvrc), less (the .lessfilter
  // preprocessor), mailcap (viewers), the docker CLI (plugins).
  '.gitconfig',
  '.config/git/',
  '.hgrc',
  '.config/hg/',
  '.cargo/config',
  '.cargo/config.toml',
  '.yarnrc',
  '.yarnrc.yml',
  // npm: the registry (where the next install fetches code), node-options (--require runs a
  // file in every node npm starts), script-shell, prefix (where global commands go).
  // SAFETY (accepted): readable by the program, not hidden as a secret though it may hold a
  // registry token (_authToken): hidden, npm silently fell back to the public registry — a
  // private package name then resolves there (dependency confusion) — and dropped every
  // setting. The token is readable; the user profile's network is loopback only.
  // `-m deny/read+~/.npmrc -m deny/stat+~/.npmrc` (expanded) hides it again.
  '.npmrc',
  '.config/pip/',
  '.pip/',
  '.config/direnv/',
  '.direnvrc',
  '.lessfilter',
  '.mailcap',
  '.docker/cli-plugins/',
  // Editors, debuggers and terminal multiplexers run their start-up scripts and plugins:
  // vim, neovim (config and plugin dirs), emacs, gdb, tmux, screen.
  '.vimrc',
  '.gvimrc',
  '.exrc',
  '.vim/',
  '.config/nvim/',
  '.local/share/nvim/',
  '.emacs',
  '.emacs.el',
  '.emacs.d/',
  '.config/emacs/',
  '.gdbinit',
  '.gdbearlyinit',
  '.config/gdb/',
  '.tmux.conf',
  '.config/tmux/',
  '.screenrc',
  // REPLs and database shells run their rc files: psql (\! runs shell commands), irb, sqlite (.shell).
  '.psqlrc',
  '.irbrc',
  '.sqliterc',
];

/**
 * Agent sockets in a temp dir (/tmp, $TMPDIR) as `[glob, caps]`: `all`
 * means connect, bind, write, create and delete are denied (the program can neither reach the
 * agent nor put its own socket where the user's tools will look for it); `connect` only
 * connect and bind (neovim keeps its temp files in the same directory).
 */
const TEMP_AGENTS: Array<[string, 'all' | 'connect']> = [
  // OpenSSH's ssh-agent ($TMPDIR/ssh-XXXXXXXXXX/agent.PID): signs as the user.
  ['ssh-*/***', 'all'],
  // gpg-agent's fallback socket dir: signs and decrypts as the user.
  ['gpg-*/***', 'all'],
  // tmux's server (tmux-UID/default): send-keys and run-shell run commands in the user's panes.
  ['tmux-*/***', 'all'],
  // emacs's server (emacsUID/server): emacsclient evaluates any code in the user's emacs.
  ['emacs*/***', 'all'],
  // VS Code's IPC, git credential and forwarded ssh-agent sockets (vscode-ipc-*.sock, ...).
  ['vscode-*', 'all'],
  // neovim's RPC server (nvim.USER/…/nvim.PID.0, older nvimXXXXXX/0): runs any command.
  ['nvim*/***', 'connect'],
];
/** Only in /tmp: the X server (keystrokes, screen contents) and the session manager (ICE). */
const TMP_AGENTS = ['/tmp/.X11-unix/***', '/tmp/.ICE-unix/***'];
/**
 * Sockets in $XDG_RUNTIME_DIR that act for the user (the runtime dir is not reachable under
 * the user profile, unless $TMPDIR or the cwd is in it): ssh and gpg agents (GNOME keyring,
 * gcr, systemd's ssh-agent unit), the session bus and the user's systemd (they start
 * programs outside), accessibility (reads every window and key), audio and screen capture,
 * the compositor, rootless podman and docker, editor servers.
 */
const RUNTIME_AGENTS = [
  'ssh-agent.socket',
  'openssh_agent',
  'keyring/***',
  'gcr/***',
  'gnupg/***',
  'bus',
  'systemd/***',
  'at-spi/***',
  'pulse/***',
  'pipewire-*',
  'wayland-*',
  'podman/***',
  'docker.sock',
  'emacs/***',
  'tmux-*/***',
  'nvim.*',
  'vscode-*',
];

const tree = (glob: string) => (glob.endsWith('/') ? `${glob.slice(0, -1)}/***` : glob);
const within = (p: string, dir: string) => p === dir || p.startsWith(dir === '/' ? '/' : `${dir}/`);

/** Where a profile's protected places are looked for: the program's home and the others'. */
export interface HomesContext {
  /** $HOME: canonical and absolute. */
  home: string;
  /** Other homes (of /etc/passwd): canonical, existing. See passwdHomes(). */
  homes?: string[];
  /** The program's working directory (canonical): a home there is protected in full. */
  cwd?: string;
  /** $TMPDIR when it is not /tmp (canonical): likewise. */
  tmp?: string;
}

/**
 * The home globs (literal where known, `/home/*`), the homes of /etc/passwd protected by what
 * they hold (`sparse`), and the existing canonical home directories (for symlinks).
 */
interface HomeSet {
  globs: string[];
  sparse: string[];
  dirs: string[];
}

function real(p: string): string | null {
  try {
    return realpath(p);
  } catch {
    return null;
  }
}

/**
 * Homes whose files a program may reach: its own, root's, every user's under /home, and the
 * homes of /etc/passwd elsewhere (`ctx.homes`: postgres's /var/lib/postgresql).
 * SAFETY (cheap): a home of /etc/passwd outside /home and /root, with no writable directory of
 * the profile (the cwd, the temp dirs) in or around it, is protected by what it holds when
 * tsyd starts (one readdir): the program cannot create anything there; what the account
 * itself creates while the program runs is not covered.
 */
function homeSet(ctx: HomesContext, users: string[] | undefined): HomeSet {
  const out = ['/root', ...(users === undefined ? ['/home/*'] : users.map((u) => `/home/${globLiteral(u)}`))];
  const covered = (h: string) => out.some((g) => globMatcher(g)(h));
  if (ctx.home !== '/' && !covered(ctx.home)) out.push(globLiteral(ctx.home));
  // SAFETY: decisions are made on canonical paths: where /root, /home or a home under it is a
  // symlink (Fedora Silverblue: /home → /var/home), the secrets must be named where they really are.
  for (const h of canonicalHomes(users)) if (!out.includes(h)) out.push(h);
  const scratch = ['/tmp', '/var/tmp', '/dev/shm', ...(ctx.tmp !== undefined ? [ctx.tmp] : []), ...(ctx.cwd !== undefined && ctx.cwd !== '/' ? [ctx.cwd] : [])];
  const sparse: string[] = [];
  for (const h of ctx.homes ?? []) {
    if (h === '/' || covered(h)) continue;
    if (scratch.some((d) => within(h, d) || within(d, h))) out.push(globLiteral(h));
    else sparse.push(h);
  }
  const dirs = new Set<string>();
  for (const d of [ctx.home, '/root', ...homeNames(users).map((u) => `/home/${u}`), ...(ctx.homes ?? [])]) {
    const r = real(d);
    if (r !== null && r !== '/') dirs.add(r);
  }
  return { globs: out, sparse, dirs: [...dirs] };
}

/** The names in `dir` (none when it cannot be listed). */
function namesIn(dir: string): Set<string> {
  return listing(dir) ?? new Set();
}

/** The names in `dir`; undefined when it cannot be listed. */
function listing(dir: string): Set<string> | undefined {
  try {
    return new Set(readdir(dir));
  } catch {
    return undefined;
  }
}

/** `entries` under every home of `set`: in full, or (sparse homes) those whose first name exists. */
function underHomes(set: HomeSet, entries: string[]): string[] {
  const out = set.globs.flatMap((h) => entries.map((s) => tree(`${h}/${s}`)));
  for (const h of set.sparse) {
    const names = namesIn(h);
    for (const s of entries) if (names.has(s.split('/')[0]!)) out.push(tree(`${globLiteral(h)}/${s}`));
  }
  return out;
}

function homeNames(users: string[] | undefined): string[] {
  if (users !== undefined) return users;
  try {
    return readdir('/home');
  } catch {
    return [];
  }
}

/** The canonical forms of /root, /home/* (and of each home) where they differ from the literal. */
function canonicalHomes(users: string[] | undefined): string[] {
  const out: string[] = [];
  const root = real('/root');
  if (root !== null && root !== '/root' && root !== '/') out.push(globLiteral(root));
  const home = real('/home');
  if (home !== null && home !== '/home' && home !== '/') out.push(users === undefined ? `${globLiteral(home)}/*` : '');
  for (const u of homeNames(users)) {
    const r = real(`/home/${u}`);
    if (r !== null && r !== '/' && !r.startsWith('/home/') && (home === null || !r.startsWith(`${home}/`))) out.push(globLiteral(r));
    else if (r !== null && users !== undefined && home !== null && home !== '/home' && r.startsWith(`${home}/`)) out.push(globLiteral(r));
  }
  return out.filter((h) => h !== '');
}

/** System directories: a home there (daemon's /usr/sbin, sys's /dev) is no user's home. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/dev', '/proc', '/sys', '/etc', '/boot'];

/**
 * The homes of /etc/passwd (every account's, service accounts too: postgres at
 * /var/lib/postgresql), canonical, that exist and are not `/` or a system directory. Cheap:
 * one read and a realpath per account. (Accounts of NSS sources other than the file, LDAP
 * and the like, are not listed.)
 */
export function passwdHomes(file = '/etc/passwd'): string[] {
  let text: string;
  try {
    text = readFile(file).toString('utf8');
  } catch {
    return [];
  }
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const dir = line.split(':')[5];
    if (dir === undefined || !dir.startsWith('/')) continue;
    const r = real(dir);
    if (r === null || r === '/' || SYSTEM_DIRS.some((s) => within(r, s))) continue;
    out.add(r);
  }
  return [...out];
}

const WILD = /[*?[]/;

/**
 * The canonical places of `entries` (HOME_SECRETS-style: `/` at the end for a tree) under each
 * home directory of `dirs` where a symlink leads them elsewhere (dotfile managers: ~/.ssh →
 * dotfiles/ssh, ~/.bashrc → dotfiles/bashrc, ~/.config → dotfiles/config), as globs. A dangling
 * link counts (its target could be created). A wildcard component is expanded over what
 * exists (~/.local/lib/python3.12 → elsewhere). SAFETY: rules match canonical paths only; a
 * secret reached through a link is protected where it really is.
 */
function linkedGlobs(dirs: string[], entries: string[]): string[] {
  const cache = new Map<string, Stats | undefined>();
  const lstat = (p: string): Stats | undefined => {
    if (!cache.has(p)) cache.set(p, lstatOrUndefined(p));
    return cache.get(p);
  };
  const out = new Set<string>();
  const add = (resolved: string, rest: string, isTree: boolean) => {
    // A link to `/` cannot be protected without denying everything: left as it is.
    if (resolved === '/') return;
    out.add(tree(`${globLiteral(resolved)}${rest}${isTree ? '/' : ''}`));
  };
  for (const dir of dirs) {
    // Cheap: most homes hold few of the names; one readdir of the home (an lstat per name where
    // it cannot be listed but can be searched), deeper only if the name exists.
    const names = listing(dir);
    const exists = (name: string) => (names !== undefined ? names.has(name) : lstat(`${dir}/${name}`) !== undefined);
    for (const entry of entries) {
      const isTree = entry.endsWith('/');
      const parts = (isTree ? entry.slice(0, -1) : entry).split('/');
      const w = parts.findIndex((p) => WILD.test(p));
      const lit = w < 0 ? parts : parts.slice(0, w);
      if (lit.length === 0) continue;
      const literal = `${dir}/${lit.join('/')}`;
      if (!exists(lit[0]!)) continue;
      const resolved = resolveLoose(literal, lstat);
      if (resolved === null) continue;
      const rest = w < 0 ? '' : `/${parts.slice(w).join('/')}`;
      if (resolved !== literal) add(resolved, rest, isTree);
      if (w < 0) continue;
      // One wildcard component: each existing name it matches, resolved on its own.
      let names: string[];
      try {
        names = readdir(resolved);
      } catch {
        continue;
      }
      const match = globMatcher(parts[w]!);
      const after = parts.slice(w + 1).join('/');
      for (const name of names) {
        if (!match(name)) continue;
        const child = `${resolved}/${name}`;
        const r = resolveLoose(child, lstat);
        if (r !== null && r !== child) add(r, after === '' ? '' : `/${after}`, isTree);
      }
    }
  }
  return [...out];
}

/**
 * The secret globs for a program whose $HOME is `ctx.home`: its own, root's, every user's
 * under /home and of `ctx.homes` (a program running as root can read them all), their
 * symlinked places, and the system's. `users`: the names under /home when the globs must be
 * literal up to the secret (for secretRoots); default `*`.
 */
export function secretGlobs(ctx: HomesContext, users?: string[]): string[] {
  const set = homeSet(ctx, users);
  const out = underHomes(set, HOME_SECRETS);
  for (const s of SYSTEM_SECRETS) out.push(tree(s));
  for (const g of linkedGlobs(set.dirs, HOME_SECRETS)) if (!out.includes(g)) out.push(g);
  return out;
}

/** The start-up file globs for the homes of secretGlobs, and their symlinked places. */
export function startupGlobs(ctx: HomesContext, users?: string[]): string[] {
  const set = homeSet(ctx, users);
  const out = underHomes(set, HOME_STARTUP);
  for (const g of linkedGlobs(set.dirs, HOME_STARTUP)) if (!out.includes(g)) out.push(g);
  return out;
}

/** What agentGlobs needs to know of the program's environment. */
export interface AgentContext {
  /** $TMPDIR when it is not /tmp (canonical). */
  tmp?: string;
  /** Agent sockets named by the environment ($SSH_AUTH_SOCK, $TMUX's, ...): canonical. */
  agents?: string[];
  /** $XDG_RUNTIME_DIR, canonical. */
  runtime?: string;
}

/** An agent socket glob and what is denied there. */
export interface AgentGlob {
  glob: string;
  /** connect, bind, write, create and delete (`all`), or connect and bind only. */
  caps: 'all' | 'connect';
}

/**
 * The agent sockets of the temp dirs, of the runtime dir and of the environment. SAFETY: the
 * user profile lets a program connect, bind and write in the temp dirs; an agent there acts
 * for the user, and a socket the program puts in an agent's place (after unlinking the real
 * one) would be what the user's own `ssh-add` or `tmux attach` talks to later.
 */
export function agentGlobs(ctx: AgentContext): AgentGlob[] {
  const out: AgentGlob[] = [];
  // Agents make their sockets in $TMPDIR or /tmp (not in /var/tmp or /dev/shm).
  const temps = ['/tmp'];
  if (ctx.tmp !== undefined && ctx.tmp !== '/' && ctx.tmp !== '/tmp') temps.push(ctx.tmp);
  for (const t of temps) for (const [g, caps] of TEMP_AGENTS) out.push({ glob: `${globLiteral(t)}/${g}`, caps });
  for (const g of TMP_AGENTS) out.push({ glob: g, caps: 'all' });
  const runtimes = ['/run/user/*'];
  if (ctx.runtime !== undefined && ctx.runtime !== '/' && !globMatcher('/run/user/*')(ctx.runtime)) runtimes.push(globLiteral(ctx.runtime));
  for (const r of runtimes) for (const g of RUNTIME_AGENTS) out.push({ glob: `${r}/${g}`, caps: 'all' });
  for (const a of ctx.agents ?? []) if (a.startsWith('/') && a !== '/') out.push({ glob: globLiteral(a), caps: 'all' });
  return out;
}

/**
 * The literal directories (unescaped) at or above which a rule would cover a secret: for each
 * secret glob, its literal part up to the first wildcard, cut back to a whole component.
 */
export function secretRoots(globs: string[]): string[] {
  const roots = new Set<string>();
  for (const g of globs) {
    const body = g.endsWith('/***') ? g.slice(0, -4) : g;
    let lit = '';
    let wild = false;
    for (let i = 0; i < body.length && !wild; i++) {
      const c = body[i]!;
      if (c === '\\') lit += body[++i] ?? '';
      else if (c === '*' || c === '?' || c === '[') wild = true;
      else lit += c;
    }
    roots.add(wild ? lit.slice(0, lit.lastIndexOf('/')) || '/' : lit);
  }
  return [...roots];
}
