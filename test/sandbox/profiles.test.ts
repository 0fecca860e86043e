// Profile contents, decided through Policy.check/checkAddress: what user, paranoid and off allow.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import { toBytes } from '../../src/sandbox/bytes.js';
import { buildPolicy, policyStatements } from '../../src/sandbox/build.js';
import { CAPABILITIES, type Capability } from '../../src/sandbox/capabilities.js';
import { profileStatements, PROFILES, type ProfileContext } from '../../src/sandbox/profiles.js';
import { passwdHomes } from '../../src/sandbox/secrets.js';
import { profileContext } from '../../src/sandbox/build.js';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';

const ctx: ProfileContext = { cwd: '/home/alice/proj', home: '/home/alice', program: '/usr/bin/true' };
const user = buildPolicy([{ profile: 'user' }], ctx);
const paranoid = buildPolicy([{ profile: 'paranoid' }], ctx);
const off = buildPolicy([{ profile: 'off' }], ctx);
const ip4 = (...b: number[]) => Uint8Array.from(b);
const ip6 = (...tail: number[]) => Uint8Array.from([...new Array<number>(16 - tail.length).fill(0), ...tail]);
const PATH_CAPS: Capability[] = ['read', 'write', 'create', 'delete', 'stat', 'exec'];

test('every profile turns every capability on (each access is decided)', () => {
  for (const p of [user, paranoid, off]) for (const cap of CAPABILITIES) assert.ok(p.isOn(cap), cap);
});

test('user: secrets denied for every path capability, even inside the cwd and for other users', () => {
  const secrets = [
    '/home/alice/.ssh/id_ed25519',
    '/home/alice/.ssh',
    '/home/alice/.aws/credentials',
    '/home/alice/.gnupg/private-keys-v1.d/x.key',
    '/home/alice/.config/gcloud/credentials.db',
    '/home/alice/.docker/config.json',
    '/home/alice/.netrc',
    '/home/alice/.git-credentials',
    '/home/alice/.kube/config',
    '/home/bob/.ssh/id_rsa',
    '/root/.ssh/authorized_keys',
    '/etc/shadow',
    '/etc/gshadow',
    '/etc/sudoers',
    '/etc/sudoers.d/90-users',
    '/etc/ssh/ssh_host_ed25519_key',
    '/var/run/secrets/kubernetes.io/serviceaccount/token',
  ];
  for (const s of secrets) for (const cap of PATH_CAPS) assert.not.ok(user.check(cap, s), `${cap} ${s}`);
});

test('user: a secret-named path under the cwd of a home outside /home is denied too', () => {
  const p = buildPolicy([{ profile: 'user' }], { cwd: '/srv/me/.ssh', home: '/srv/me' });
  assert.not.ok(p.check('write', '/srv/me/.ssh/id_rsa'), 'the cwd rule comes before the secrets');
  assert.not.ok(p.check('read', '/srv/me/.aws/config'));
  assert.ok(p.check('read', '/srv/me/notes.txt'));
});

test('user: read and stat anywhere else; public files of the ssh config are readable', () => {
  for (const f of ['/etc/passwd', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/home/alice/.bashrc', '/etc/ssh/ssh_config', '/etc/ssh/ssh_host_ed25519_key.pub']) {
    assert.ok(user.check('read', f), f);
    assert.ok(user.check('stat', f), f);
  }
});

test('user: write, create, delete in the cwd and temp dirs; not outside; std streams and /dev nodes writable', () => {
  for (const f of ['/home/alice/proj/a.o', '/home/alice/proj', '/tmp/ccAB12.s', '/var/tmp/x', '/dev/shm/sem.x']) {
    for (const cap of ['write', 'create', 'delete'] as const) assert.ok(user.check(cap, f), `${cap} ${f}`);
  }
  for (const f of ['/home/alice/.bashrc', '/home/alice/other/x', '/etc/passwd', '/usr/bin/ls', '/home/alice/proj-other/x']) {
    for (const cap of ['write', 'create', 'delete'] as const) assert.not.ok(user.check(cap, f), `${cap} ${f}`);
  }
  for (const f of ['/dev/null', '/dev/tty', '/dev/pts/3', '/proc/4242/fd/1', '/proc/4242/task/4243/fd/2']) assert.ok(user.check('write', f), f);
  assert.not.ok(user.check('write', '/dev/sda'));
  assert.not.ok(user.check('write', '/proc/sys/kernel/core_pattern'));
});

test('user: exec of system programs and of the cwd, not of other places', () => {
  for (const f of ['/usr/bin/git', '/bin/sh', '/usr/local/bin/node', '/opt/tool/bin/x', '/home/alice/proj/build/a.out']) assert.ok(user.check('exec', f), f);
  for (const f of ['/home/alice/bin/x', '/home/alice/.local/bin/pip', '/srv/x']) assert.not.ok(user.check('exec', f), f);
});

test('user: the trees of $PATH are executable ($HOME ones by their top directory), not $HOME itself', () => {
  const p = buildPolicy([{ profile: 'user' }], { ...ctx, path: ['/home/alice/.pyenv/shims', '/home/alice', '/usr/local/bin', '/nix/bin', '/'] });
  assert.ok(p.check('exec', '/home/alice/.pyenv/versions/3.12/bin/python3'));
  assert.ok(p.check('exec', '/nix/bin/hello'));
  assert.not.ok(p.check('exec', '/home/alice/Downloads/x'));
  assert.not.ok(p.check('exec', '/srv/x'));
  assert.not.ok(p.check('write', '/home/alice/.pyenv/shims/python3'), 'executable, not writable');
  assert.is(p.normalized().filter((l) => l === 'allow/exec+/usr/local/bin/***').length, 0, 'under /usr/***');
});

test('user: loopback connect and bind only; local UNIX sockets; agents and system sockets denied', () => {
  for (const cap of ['net/connect', 'net/bind'] as const) {
    assert.ok(user.checkAddress(cap, 4, ip4(127, 0, 0, 1), 8080), cap);
    assert.ok(user.checkAddress(cap, 4, ip4(127, 0, 0, 53), 53), cap);
    assert.ok(user.checkAddress(cap, 6, ip6(1), 443), cap);
    assert.not.ok(user.checkAddress(cap, 4, ip4(93, 184, 216, 34), 443), cap);
    assert.not.ok(user.checkAddress(cap, 4, ip4(0, 0, 0, 0), 80), cap);
    assert.not.ok(user.checkAddress(cap, 6, ip6(0x20, 0x01), 443), cap);
  }
  assert.ok(user.check('net/connect', '/tmp/app.sock'));
  assert.ok(user.check('net/connect', '/home/alice/proj/.sock'));
  assert.ok(user.check('net/connect', '/run/nscd/socket'));
  for (const s of ['/run/docker.sock', '/run/dbus/system_bus_socket', '/tmp/ssh-XXXX/agent.12', '/tmp/.X11-unix/X0', '/run/user/1000/gnupg/S.gpg-agent', '/home/alice/.gnupg/S.gpg-agent', '@/tmp/.X11-unix/X0']) {
    assert.not.ok(user.check('net/connect', s), s);
  }
});

test('user started in $HOME: files there writable, but not the start-up files that run code later', () => {
  const p = buildPolicy([{ profile: 'user' }], { cwd: '/home/alice', home: '/home/alice' });
  assert.ok(p.check('write', '/home/alice/notes.txt'));
  assert.ok(p.check('create', '/home/alice/src/new.c'));
  for (const f of ['/home/alice/.bashrc', '/home/alice/.profile', '/home/alice/.gitconfig', '/home/alice/.config/autostart/x.desktop', '/home/alice/.config/systemd/user/evil.service']) {
    for (const cap of ['write', 'create', 'delete'] as const) assert.not.ok(p.check(cap, f), `${cap} ${f}`);
    assert.ok(p.check('read', f), f);
  }
});

const CHANGES = ['write', 'create', 'delete'] as const;

test('user started in $HOME: every start-up place of the review is never written, created or deleted, and stays readable', () => {
  const p = buildPolicy([{ profile: 'user' }], { cwd: '/home/alice', home: '/home/alice' });
  const startup = [
    '.bash_aliases', '.bash_functions', '.bashrc.d/10-x.sh', '.inputrc', '.zlogout', '.local/bin/ls', '.local/bin', 'bin/ls',
    '.local/lib/python3.12/site-packages/zz.pth', '.local/lib/python3.12/site-packages/usercustomize.py', '.local/share/applications/firefox.desktop',
    '.config/autostart/x.desktop', '.local/share/dbus-1/services/org.x.service', '.vimrc', '.vim/plugin/x.vim', '.config/nvim/init.lua',
    '.local/share/nvim/site/plugin/x.lua', '.emacs', '.emacs.d/init.el', '.gdbinit', '.config/gdb/gdbinit', '.tmux.conf', '.config/tmux/tmux.conf',
    '.screenrc', '.hgrc', '.config/hg/hgrc', '.cargo/config', '.cargo/config.toml', '.cargo/bin/cargo', '.cargo/env', '.npm-global/bin/x', '.xsessionrc',
    '.psqlrc', '.irbrc', '.pythonrc', '.pythonrc.py', '.config/direnv/direnvrc', '.local/share/systemd/user/x.service', '.config/systemd/user/x.service',
    '.nvm/nvm.sh', '.ipython/profile_default/startup/x.py', '.docker/cli-plugins/docker-x', '.config/user-dirs.dirs', '.yarnrc.yml', '.config/pip/pip.conf',
  ];
  for (const f of startup.map((x) => `/home/alice/${x}`)) {
    for (const cap of CHANGES) assert.not.ok(p.check(cap, f), `${cap} ${f}`);
    assert.ok(p.check('read', f), `read ${f}`);
  }
  // The rest of the home stays the project's.
  for (const f of ['/home/alice/notes.txt', '/home/alice/.local/share/app/data.db', '/home/alice/.local/lib/libx.so', '/home/alice/binaries/x', '/home/alice/.cache/x']) {
    for (const cap of CHANGES) assert.ok(p.check(cap, f), `${cap} ${f}`);
  }
});

test('user: $PATH trees under $HOME are never written from $HOME; a tree that holds the cwd stays the project', () => {
  const path = ['/home/alice/.pyenv/shims', '/home/alice/src/tool/target/release', '/usr/bin'];
  const fromHome = buildPolicy([{ profile: 'user' }], { cwd: '/home/alice', home: '/home/alice', path });
  for (const f of ['/home/alice/.pyenv/versions/3.12/bin/python3', '/home/alice/.pyenv/shims/python3', '/home/alice/src/tool/target/release/tool']) {
    for (const cap of CHANGES) assert.not.ok(fromHome.check(cap, f), `${cap} ${f}`);
  }
  const inTool = buildPolicy([{ profile: 'user' }], { cwd: '/home/alice/src/tool', home: '/home/alice', path });
  assert.ok(inTool.check('write', '/home/alice/src/tool/target/release/tool'), 'the build writes its own output');
  assert.not.ok(inTool.check('write', '/home/alice/.pyenv/shims/python3'));
});

test('user: the secrets of the review are denied (git credential store, maven, podman, fish history, X cookie)', () => {
  const secrets = [
    '/home/alice/.config/git/credentials', '/home/alice/.m2/settings.xml', '/home/alice/.config/containers/auth.json',
    '/home/alice/.local/share/fish/fish_history', '/home/alice/.Xauthority', '/home/alice/.1password/agent.sock', '/home/alice/.emacs.d/server/server',
    '/run/user/1000/containers/auth.json', '/etc/wireguard/wg0.conf', '/root/.node_repl_history',
  ];
  const inHome = buildPolicy([{ profile: 'user' }], { cwd: '/home/alice', home: '/home/alice' });
  for (const s of secrets) for (const cap of PATH_CAPS) for (const p of [user, inHome]) assert.not.ok(p.check(cap, s), `${cap} ${s}`);
  assert.ok(user.check('read', '/home/alice/.config/git/config'), 'git config readable');
  assert.ok(user.check('read', '/home/alice/.m2/repository/x.jar'), 'the maven repository readable');
});

test('user: homes of /etc/passwd outside /home are covered (what they hold; in full when in a writable dir)', () => {
  const passwd = tempTree('passwd', { passwd: '' });
  const svc = tempTree('svc-home', { '.pgpass': '*:*:*:postgres:pw', '.bashrc': '' });
  writeFileSync(`${passwd}/passwd`, [
    'root:x:0:0:root:/root:/bin/bash', 'daemon:x:1:1::/usr/sbin:/usr/sbin/nologin', 'sys:x:3:3::/dev:/bin/false',
    'nobody:x:65534:65534::/nonexistent:/bin/false', `postgres:x:110:110::${svc}:/bin/bash`, 'broken line', 'x:x:1:1::relative:/bin/sh', 'top:x:2:2::/:/bin/sh',
  ].join('\n'));
  assert.equal(passwdHomes(`${passwd}/passwd`), ['/root', svc], 'existing, canonical, no system directory, no /');
  const p = buildPolicy([{ profile: 'user' }], { ...ctx, homes: [svc] });
  for (const cap of PATH_CAPS) assert.not.ok(p.check(cap, `${svc}/.pgpass`), cap);
  assert.not.ok(p.check('write', `${svc}/.bashrc`));
  assert.not.ok(p.check('read', `${svc}/.ssh/id_rsa`), 'in a temp dir: every secret name, existing or not');
  assert.ok(p.check('read', `${svc}/data`));
  assert.ok(user.check('read', `${svc}/.pgpass`), 'without the passwd homes it was readable');
  // The context lists them by default (from the real /etc/passwd: at least root's home).
  assert.ok((profileContext({ cwd: '/' }).homes ?? []).includes('/root'));
});

test('user: secrets and start-up files that are symlinks (dotfile managers) are denied where they lead', () => {
  const home = tempTree('dotfiles-home', {
    'dotfiles/ssh/id_ed25519': 'KEY', 'dotfiles/netrc': 'machine x password y', 'dotfiles/bashrc': '# rc', 'dotfiles/config/git/config': '',
    'dotfiles/py/site-packages/.keep': '', 'dotfiles/README': '',
  });
  symlinkSync('dotfiles/ssh', `${home}/.ssh`);
  symlinkSync(`${home}/dotfiles/netrc`, `${home}/.netrc`);
  symlinkSync('dotfiles/bashrc', `${home}/.bashrc`);
  symlinkSync('dotfiles/config', `${home}/.config`);
  symlinkSync('dotfiles/aliases', `${home}/.bash_aliases`); // dangling: the target could be created
  mkdirSync(`${home}/.local/lib`, { recursive: true });
  symlinkSync('../../dotfiles/py', `${home}/.local/lib/python3.12`);
  const d = `${home}/dotfiles`;
  const before = buildPolicy([{ profile: 'user' }], { cwd: '/srv/proj', home: '/home/alice' });
  for (const c of [{ cwd: '/srv/proj', home }, { cwd: home, home }]) {
    const p = buildPolicy([{ profile: 'user' }], c);
    for (const cap of PATH_CAPS) for (const f of [`${d}/ssh/id_ed25519`, `${d}/ssh`, `${d}/netrc`]) assert.not.ok(p.check(cap, f), `${cap} ${f} (cwd ${c.cwd})`);
    for (const cap of CHANGES) {
      for (const f of [`${d}/bashrc`, `${d}/aliases`, `${d}/config/git/config`, `${d}/py/site-packages/zz.pth`]) assert.not.ok(p.check(cap, f), `${cap} ${f} (cwd ${c.cwd})`);
    }
    assert.ok(p.check('read', `${d}/bashrc`));
    assert.ok(p.check('write', `${d}/README`), 'the rest of the dotfiles is not protected');
  }
  // The attack: before, only the literal names were denied.
  assert.ok(before.check('read', `${d}/ssh/id_ed25519`) && before.check('write', `${d}/bashrc`));
});

test('user: agent sockets are neither reached nor replaced: connect, bind, write, create and delete denied', () => {
  const p = buildPolicy([{ profile: 'user' }], { ...ctx, tmp: '/var/tmp/me', agents: ['/tmp/agents/ssh.sock'], runtime: '/tmp/rt' });
  const all = ['net/connect', 'net/bind', 'write', 'create', 'delete'] as const;
  const agents = [
    '/tmp/ssh-XXXXabcd/agent.12', '/tmp/ssh-XXXXabcd', '/tmp/.X11-unix/X0', '/tmp/.ICE-unix/77', '/tmp/tmux-0/default', '/tmp/gpg-x/S.gpg-agent',
    '/tmp/emacs0/server', '/tmp/vscode-ssh-auth-1.sock', '/var/tmp/me/ssh-abc/agent.1', '/tmp/agents/ssh.sock', '/tmp/rt/bus', '/tmp/rt/keyring/ssh',
    '/tmp/rt/ssh-agent.socket', '/tmp/rt/systemd/private', '/run/user/1000/gnupg/S.gpg-agent.ssh',
  ];
  for (const a of agents) for (const cap of all) assert.not.ok(p.check(cap, a), `${cap} ${a}`);
  // neovim's server dir holds its temp files too: only reaching and binding its sockets is denied.
  assert.not.ok(p.check('net/connect', '/tmp/nvim.alice/x/nvim.1.0'));
  assert.ok(p.check('create', '/tmp/nvim.alice/x/tmpfile'));
  for (const f of ['/tmp/agents/other', '/tmp/rt/mine.sock', '/tmp/app.sock', '/var/tmp/me/x']) for (const cap of all) assert.ok(p.check(cap, f), `${cap} ${f}`);
});

test('profileContext: the agent sockets of the environment and the runtime dir, canonical', () => {
  const dir = tempTree('agent-env');
  mkdirSync(`${dir}/real`);
  symlinkSync('real', `${dir}/link`);
  const c = profileContext({ cwd: '/', env: { HOME: '/root', SSH_AUTH_SOCK: `${dir}/link/agent.1`, TMUX: `${dir}/tmux/default,123,0`, GPG_AGENT_INFO: `${dir}/S.gpg:1:1`, XDG_RUNTIME_DIR: `${dir}/link` } });
  assert.equal(c.agents, [`${dir}/real/agent.1`, `${dir}/tmux/default`, `${dir}/S.gpg`]);
  // A socket that is itself a link (~/.ssh/agent → the live agent): its target too.
  writeFileSync(`${dir}/real/target.sock`, '');
  symlinkSync(`${dir}/real/target.sock`, `${dir}/sock-link`);
  assert.equal(profileContext({ cwd: '/', env: { HOME: '/root', SSH_AUTH_SOCK: `${dir}/sock-link` } }).agents, [`${dir}/sock-link`, `${dir}/real/target.sock`]);
  assert.is(c.runtime, `${dir}/real`);
});

test('user in /: the whole file system is not the project', () => {
  const p = buildPolicy([{ profile: 'user' }], { cwd: '/', home: '/root' });
  assert.not.ok(p.check('write', '/etc/passwd'));
  assert.ok(p.check('write', '/tmp/x'));
});

test('paranoid: the loader, libc and the program itself; nothing else', () => {
  for (const f of ['/etc/ld.so.cache', '/lib64/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/locale/locale-archive', '/proc/77/maps', '/usr/bin/true']) {
    assert.ok(paranoid.check('read', f), f);
  }
  assert.ok(paranoid.check('exec', '/usr/bin/true'));
  assert.not.ok(paranoid.check('exec', '/usr/bin/ls'));
  // A terminal on stdio can be fstat'ed (the fd forms are decided on the fd's path), not read.
  assert.ok(paranoid.check('stat', '/dev/pts/3') && paranoid.check('stat', '/dev/tty'));
  assert.not.ok(paranoid.check('read', '/dev/pts/3'));
  for (const f of ['/etc/passwd', '/home/alice/proj/x', '/usr/bin/ls', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3', '/proc/77/environ']) assert.not.ok(paranoid.check('read', f), f);
  for (const cap of ['write', 'create', 'delete'] as const) assert.not.ok(paranoid.check(cap, '/tmp/x'), cap);
  assert.not.ok(paranoid.checkAddress('net/connect', 4, ip4(127, 0, 0, 1), 80));
  assert.not.ok(paranoid.check('net/connect', '/tmp/x.sock'));
});

test('paranoid: a program path with glob chars matches only itself', () => {
  const p = buildPolicy([{ profile: 'paranoid' }], { cwd: '/', home: '/root', program: '/opt/a*[b] c/prog' });
  assert.ok(p.check('exec', '/opt/a*[b] c/prog'));
  assert.not.ok(p.check('exec', '/opt/aX[b] c/prog'));
});

test('off: every access allowed, addresses and socket names too', () => {
  for (const cap of PATH_CAPS) assert.ok(off.check(cap, '/etc/shadow'), cap);
  for (const cap of ['net/connect', 'net/bind'] as const) {
    assert.ok(off.checkAddress(cap, 4, ip4(8, 8, 8, 8), 53));
    assert.ok(off.checkAddress(cap, 6, ip6(0x20, 1), 65535));
    assert.ok(off.check(cap, '/run/x.sock'));
    assert.ok(off.check(cap, toBytes('@abstract/név')));
  }
});

test('profiles compose in order with rules: the later input wins', () => {
  const p = buildPolicy([{ profile: 'off' }, { rule: 'deny/read+/etc/passwd' }], ctx);
  assert.not.ok(p.check('read', '/etc/passwd'));
  const q = buildPolicy([{ rule: 'deny/read+/etc/passwd' }, { profile: 'off' }], ctx);
  assert.ok(q.check('read', '/etc/passwd'), 'off comes last: its allow/read+/*** wins');
});

test('no input means the user profile; an unknown profile is a usage error listing the profiles', () => {
  assert.equal(buildPolicy([], ctx).normalized(), user.normalized());
  assert.throws(() => profileStatements('nope', ctx), (e: unknown) => e instanceof UsageError && /off, user, paranoid/.test(e.message));
  assert.equal([...PROFILES], ['off', 'user', 'paranoid', 'none']);
});

test('no profile given: the rules apply on top of the user profile; -p none is empty', () => {
  const rule = 'allow/net/connect+10.0.0.0/8!443';
  assert.equal(buildPolicy([{ rule }], ctx).normalized(), buildPolicy([{ profile: 'user' }, { rule }], ctx).normalized());
  assert.not.ok(buildPolicy([{ rule }], ctx).check('read', '/home/alice/.ssh/id_ed25519'), 'the secret stays denied');
  const none = buildPolicy([{ profile: 'none' }, { rule }], () => {
    throw new Error('none reads no context');
  });
  for (const cap of CAPABILITIES) assert.not.ok(none.isOn(cap), cap);
  assert.equal(policyStatements([{ profile: 'none' }], () => ctx), []);
});

test('the implicit base turns on only the enforced capabilities; a rule keeps what it turns on', () => {
  const enforced = new Set(['read', 'write'] as const);
  const base = policyStatements([{ rule: 'sandbox/stat:on', source: { kind: 'arg' } }], () => ctx, enforced);
  assert.equal(base[0], { type: 'sandbox', caps: ['read', 'write'], on: true, source: { kind: 'profile', name: 'user' } });
  assert.equal(base.at(-1), { type: 'sandbox', caps: ['stat'], on: true, source: { kind: 'arg' } });
  const explicit = policyStatements([{ profile: 'user' }], () => ctx, enforced);
  assert.is((explicit[0] as { caps: string[] }).caps.length, CAPABILITIES.length, 'an explicit -p user is not trimmed');
});

test('profile rules carry their source (errors name the profile)', () => {
  const s = policyStatements([{ profile: 'user' }], () => ctx);
  assert.ok(s.length > 50);
  for (const st of s) assert.equal(st.source, { kind: 'profile', name: 'user' });
});

test.run();
