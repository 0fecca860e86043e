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
 * Files that run code outside the sandbox later (shell start-up files, autostart, user
 * services, git's config with its hooks path): readable, never changed by a sandboxed program.
 */
const HOME_STARTUP = [
  '.bashrc',
  '.bash_profile',
  '.bash_login',
  '.bash_logout',
  '.profile',
  '.zshrc',
  '.zshenv',
  '.zprofile',
  '.zlogin',
  '.xprofile',
  '.xinitrc',
  '.xsession',
  '.pam_environment',
  '.gitconfig',
  '.config/git/',
  '.config/fish/',
  '.config/autostart/',
  '.config/systemd/',
  '.config/environment.d/',
  '.local/share/systemd/',
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
