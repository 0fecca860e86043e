// The user profile, as built at start-up (patterns checked once, glob tables made on first
// match, one readdir per home), decides every path as the plain reading of its rules: the last
// matching rule wins, each glob matched by its RegExp (compileGlob), no index, no cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { buildPolicy } from '../../src/sandbox/build.js';
import { compileGlob } from '../../src/sandbox/glob.js';
import type { Capability } from '../../src/sandbox/capabilities.js';
import { tempTree } from '../helpers/tmp.js';

const PATH_CAPS: Capability[] = ['read', 'write', 'create', 'delete', 'stat', 'exec'];

/** The decision of `lines` (Policy.normalized()) on `path`: the last matching rule, else deny. */
function plainDecision(lines: string[], cap: Capability, path: string): boolean {
  const prefix = `/${cap}+`;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const action = line.startsWith('allow/') ? 'allow' : line.startsWith('deny/') ? 'deny' : undefined;
    if (action === undefined || !line.startsWith(prefix, action.length)) continue;
    if (compileGlob(line.slice(action.length + prefix.length)).test(path)) return action === 'allow';
  }
  return false;
}

/** Every path under `dir` (symlinks not followed), and `dir` itself. */
function walk(dir: string): string[] {
  const out = [dir];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

test('user profile: every path of a home with dotfile symlinks is decided as its rules read plainly', () => {
  const home = tempTree('decisions-home', {
    'dotfiles/ssh/id_ed25519': 'KEY', 'dotfiles/netrc': '', 'dotfiles/bashrc': '', 'dotfiles/config/git/config': '',
    'dotfiles/config/gh/hosts.yml': '', 'dotfiles/py/site-packages/x.pth': '', 'proj/src/main.c': '', 'proj/.ssh/known_hosts': '',
    '.aws/credentials': '', '.cache/pip/x': '', '.npm/_logs/1.log': '', '.local/bin/tool': '', 'notes.txt': '',
  });
  symlinkSync('dotfiles/ssh', `${home}/.ssh`);
  symlinkSync(`${home}/dotfiles/netrc`, `${home}/.netrc`);
  symlinkSync('dotfiles/bashrc', `${home}/.bashrc`);
  symlinkSync('dotfiles/config', `${home}/.config`);
  symlinkSync('dotfiles/aliases', `${home}/.bash_aliases`); // dangling
  mkdirSync(`${home}/.local/lib`, { recursive: true });
  symlinkSync('../../dotfiles/py', `${home}/.local/lib/python3.12`);
  const names = ['.ssh/id_rsa', '.gnupg/x', '.bashrc', '.zshrc', '.profile', '.local/bin/x', '.config/fish/config.fish', 'x'];
  const paths = walk(home).flatMap((p) => [p, ...names.map((n) => `${p}/${n}`)]);
  // Globs with wildcards (other homes, agent sockets, keys, own fds) beside literal ones.
  paths.push('/etc/shadow', '/etc/passwd', '/tmp/x', '/root/.ssh/id_rsa', '/home/bob/.bashrc', '/home/bob/.ssh/id_rsa', '/usr/bin/env');
  paths.push('/tmp/ssh-XXXX/agent.1', '/tmp/nvim.me/0', '/run/user/1000/bus', '/etc/ssh/ssh_host_rsa_key', '/proc/12/fd/3', '/dev/pts/3');
  for (const cwd of [`${home}/proj`, home, '/']) {
    const policy = buildPolicy([{ profile: 'user' }], { cwd, home, path: [`${home}/.local/bin`, '/usr/bin'] });
    const lines = policy.normalized();
    assert.ok(lines.length > 1000, 'the whole user profile');
    for (const cap of PATH_CAPS) {
      for (const p of paths) assert.is(policy.check(cap, p), plainDecision(lines, cap, p), `${cap} ${p} (cwd ${cwd})`);
    }
  }
});

test.run();
