// learn.ts: recorded accesses → a policy text; grouping only where safe, secrets explicit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Policy } from '../../src/sandbox/policy.js';
import { learnPolicy, type LearnedAccess } from '../../src/sandbox/learn.js';
import type { ProfileContext } from '../../src/sandbox/profiles.js';
import { parseRule } from '../../src/sandbox/rules.js';
import { stripComment } from '../../src/sandbox/rule-text.js';
import type { Capability } from '../../src/sandbox/capabilities.js';

const ctx: ProfileContext = { cwd: '/home/alice/proj', home: '/home/alice', program: '/usr/bin/make' };
const a = (cap: Capability, path: string, allowed = true): LearnedAccess => ({ cap, path, allowed });
const learn = (accesses: LearnedAccess[], extra: Partial<Parameters<typeof learnPolicy>[0]> = {}) =>
  learnPolicy({ accesses, context: ctx, command: ['make', '-j', "it's"], date: new Date(0), users: ['alice', 'bob'], ...extra });
const rules = (text: string) => text.split('\n').map((l) => stripComment(l).trim()).filter((l) => l !== '');
const policyOf = (text: string) => Policy.from(rules(text).map((r) => parseRule(r, { kind: 'arg' })));

test('header, every capability on, the program executable; the text parses', () => {
  const { text, secrets } = learn([]);
  assert.ok(text.startsWith('# Learned by tsyd learn on 1970-01-01T00:00:00.000Z\n'));
  assert.match(text, "# command: make -j 'it'\\''s'\n");
  const p = policyOf(text);
  for (const cap of ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/bind', 'net/connect'] as const) assert.ok(p.isOn(cap), cap);
  assert.ok(p.check('exec', '/usr/bin/make'));
  assert.not.ok(p.check('exec', '/usr/bin/ls'));
  assert.equal(secrets, []);
});

test('a few files stay exact; many in one system directory become dir/***', () => {
  const libs = ['libc.so.6', 'libm.so.6', 'libz.so.1', 'libdl.so.2'].map((l) => a('read', `/usr/lib/x86_64-linux-gnu/${l}`));
  const { text } = learn([...libs, a('read', '/etc/passwd'), a('read', '/etc/group')]);
  assert.ok(rules(text).includes('allow/read+/usr/lib/x86_64-linux-gnu/***'));
  assert.ok(rules(text).includes('allow/read+/etc/passwd'));
  const p = policyOf(text);
  assert.ok(p.check('read', '/usr/lib/x86_64-linux-gnu/libssl.so.3'), 'grouped');
  assert.not.ok(p.check('read', '/etc/hostname'), '2 files in /etc: not grouped');
  assert.not.ok(p.check('read', '/usr/lib/os-release'));
});

test('random names in a temp dir become a glob for that dir; the cwd stays exact below the threshold', () => {
  const run = [a('create', '/tmp/ccX1.s'), a('write', '/tmp/ccX1.s'), a('read', '/tmp/ccX1.s'), a('delete', '/tmp/ccX1.s'), a('create', '/home/alice/proj/hello.o')];
  const p = policyOf(learn(run).text);
  for (const cap of ['create', 'write', 'read', 'delete'] as const) assert.ok(p.check(cap, '/tmp/ccQ9.s'), cap);
  assert.ok(p.check('create', '/home/alice/proj/hello.o'));
  assert.not.ok(p.check('create', '/home/alice/proj/other.o'));
});

test('a temp dir holding a $HOME: any name directly in it, nothing deeper, no secret', () => {
  const c: ProfileContext = { cwd: '/srv/p', home: '/tmp/h' };
  const { text } = learn([a('create', '/tmp/ccA.s'), a('read', '/tmp/ccA.s'), a('read', '/tmp/x/y')], { context: c });
  const p = policyOf(text);
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
  const { text } = learn([...home, ...top, ...etc, ...sshPub]);
  const p = policyOf(text);
  for (const s of ['/home/alice/.ssh/id_rsa', '/home/alice/.netrc', '/etc/shadow', '/etc/ssh/ssh_host_rsa_key', '/root/.ssh/id_rsa']) assert.not.ok(p.check('read', s), s);
  assert.not.match(text, /allow\/read\+\/\*\*\*/);
  assert.not.match(text, /allow\/read\+\/home\/alice\/\*\*\*/);
  assert.ok(p.check('read', '/home/alice/.bashrc'));
});

test('a secret the run touched: an explicit rule under a # SECRET comment, and reported', () => {
  const { text, secrets } = learn([a('read', '/home/alice/.ssh/id_rsa'), a('read', '/home/alice/.ssh/config'), a('read', '/home/alice/.ssh/known_hosts'), a('read', '/home/alice/.ssh/id_rsa')]);
  assert.equal(secrets, ['read /home/alice/.ssh/id_rsa', 'read /home/alice/.ssh/config', 'read /home/alice/.ssh/known_hosts']);
  assert.is(text.match(/# SECRET: the learned run read this\nallow\/read\+\/home\/alice\/\.ssh\/id_rsa\n/g)?.length, 1);
  const p = policyOf(text);
  assert.ok(p.check('read', '/home/alice/.ssh/id_rsa'));
  assert.not.ok(p.check('read', '/home/alice/.ssh/id_ed25519'), 'three files in ~/.ssh are not grouped');
});

test('pids in /proc paths become [0-9]*; glob chars in names are escaped; denied accesses are left out', () => {
  const { text } = learn([a('write', '/proc/4242/fd/1'), a('read', '/proc/4242/task/4243/stat'), a('read', '/home/alice/proj/a*[b].txt'), a('read', '/etc/hostname', false)]);
  const p = policyOf(text);
  assert.ok(p.check('write', '/proc/5151/fd/1'));
  assert.not.ok(p.check('write', '/proc/5151/fd/3'));
  assert.ok(p.check('read', '/proc/9/task/10/stat'));
  assert.ok(p.check('read', '/home/alice/proj/a*[b].txt'));
  assert.not.ok(p.check('read', '/home/alice/proj/aX[b].txt'));
  assert.not.ok(p.check('read', '/etc/hostname'));
});

test('addresses and abstract names are kept exact; unenforced capabilities are a comment', () => {
  const acc: LearnedAccess[] = [{ cap: 'net/connect', addr: '127.0.0.1!8080', allowed: true }, { cap: 'net/connect', path: '@my*sock', allowed: true }];
  const { text } = learn(acc, { enforced: new Set<Capability>(['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/connect']) });
  assert.match(text, '# sandbox/net/bind:on   (not enforced');
  const p = policyOf(text);
  assert.ok(p.checkAddress('net/connect', 4, Uint8Array.from([127, 0, 0, 1]), 8080));
  assert.not.ok(p.checkAddress('net/connect', 4, Uint8Array.from([127, 0, 0, 1]), 8081));
  assert.not.ok(p.isOn('net/bind'));
  assert.ok(p.check('net/connect', '@my*sock'));
  assert.not.ok(p.check('net/connect', '@myXsock'));
});

test('a listed directory keeps its entries visible (stat DIR/*), unless a secret could be among them', () => {
  const ls = (path: string): LearnedAccess => ({ cap: 'stat', path, allowed: true, sys: 'getdents64' });
  const p = policyOf(learn([ls('/home/alice/proj/src'), ls('/home/alice'), ls('/home')]).text);
  assert.ok(p.check('stat', '/home/alice/proj/src/main.c'), 'an entry the run never stat-ed stays listed');
  assert.not.ok(p.check('stat', '/home/alice/proj/src/sub/x.c'), 'one level only');
  assert.not.ok(p.check('stat', '/home/alice/.ssh'), 'a home holds secrets: its listing is not widened');
  assert.not.ok(p.check('stat', '/home/bob'), '/home is above secrets too');
});

test.run();
