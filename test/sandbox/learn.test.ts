// learn.ts: recorded accesses → a policy text; grouping only where safe, secrets explicit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { Policy } from '../../src/sandbox/policy.js';
import { keepOffSecrets, learnPolicy, type LearnedAccess, type LearnedPolicy } from '../../src/sandbox/learn.js';
import type { ProfileContext } from '../../src/sandbox/profiles.js';
import { loadPolicyFile } from '../../src/sandbox/rules.js';
import { stripComment } from '../../src/sandbox/rule-text.js';
import type { Capability } from '../../src/sandbox/capabilities.js';
import { globOverlap } from '../../src/sandbox/glob-overlap.js';
import { secretGlobs } from '../../src/sandbox/secrets.js';
import { startupProtected } from '../../src/sandbox/profiles.js';
import { toBytes } from '../../src/sandbox/bytes.js';
import { tempTree } from '../helpers/tmp.js';
import { rng, seedFrom } from '../helpers/random.js';

const ctx: ProfileContext = { cwd: '/home/alice/proj', home: '/home/alice', program: '/usr/bin/make' };
const a = (cap: Capability, path: string, allowed = true): LearnedAccess => ({ cap, path, allowed });
/** An access to a name given as bytes (latin1), recorded as the emulator does: text, plus the bytes when not UTF-8. */
const raw = (cap: Capability, bytes: string): LearnedAccess => {
  const path = Buffer.from(bytes, 'latin1').toString('utf8');
  return toBytes(path) === bytes ? { cap, path, allowed: true } : { cap, path, pathBytes: bytes, allowed: true };
};
const learn = (accesses: LearnedAccess[], extra: Partial<Parameters<typeof learnPolicy>[0]> = {}) =>
  learnPolicy({ accesses, context: ctx, command: ['make', '-j', "it's"], date: new Date(0), users: ['alice', 'bob'], ...extra });
/** The rule lines of a learned text (display text: ASCII names only). */
const rules = (text: string) => text.split('\n').map((l) => stripComment(l).trim()).filter((l) => l !== '');
/** The rule lines as bytes (latin1), as a policy file holds them. */
const byteRules = (l: LearnedPolicy) => rules(l.data.toString('latin1'));
const dir = tempTree('learn-unit');
let files = 0;
/** The learned policy as `tsyd run -P` loads it: the bytes written to a file, read back. */
const loadPolicyFileOf = (text: string) => {
  const file = `${dir}/p${++files}.policy`;
  writeFileSync(file, Buffer.from(text, 'latin1'));
  return loadPolicyFile(file);
};
const policyOf = (l: LearnedPolicy) => {
  const file = `${dir}/p${++files}.policy`;
  writeFileSync(file, l.data);
  return Policy.from(loadPolicyFile(file));
};

test('header, every capability on, the program executable; the text parses', () => {
  const l = learn([]);
  const { text, secrets } = l;
  assert.ok(text.startsWith('# Learned by tsyd learn on 1970-01-01T00:00:00.000Z\n'));
  assert.match(text, "# command: make -j 'it'\\''s'\n");
  const p = policyOf(l);
  for (const cap of ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/bind', 'net/connect'] as const) assert.ok(p.isOn(cap), cap);
  assert.ok(p.check('exec', '/usr/bin/make'));
  assert.not.ok(p.check('exec', '/usr/bin/ls'));
  assert.equal(secrets, []);
});

test('a few files stay exact; many in one system directory become dir/***', () => {
  const libs = ['libc.so.6', 'libm.so.6', 'libz.so.1', 'libdl.so.2'].map((l) => a('read', `/usr/lib/x86_64-linux-gnu/${l}`));
  const l = learn([...libs, a('read', '/etc/passwd'), a('read', '/etc/group')]);
  const { text } = l;
  assert.ok(rules(text).includes('allow/read+/usr/lib/x86_64-linux-gnu/***'));
  assert.ok(rules(text).includes('allow/read+/etc/passwd'));
  const p = policyOf(l);
  assert.ok(p.check('read', '/usr/lib/x86_64-linux-gnu/libssl.so.3'), 'grouped');
  assert.not.ok(p.check('read', '/etc/hostname'), '2 files in /etc: not grouped');
  assert.not.ok(p.check('read', '/usr/lib/os-release'));
});

test('random names in a temp dir become a glob for that dir; the cwd stays exact below the threshold', () => {
  const run = [a('create', '/tmp/ccX1.s'), a('write', '/tmp/ccX1.s'), a('read', '/tmp/ccX1.s'), a('delete', '/tmp/ccX1.s'), a('create', '/home/alice/proj/hello.o')];
  const p = policyOf(learn(run));
  for (const cap of ['create', 'write', 'read', 'delete'] as const) assert.ok(p.check(cap, '/tmp/ccQ9.s'), cap);
  assert.ok(p.check('create', '/home/alice/proj/hello.o'));
  assert.not.ok(p.check('create', '/home/alice/proj/other.o'));
});

test('a temp dir holding a $HOME: any name directly in it, nothing deeper, no secret', () => {
  const c: ProfileContext = { cwd: '/srv/p', home: '/tmp/h' };
  const l = learn([a('create', '/tmp/ccA.s'), a('read', '/tmp/ccA.s'), a('read', '/tmp/x/y')], { context: c });
  const { text } = l;
  const p = policyOf(l);
  assert.ok(rules(text).includes('allow/create+/tmp/*'), text);
  assert.ok(p.check('create', '/tmp/ccB.s'));
  assert.ok(p.check('read', '/tmp/x/y'));
  assert.not.ok(p.check('read', '/tmp/x/z'));
  assert.not.ok(p.check('read', '/tmp/h/.ssh/id_rsa'));
});

test('never widened over a secret or a parent of one, nor to /', () => {
  const home = ['.bashrc', '.profile', '.gitconfig', '.vimrc'].map((f) => a('read', `/home/alice/${f}`));
  const top = ['/a', '/b', '/c', '/d'].map((f) => a('read', f));
  const etc = ['passwd', 'group', 'hosts', 'resolv.conf'].map((f) => a('read', `/etc/${f}`));
  const sshPub = ['ssh_config', 'moduli', 'ssh_host_rsa_key.pub', 'sshd_config'].map((f) => a('read', `/etc/ssh/${f}`));
  const l = learn([...home, ...top, ...etc, ...sshPub]);
  const { text } = l;
  const p = policyOf(l);
  for (const s of ['/home/alice/.ssh/id_rsa', '/home/alice/.netrc', '/etc/shadow', '/etc/ssh/ssh_host_rsa_key', '/root/.ssh/id_rsa']) assert.not.ok(p.check('read', s), s);
  assert.not.match(text, /allow\/read\+\/\*\*\*/);
  assert.not.match(text, /allow\/read\+\/home\/alice\/\*\*\*/);
  assert.ok(p.check('read', '/home/alice/.bashrc'));
});

test('a secret the run touched: an explicit rule under a # SECRET comment, and reported', () => {
  const l = learn([a('read', '/home/alice/.ssh/id_rsa'), a('read', '/home/alice/.ssh/config'), a('read', '/home/alice/.ssh/known_hosts'), a('read', '/home/alice/.ssh/id_rsa')]);
  const { text, secrets } = l;
  assert.equal(secrets, ['read /home/alice/.ssh/id_rsa', 'read /home/alice/.ssh/config', 'read /home/alice/.ssh/known_hosts']);
  assert.is(text.match(/# SECRET: the learned run read this\nallow\/read\+\/home\/alice\/\.ssh\/id_rsa\n/g)?.length, 1);
  const p = policyOf(l);
  assert.ok(p.check('read', '/home/alice/.ssh/id_rsa'));
  assert.not.ok(p.check('read', '/home/alice/.ssh/id_ed25519'), 'three files in ~/.ssh are not grouped');
});

test('pids in /proc paths become [0-9]*; glob chars in names are escaped; denied accesses are left out', () => {
  const l = learn([a('write', '/proc/4242/fd/1'), a('read', '/proc/4242/task/4243/stat'), a('read', '/home/alice/proj/a*[b].txt'), a('read', '/etc/hostname', false)]);
  const { text } = l;
  const p = policyOf(l);
  assert.ok(p.check('write', '/proc/5151/fd/1'));
  assert.not.ok(p.check('write', '/proc/5151/fd/3'));
  assert.ok(p.check('read', '/proc/9/task/10/stat'));
  assert.ok(p.check('read', '/home/alice/proj/a*[b].txt'));
  assert.not.ok(p.check('read', '/home/alice/proj/aX[b].txt'));
  assert.not.ok(p.check('read', '/etc/hostname'));
});

test('addresses and abstract names are kept exact; unenforced capabilities are a comment', () => {
  const acc: LearnedAccess[] = [{ cap: 'net/connect', addr: '127.0.0.1!8080', allowed: true }, { cap: 'net/connect', path: '@my*sock', allowed: true }];
  const l = learn(acc, { enforced: new Set<Capability>(['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/connect']) });
  const { text } = l;
  assert.match(text, '# sandbox/net/bind:on   (not enforced');
  const p = policyOf(l);
  assert.ok(p.checkAddress('net/connect', 4, Uint8Array.from([127, 0, 0, 1]), 8080));
  assert.not.ok(p.checkAddress('net/connect', 4, Uint8Array.from([127, 0, 0, 1]), 8081));
  assert.not.ok(p.isOn('net/bind'));
  assert.ok(p.check('net/connect', '@my*sock'));
  assert.not.ok(p.check('net/connect', '@myXsock'));
});

test('a listed directory keeps its entries visible (stat DIR/*), unless a secret could be among them', () => {
  const ls = (path: string): LearnedAccess => ({ cap: 'stat', path, allowed: true, sys: 'getdents64' });
  const p = policyOf(learn([ls('/home/alice/proj/src'), ls('/home/alice'), ls('/home')]));
  assert.ok(p.check('stat', '/home/alice/proj/src/main.c'), 'an entry the run never stat-ed stays listed');
  assert.not.ok(p.check('stat', '/home/alice/proj/src/sub/x.c'), 'one level only');
  assert.not.ok(p.check('stat', '/home/alice/.ssh'), 'a home holds secrets: its listing is not widened');
  assert.not.ok(p.check('stat', '/home/bob'), '/home is above secrets too');
});

/** The allow rules that are not explicit ones (`# SECRET`, `# START-UP`, `# AGENT`), as bytes. */
const learnedAllows = (l: LearnedPolicy) => {
  const lines = l.data.toString('latin1').split('\n');
  return lines.filter((line, i) => line.startsWith('allow/') && !/^# (SECRET|START-UP|AGENT):/.test(lines[i - 1] ?? ''));
};
const secretList = secretGlobs(ctx).map(toBytes);
const startupList = startupProtected(ctx).map(toBytes);

test('a name that is not UTF-8 is learned as exactly its bytes, never as * (the poisoning of ~ and /etc)', () => {
  const run = [raw('create', '/home/alice/\xff\xfe'), raw('write', '/home/alice/\xff\xfe'), raw('read', '/home/alice/\xff\xfe'), raw('stat', '/home/alice/\xff\xfe'), raw('read', '/etc/\xff'), raw('stat', '/etc/\xff')];
  const l = learn(run);
  const lines = byteRules(l);
  assert.ok(lines.includes('allow/read+/home/alice/\xff\xfe'), l.data.toString('latin1'));
  assert.ok(lines.includes('allow/read+/etc/\xff'));
  assert.not.ok(lines.some((r) => r.endsWith('/home/alice/*') || r.endsWith('/etc/*')), l.text);
  assert.equal(l.warnings, []);
  const p = policyOf(l);
  assert.ok(p.check('read', '/home/alice/\xff\xfe'));
  assert.ok(p.check('stat', '/etc/\xff'));
  for (const other of ['/home/alice/\xff\xfd', '/home/alice/\xff', '/home/alice/.netrc', '/home/alice/x']) assert.not.ok(p.check('read', other), JSON.stringify(other));
  for (const other of ['/etc/shadow', '/etc/\xfe', '/etc/passwd']) {
    assert.not.ok(p.check('read', other), JSON.stringify(other));
    assert.not.ok(p.check('stat', other), JSON.stringify(other));
  }
  // What the old learn wrote for these names (U+FFFD → `*`) reads the secrets:
  const old = Policy.from(loadPolicyFileOf('sandbox/read:on\nallow/read+/home/alice/*\nallow/read+/etc/*\n'));
  assert.ok(old.check('read', '/home/alice/.netrc') && old.check('read', '/etc/shadow'), 'the test can tell');
});

test('a name recorded as text only (U+FFFD, bytes lost) is taken as that text, not widened', () => {
  const l = learn([a('read', '/home/alice/\ufffd'), a('read', '/etc/x\ufffdy')]);
  const p = policyOf(l);
  assert.ok(p.check('read', '/home/alice/\xef\xbf\xbd'));
  assert.not.ok(p.check('read', '/home/alice/\xff'));
  assert.not.ok(p.check('read', '/home/alice/.netrc'));
  assert.not.ok(p.check('read', '/etc/xzy'));
});

test('glob chars, comment and blank chars, CR: exact; a newline cannot be written: left out with a warning', () => {
  const names = ['/home/alice/proj/*', '/home/alice/proj/[a-z]?', '/home/alice/proj/# x ', '/home/alice/proj/\\', '/home/alice/proj/cr\r', '/home/alice/proj/\r#\t\xa0'];
  const l = learn([...names.map((n) => raw('read', n)), raw('read', '/home/alice/proj/new\nline'), raw('read', '/home/alice/dir\nx/a')], { groupAt: 100 });
  const p = policyOf(l);
  for (const n of names) assert.ok(p.check('read', n), JSON.stringify(n));
  for (const n of ['/home/alice/proj/x', '/home/alice/proj/ab', '/home/alice/proj/cr', '/home/alice/proj/new\nline', '/home/alice/.netrc']) assert.not.ok(p.check('read', n), JSON.stringify(n));
  assert.is(l.warnings.length, 2, l.warnings.join('\n'));
  assert.equal([...l.warnings].sort(), [
    'not learned: allow/read+/home/alice/dir\\x0ax/a: a newline in a name cannot be written in a policy file',
    'not learned: allow/read+/home/alice/proj/new\\x0aline: a newline in a name cannot be written in a policy file',
  ]);
});

test('the secret gate: a learned glob that could match a secret is narrowed to its paths, or left out', () => {
  const warnings: string[] = [];
  const out = keepOffSecrets(
    'read',
    [
      { glob: '/home/alice/*', name: '/home/alice/*', from: ['/home/alice/a', '/home/alice/b'] },
      { glob: '/home/alice/.ssh/\\*', name: '/home/alice/.ssh/*', from: ['/home/alice/.ssh/*'] },
      { glob: '/etc/*', name: '/etc/*', from: [] },
      { glob: '/usr/***', name: '/usr/***', from: ['/usr/bin/cc'] },
      { glob: null, name: '/srv/a\nb', from: ['/srv/a\nb'] },
    ],
    secretList,
    (w) => warnings.push(w),
  );
  assert.equal(out, ['/home/alice/a', '/home/alice/b', '/usr/***']);
  assert.equal(warnings, [
    'narrowed: allow/read+/home/alice/* could match the secret /home/alice/.ssh, which the run did not touch: only the 2 path(s) the run used are allowed',
    'not learned: allow/read+/home/alice/.ssh/\\x5c* could match the secret /home/alice/.ssh/*, which the run did not touch',
    'not learned: allow/read+/etc/* could match the secret /etc/shadow, which the run did not touch',
    'not learned: allow/read+/srv/a\\x0ab: a newline in a name cannot be written in a policy file',
  ]);
});

test('a listed directory next to a secret: its stat DIR/* is left out (the gate, behind secretBelow)', () => {
  const ls = (path: string): LearnedAccess => ({ cap: 'stat', path, allowed: true, sys: 'getdents64' });
  const l = learn([ls('/home/alice/proj'), ls('/etc/ssh'), ls('/etc')]);
  assert.ok(byteRules(l).includes('allow/stat+/home/alice/proj/*'));
  assert.not.ok(byteRules(l).some((r) => r.startsWith('allow/stat+/etc') && r.endsWith('/*')), l.text);
});

test('whatever names a run uses, no learned rule (but a # SECRET one) can match a secret', () => {
  const seed = seedFrom('TSYD_LEARN_SEED');
  const r = rng(seed);
  const bytes = ['a', 'b', '.', '*', '?', '[', ']', '\\', '#', ' ', '\r', '\xff', '\xfe', '\xc3', '\xa9', '\ufffd'];
  const dirs = ['/home/alice', '/home/alice/.ssh', '/home/alice/.config', '/home/bob', '/root', '/etc', '/etc/ssh', '/tmp', '/home/alice/proj', '/home', '/home/alice/.local', '/home/alice/.local/bin'];
  const caps: Capability[] = ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/connect'];
  for (let round = 0; round < 40; round++) {
    const accesses: LearnedAccess[] = [];
    for (let n = r.int(1, 30); n > 0; n--) {
      let name = '';
      for (let k = r.int(1, 4); k > 0; k--) name += bytes[r.int(0, bytes.length - 1)]!;
      if (name === '.' || name === '..') continue; // never in a canonical path
      const d = dirs[r.int(0, dirs.length - 1)]!;
      const path = toBytes(`${d}/`) + toBytes(name).replace(/\xef\xbf\xbd/g, () => (r.int(0, 1) === 0 ? '\xef\xbf\xbd' : '\x80'));
      const cap = caps[r.int(0, caps.length - 1)]!;
      accesses.push(r.int(0, 3) === 0 ? { cap: 'stat', path: Buffer.from(path, 'latin1').toString('utf8'), pathBytes: path, allowed: true, sys: 'getdents64' } : raw(cap, path));
    }
    const l = learn(accesses, { groupAt: r.int(1, 3) });
    for (const line of learnedAllows(l)) {
      const pattern = line.slice(line.indexOf('+') + 1);
      if (!pattern.startsWith('/')) continue;
      for (const s of secretList) assert.is(globOverlap(pattern, s), null, `seed ${seed}: ${JSON.stringify(line)} reaches ${s}`);
      if (!/^allow\/(write|create|delete)\+/.test(line)) continue;
      for (const s of startupList) assert.is(globOverlap(pattern, s), null, `seed ${seed}: ${JSON.stringify(line)} reaches the start-up place ${s}`);
    }
    policyOf(l); // the file loads
  }
});

test('UNIX socket paths are never grouped: a run that used 3 sockets in a temp dir does not reach an ssh-agent there', () => {
  const socks = ['/tmp/app/a.sock', '/tmp/app/b.sock', '/tmp/app/c.sock', '/tmp/x.sock'];
  const l = learn([...socks.map((s) => a('net/connect', s)), ...socks.map((s) => a('net/bind', s)), a('create', '/tmp/ccA.s'), a('create', '/tmp/app/d')]);
  const r = byteRules(l);
  for (const cap of ['net/connect', 'net/bind']) {
    for (const s of socks) assert.ok(r.includes(`allow/${cap}+${s}`), `${cap} ${s}: ${l.text}`);
    assert.not.ok(r.some((x) => x.startsWith(`allow/${cap}+`) && x.includes('*')), l.text);
  }
  assert.ok(r.includes('allow/create+/tmp/***'), 'files in a temp dir are still grouped');
  const p = policyOf(l);
  for (const cap of ['net/connect', 'net/bind'] as const) {
    assert.ok(p.check(cap, '/tmp/app/a.sock'));
    assert.not.ok(p.check(cap, '/tmp/ssh-XXXXabcd/agent.12'), cap);
    assert.not.ok(p.check(cap, '/tmp/app/other.sock'), cap);
  }
  // What the old learn wrote (`/tmp/***` for connect): the agent was reachable.
  const old = Policy.from(loadPolicyFileOf('sandbox/net/connect:on\nallow/net/connect+/tmp/***\n'));
  assert.ok(old.check('net/connect', '/tmp/ssh-XXXXabcd/agent.12'), 'the test can tell');
});

test('every learned policy denies the agent sockets after its allows: connect, bind, and replacing them (a temp dir grouped for create, delete)', () => {
  const c: ProfileContext = { ...ctx, agents: ['/srv/agents/ssh.sock'], runtime: '/tmp/rt' };
  const run = ['/tmp/ccA.s', '/tmp/ccB.s', '/tmp/rt/x'].flatMap((f) => (['create', 'write', 'delete'] as const).map((cap) => a(cap, f)));
  const l = learn([...run, a('net/connect', '/tmp/ssh-used/agent.1')], { context: c });
  const p = policyOf(l);
  for (const cap of ['create', 'write', 'delete'] as const) {
    assert.ok(p.check(cap, '/tmp/ccQ.s'), cap);
    for (const f of ['/tmp/ssh-XXXXabcd/agent.12', '/tmp/ssh-XXXXabcd', '/tmp/.X11-unix/X0', '/tmp/tmux-0/default', '/tmp/rt/bus']) assert.not.ok(p.check(cap, f), `${cap} ${f}`);
  }
  for (const cap of ['net/connect', 'net/bind'] as const) for (const f of ['/srv/agents/ssh.sock', '/tmp/ssh-XXXXabcd/agent.12']) assert.not.ok(p.check(cap, f), `${cap} ${f}`);
  // The agent the learned run used: its own rule after the denies, and a warning.
  assert.ok(p.check('net/connect', '/tmp/ssh-used/agent.1'));
  assert.match(l.text, '# AGENT: the learned run used this agent socket\nallow/net/connect+/tmp/ssh-used/agent.1\n');
  assert.ok(l.warnings.some((w) => w.startsWith('the learned run used an agent socket (net/connect /tmp/ssh-used/agent.1)')), l.warnings.join('\n'));
  // Without the denies (the old learned text) the grouped temp dir let the program replace the agent.
  const old = Policy.from(loadPolicyFileOf(l.text.slice(0, l.text.indexOf('# Agent sockets'))));
  assert.ok(old.check('delete', '/tmp/ssh-XXXXabcd/agent.12') && old.check('create', '/tmp/ssh-XXXXabcd/agent.12'), 'the test can tell');
});

test('start-up files: never grouped into a write, create or delete rule; one the run changed is explicit and warned about', () => {
  const c: ProfileContext = { cwd: '/home/alice', home: '/home/alice', program: '/usr/bin/make' };
  const names = ['share/app/a', 'share/app/b', 'share/app/c', 'lib/a.so', 'lib/b.so', 'lib/c.so'];
  const run = names.flatMap((n) => (['create', 'write'] as const).map((cap) => a(cap, `/home/alice/.local/${n}`)));
  const l = learn([...run, a('write', '/home/alice/.bashrc'), a('read', '/home/alice/.local/bin/tool')], { context: c });
  const p = policyOf(l);
  assert.ok(p.check('create', '/home/alice/.local/share/app/d'), 'grouped where no start-up file is');
  assert.not.ok(p.check('create', '/home/alice/.local/lib/d.so'), 'not grouped: ~/.local/lib holds the Python user sites');
  for (const f of ['/home/alice/.local/bin/ls', '/home/alice/.local/lib/python3.12/site-packages/zz.pth', '/home/alice/.local/share/applications/x.desktop', '/home/alice/.bash_aliases']) {
    for (const cap of ['create', 'write'] as const) assert.not.ok(p.check(cap, f), `${cap} ${f}`);
  }
  assert.ok(p.check('write', '/home/alice/.bashrc'));
  assert.match(l.text, '# START-UP: the learned run changed this file, which runs code outside the sandbox later\nallow/write+/home/alice/.bashrc\n');
  assert.ok(l.warnings.some((w) => w.startsWith('the learned run changed a start-up file (write /home/alice/.bashrc)')), l.warnings.join('\n'));
  // The same run grouped for writes as reads are (no start-up gate) reaches ~/.local/bin.
  const asReads = policyOf(learn(names.map((n) => a('read', `/home/alice/.local/${n}`)), { context: c }));
  assert.ok(asReads.check('read', '/home/alice/.local/lib/python3.12/site-packages/zz.pth'), 'the test can tell: reads are grouped over it');
});

test('policy files (the output, the -P files): no learned write, create or delete rule reaches them; a change the run tried is warned about', () => {
  const out = '/home/alice/proj/learned.policy';
  const run = ['a', 'b', 'c', 'learned.policy'].flatMap((n) => (['create', 'write'] as const).map((cap) => a(cap, `/home/alice/proj/${n}`)));
  const tmp = ['x', 'y', 'out.policy'].map((n) => a('write', `/tmp/${n}`));
  const l = learn([...run, ...tmp, a('delete', out, false), a('read', out)], { policyFiles: [out, '/tmp/out.policy'] });
  const p = policyOf(l);
  for (const cap of ['write', 'create', 'delete'] as const) {
    assert.not.ok(p.check(cap, out), `${cap} ${out}`);
    assert.not.ok(p.check(cap, '/tmp/out.policy'), `${cap} /tmp/out.policy`);
  }
  assert.ok(p.check('write', '/home/alice/proj/a') && p.check('create', '/home/alice/proj/c') && p.check('write', '/tmp/y'), 'the rest of the run is learned');
  assert.ok(p.check('read', out), 'reading its policy changes nothing');
  for (const w of [`write ${out}`, `create ${out}`, `delete ${out}`, 'write /tmp/out.policy']) {
    assert.ok(l.warnings.includes(`not learned: the run tried to change a policy file (${w}): it never may`), `${w}: ${l.warnings.join('\n')}`);
  }
  // Without them the same run groups the project and /tmp over the output: the test can tell.
  const unprotected = policyOf(learn([...run, ...tmp]));
  assert.ok(unprotected.check('write', out) && unprotected.check('write', '/tmp/out.policy'));
  // Behind the grouping, keepOffSecrets narrows a glob that reaches one and says why.
  const warnings: string[] = [];
  const kept = keepOffSecrets('write', [{ glob: '/p/***', name: '/p/***', from: ['/p/a'] }], ['/p/out'], (w) => warnings.push(w), (hit) => `the policy file ${hit}`);
  assert.equal(kept, ['/p/a']);
  assert.equal(warnings, ['narrowed: allow/write+/p/*** could match the policy file /p/out: only the 1 path(s) the run used are allowed']);
});

test.run();
