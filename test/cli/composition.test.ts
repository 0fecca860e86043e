// Policy composition (issue 13, point 1): the user profile is the base unless a -p is given,
// -p none is the empty base, and a policy that turns nothing on says so once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const home = tempTree('composition-home', { '.ssh/id_x': 'PRIVATE KEY\n', 'notes.txt': 'notes\n' });
const env = { HOME: home };
const lines = (out: string) => out.split('\n').filter((l) => l !== '');
const WARNING = /tsyd: no sandbox capability is on: \S+ runs unconfined/g;
const ALL_OFF = 'sandbox/read,write,create,delete,stat,exec,net/bind,net/connect:off';

test('one -m rule adds to the user profile: the secret stays hidden (it was printed before)', async () => {
  const r = await runTsyd(['run', '-m', 'allow/net/connect+10.0.0.0/8!443', '--', 'cat', `${home}/.ssh/id_x`], { env, cwd: home });
  assert.is(r.code, 1, describe(r));
  assert.is(r.stdout, '', 'the key is not printed');
  assert.match(r.stderr, /No such file or directory/, 'a secret does not exist for the program');
  // what is not a secret reads as under the bare user profile
  const notes = await runTsyd(['run', '-m', 'allow/net/connect+10.0.0.0/8!443', '--', 'cat', `${home}/notes.txt`], { env, cwd: home });
  assert.is(notes.code, 0, describe(notes));
  assert.is(notes.stdout, 'notes\n');
});

test('a -P file adds to the user profile too; -p none -m ... starts from nothing', async () => {
  const dir = tempTree('composition-p', { 'net.policy': 'allow/net/connect+10.0.0.0/8!443\n' });
  const withFile = await runTsyd(['run', '-P', `${dir}/net.policy`, '--', 'cat', `${home}/.ssh/id_x`], { env, cwd: home });
  assert.is(withFile.code, 1, describe(withFile));
  assert.is(withFile.stdout, '');
  const fromNothing = await runTsyd(['run', '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', 'cat', `${home}/.ssh/id_x`], { env, cwd: home });
  assert.is(fromNothing.code, 0, describe(fromNothing));
  assert.is(fromNothing.stdout, 'PRIVATE KEY\n', 'only the rules given apply');
});

test('check composes the same way: the user profile, then the rule; -p none is empty', async () => {
  const rule = 'allow/net/connect+10.0.0.0/8!443';
  const [withRule, user, none] = await Promise.all([
    runTsyd(['check', '-m', rule], { env, cwd: home }),
    runTsyd(['check', '-p', 'user'], { env, cwd: home }),
    runTsyd(['check', '-p', 'none'], { env, cwd: home }),
  ]);
  assert.is(withRule.code, 0, describe(withRule));
  const w = lines(withRule.stdout);
  assert.ok(w.includes('sandbox/read:on') && w.includes(`deny/read+${home}/.ssh/***`), 'the user profile is there');
  assert.ok(w.includes(rule), 'and the rule');
  assert.is(w.length, lines(user.stdout).length + 1);
  assert.is(none.code, 0, describe(none));
  assert.ok(lines(none.stdout).every((l) => /^sandbox\/\S+:off$|^lock:/.test(l)), none.stdout);
});

test('export syscalls composes the same way', async () => {
  const rule = 'allow/net/connect+10.0.0.0/8!443';
  const [withRule, userRule, noneRule] = await Promise.all([
    runTsyd(['export', 'syscalls', '-m', rule]),
    runTsyd(['export', 'syscalls', '-p', 'user', '-m', rule]),
    runTsyd(['export', 'syscalls', '-p', 'none', '-m', rule]),
  ]);
  assert.is(withRule.code, 0, describe(withRule));
  assert.is(withRule.stdout, userRule.stdout);
  assert.is.not(withRule.stdout, noneRule.stdout);
});

test('no capability on: one warning on stderr, unless -p off or -p none alone was asked for', async () => {
  for (const args of [['-m', ALL_OFF], ['-p', 'none', '-m', 'allow/read+/***'], ['-p', 'user', '-m', ALL_OFF], ['-p', 'none', '-p', 'none']]) {
    const r = await runTsyd(['run', ...args, '--', 'true']);
    assert.is(r.code, 0, describe(r));
    assert.equal(r.stderr.match(WARNING), ['tsyd: no sandbox capability is on: true runs unconfined'], `${args.join(' ')}: ${r.stderr}`);
  }
  for (const args of [['-p', 'none'], ['-p', 'off'], [], ['-m', 'allow/read+/***'], ['-p', 'paranoid']]) {
    const r = await runTsyd(['run', ...args, '--', 'true']);
    assert.is(r.code, 0, describe(r));
    assert.not.match(r.stderr, WARNING, `${args.join(' ')}: ${r.stderr}`);
  }
});

test('--inspect runs print the warning too (once)', async () => {
  const r = await runTsyd(['run', '--inspect', '-p', 'none', '-m', 'allow/read+/***', '--', 'true']);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stderr.match(WARNING)?.length, 1, r.stderr);
});

test.run();
