// Secrets: files and trees that hold credentials. The user profile denies them for every
// capability (even under the cwd); `tsyd learn` never widens a rule over one of them.
import { readdirSync, realpathSync } from 'node:fs';
import { globLiteral } from './glob-literal.js';

/** Under a home directory: `/` at the end marks a tree (the directory and everything below). */
const HOME_SECRETS = [
  '.ssh/',
  '.gnupg/',
  '.aws/',
  '.azure/',
  '.kube/',
  '.config/gcloud/',
  '.config/gh/',
  '.config/hub',
  '.docker/config.json',
  '.netrc',
  '.git-credentials',
  '.password-store/',
  '.local/share/keyrings/',
  '.pgpass',
  '.my.cnf',
  '.npmrc',
  '.pypirc',
  '.cargo/credentials',
  '.cargo/credentials.toml',
  '.gem/credentials',
  '.vault-token',
  '.terraform.d/credentials.tfrc.json',
  '.mozilla/',
  '.config/google-chrome/',
  '.config/chromium/',
  '.thunderbird/',
  // Shell and REPL histories hold pasted tokens and passwords.
  '.bash_history',
  '.zsh_history',
  '.python_history',
  '.psql_history',
  '.mysql_history',
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
  '/run/secrets/',
  '/var/run/secrets/',
  '/var/lib/sss/secrets/',
];

const tree = (glob: string) => (glob.endsWith('/') ? `${glob.slice(0, -1)}/***` : glob);

/** Homes whose files a program may reach: its own, root's and every user's under /home. */
function homes(home: string, users: string[] | undefined): string[] {
  const out = ['/root', ...(users === undefined ? ['/home/*'] : users.map((u) => `/home/${globLiteral(u)}`))];
  const covered = home === '/' || home === '/root' || /^\/home\/[^/]+$/.test(home);
  if (!covered) out.push(globLiteral(home));
  // SAFETY: decisions are made on canonical paths: where /root, /home or a home under it is a
  // symlink (Fedora Silverblue: /home → /var/home), the secrets must be named where they really are.
  for (const h of canonicalHomes(users)) if (!out.includes(h)) out.push(h);
  return out;
}

/** The canonical forms of /root, /home/* (and of each home) where they differ from the literal. */
function canonicalHomes(users: string[] | undefined): string[] {
  const real = (p: string): string | null => {
    try {
      return realpathSync(p);
    } catch {
      return null;
    }
  };
  const out: string[] = [];
  const root = real('/root');
  if (root !== null && root !== '/root' && root !== '/') out.push(globLiteral(root));
  const home = real('/home');
  if (home !== null && home !== '/home' && home !== '/') out.push(users === undefined ? `${globLiteral(home)}/*` : '');
  let names: string[] = users ?? [];
  if (users === undefined) {
    try {
      names = readdirSync('/home');
    } catch {
      names = [];
    }
  }
  for (const u of names) {
    const r = real(`/home/${u}`);
    if (r !== null && r !== '/' && !r.startsWith('/home/') && (home === null || !r.startsWith(`${home}/`))) out.push(globLiteral(r));
    else if (r !== null && users !== undefined && home !== null && home !== '/home' && r.startsWith(`${home}/`)) out.push(globLiteral(r));
  }
  return out.filter((h) => h !== '');
}

/**
 * The secret globs for a program whose $HOME is `home`: its own, root's and every user's
 * under /home (a program running as root can read them all). `users`: the names under /home
 * when the globs must be literal up to the secret (for secretRoots); default `*`.
 */
export function secretGlobs(home: string, users?: string[]): string[] {
  const out: string[] = [];
  for (const h of homes(home, users)) for (const s of HOME_SECRETS) out.push(tree(`${h}/${s}`));
  for (const s of SYSTEM_SECRETS) out.push(tree(s));
  return out;
}

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

/** The start-up file globs for the homes of secretGlobs. */
export function startupGlobs(home: string): string[] {
  return homes(home, undefined).flatMap((h) => HOME_STARTUP.map((s) => tree(`${h}/${s}`)));
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
