// The CLI's policy options: -p in command-line order with -m/-P, `check` output, the default
// profile, usage errors (exit 125) that name the rule and its source.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const dir = tempTree('profiles');
const lines = (out: string) => out.split('\n').filter((l) => l !== '');

test('check -p user prints every capability on, the scratch dirs writable and the secrets denied last', async () => {
  const r = await runTsyd(['check', '-p', 'user'], { cwd: dir });
  assert.is(r.code, 0, describe(r));
  const out = lines(r.stdout);
  assert.equal(out.slice(0, 8), ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/bind', 'net/connect'].map((c) => `sandbox/${c}:on`));
  assert.ok(out.includes(`allow/write+${dir}/***`), 'the cwd is writable');
  assert.ok(out.includes('allow/write+/tmp/***'));
  assert.ok(out.includes('allow/net/connect+127.0.0.0/8!0-65535'));
  const home = homedir();
  const ssh = out.indexOf(`deny/write+${home}/.ssh/***`);
  assert.ok(ssh > out.indexOf(`allow/write+${dir}/***`), 'secrets come after the cwd rule');
  assert.is(out.at(-1), 'lock:exec');
});

test('check with no policy prints the default: the user profile', async () => {
  const [a, b] = await Promise.all([runTsyd(['check'], { cwd: dir }), runTsyd(['check', '-p', 'user'], { cwd: dir })]);
  assert.is(a.code, 0, describe(a));
  assert.ok(lines(a.stdout).length > 100);
  assert.is(a.stdout, b.stdout);
});

test('-p off then -m: applied in order, the later rule wins; -m then -p off: off wins', async () => {
  const r = await runTsyd(['check', '-p', 'off', '-m', 'deny/read+/etc/passwd', '-poff'], { cwd: dir });
  assert.is(r.code, 0, describe(r));
  const out = lines(r.stdout);
  const deny = out.indexOf('deny/read+/etc/passwd');
  const allows = out.map((l, i) => (l === 'allow/read+/***' ? i : -1)).filter((i) => i >= 0);
  assert.is(allows.length, 2);
  assert.ok(allows[0]! < deny && deny < allows[1]!, out.join('\n'));
});

test('run -p off -m deny: the deny after the profile is enforced, other reads go through', async () => {
  const file = `${dir}/data.txt`;
  writeFileSync(file, 'DATA');
  const denied = await runTsyd(['run', '-p', 'off', '-m', `deny/read+${file}`, '--', 'cat', file]);
  assert.is(denied.code, 1, describe(denied));
  assert.match(denied.stderr, 'Permission denied');
  assert.is(denied.records.filter((x) => x.ctx === 'access' && x.path === file).length, 1);
  const allowed = await runTsyd(['run', '-m', `deny/read+${file}`, '-p', 'off', '--', 'cat', file]);
  assert.is(allowed.code, 0, describe(allowed));
  assert.is(allowed.stdout, 'DATA');
});

test('--audit: the denial is logged and reported, the access goes through', async () => {
  const file = `${dir}/audited.txt`;
  writeFileSync(file, 'AUDITED');
  const r = await runTsyd(['run', '-p', 'none', '--audit', '-m', 'sandbox/read:on', '--', '/bin/cat', file]);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'AUDITED');
  assert.ok(r.records.some((x) => x.ctx === 'access' && x.path === file), describe(r));
});

test('paranoid: a program starts and prints; it reads nothing else and executes nothing else', async () => {
  // The net capabilities off: this test runs before the net handlers exist.
  const paranoid = ['-p', 'paranoid', '-m', 'sandbox/net/bind,net/connect:off'];
  const echo = await runTsyd(['run', ...paranoid, '--', '/bin/echo', 'hi']);
  assert.is(echo.code, 0, describe(echo));
  assert.is(echo.stdout, 'hi\n');
  assert.is(echo.records.filter((x) => x.ctx === 'access').length, 0, describe(echo));
  // Through symlinks the program's name passes (/bin, /usr/bin/awk, /etc/alternatives/awk on
  // Debian): each must be visible, or the walk would find nothing.
  const awk = await runTsyd(['run', ...paranoid, '--', 'awk', 'BEGIN { print "awk" }']);
  assert.is(awk.stdout, 'awk\n', describe(awk));
  const cat = await runTsyd(['run', ...paranoid, '--', '/bin/cat', '/etc/hostname']);
  assert.is(cat.code, 1, describe(cat));
  // Hidden too (stat): the file does not exist for the program.
  assert.ok(cat.records.some((x) => x.ctx === 'access' && x.cap === 'stat' && x.path === '/etc/hostname'), describe(cat));
  const sh = await runTsyd(['run', ...paranoid, '--', '/bin/sh', '-c', '/bin/true']);
  // Denied and hidden from stat too: the program does not exist for the shell (127).
  assert.is(sh.code, 127, describe(sh));
  assert.ok(sh.records.some((x) => x.ctx === 'access' && (x.cap === 'exec' || x.cap === 'stat') && x.path === '/usr/bin/true'), describe(sh));
  const write = await runTsyd(['run', ...paranoid, '--', '/bin/sh', '-c', `echo x > ${dir}/p.txt`]);
  assert.is.not(write.code, 0, describe(write));
});

test('an unknown profile is a usage error (125) listing the profiles; nothing runs', async () => {
  for (const args of [['check', '-p', 'nope'], ['run', '-p', 'nope', '--', 'touch', `${dir}/ran`], ['learn', '-pnope', '--', 'true']]) {
    const r = await runTsyd(args, { cwd: dir });
    assert.is(r.code, 125, describe(r));
    assert.match(r.stderr, "tsyd: unknown profile 'nope'; did you mean 'none'? (expected one of off, user, paranoid, none)");
  }
  const again = await runTsyd(['run', '-p', 'nope', '--', 'touch', `${dir}/ran`]);
  assert.is(again.code, 125);
});

test('rules that can never match are errors naming the rule and the source (exit 125)', async () => {
  const cases: Array<[string, RegExp]> = [
    ['allow/read+', /the pattern is empty/],
    ['allow/read+etc/passwd', /'etc\/passwd' can never match: paths are canonical and absolute/],
    ['deny/read+/etc/shadow/', /the empty last component can never match/],
    ['deny/read+/etc/../etc/shadow', /the '\.\.' component can never match/],
    ['allow/net/connect+10.0.0.0/33!80', /bad prefix length '33' for IPv4/],
    ['allow/net/connect+10.0.0.1!65536', /bad port '65536': expected 0-65535/],
    ['allow/net/connect+10.0.0.1!90-80', /the port range 90-80 is reversed/],
    ['allow/raed+/etc', /unknown capability 'raed'/],
    ['allow/read/etc/hosts', /missing \+, - or \^ after the capability 'read'/],
  ];
  const policy = `${dir}/bad.policy`;
  for (const [rule, re] of cases) {
    const m = await runTsyd(['check', '-m', rule]);
    assert.is(m.code, 125, describe(m));
    assert.match(m.stderr, `bad rule '${rule}' (from -m): `);
    assert.match(m.stderr, re);
    writeFileSync(policy, `# ok\nsandbox/read:on\n  ${rule}\n`);
    const f = await runTsyd(['run', '-p', 'none', '-P', policy, '--', 'touch', `${dir}/ran`]);
    assert.is(f.code, 125, describe(f));
    assert.match(f.stderr, `bad rule '${rule}' (from ${policy}:3:`);
  }
});

test.run();
