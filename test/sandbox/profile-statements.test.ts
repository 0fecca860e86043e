// The built-in profiles' statements, made the fast way (profileStatements: each path pattern
// parsed once) and the plain way (parseRule on every line): the same statements, the same policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { symlinkSync } from 'node:fs';
import { Policy } from '../../src/sandbox/policy.js';
import { profileLines, profileStatements, PROFILES, type ProfileContext } from '../../src/sandbox/profiles.js';
import { parseRule } from '../../src/sandbox/rules.js';
import { parseRuleList } from '../../src/sandbox/rule-list.js';
import { tempTree } from '../helpers/tmp.js';

const home = tempTree('statements-home', { 'dotfiles/ssh/id_rsa': '', 'dotfiles/bashrc': '', 'proj/a': '' });
symlinkSync('dotfiles/ssh', `${home}/.ssh`);
symlinkSync('dotfiles/bashrc', `${home}/.bashrc`);

const contexts: ProfileContext[] = [
  { cwd: '/home/alice/proj', home: '/home/alice', program: '/usr/bin/true' },
  { cwd: `${home}/proj`, home, tmp: `${home}/tmp dir`, runtime: '/run/user/1000', agents: ['/tmp/ssh-x/agent.1'], path: [`${home}/.local/bin`, '/usr/bin'] },
  { cwd: home, home, homes: ['/var/lib/postgresql', `${home}/[odd]*home`], program: `${home}/prog é` },
  { cwd: '/', home: '/' },
];

test('every profile: the statements of profileStatements are parseRule of each of its lines', () => {
  for (const ctx of contexts) {
    for (const name of PROFILES) {
      const plain = profileLines(name, ctx).map((l) => parseRule(l, { kind: 'profile', name }));
      const fast = profileStatements(name, ctx);
      assert.equal(fast, plain, `${name} in ${ctx.cwd}`);
      assert.equal(Policy.from(fast).normalized(), Policy.from(plain).normalized(), `${name} in ${ctx.cwd}`);
    }
  }
  assert.ok(profileLines('user', contexts[1]!).length > 1000, 'the user profile is the long one');
});

test('parseRuleList: lines it cannot take over are parsed as they are, errors and all', () => {
  const src = () => ({ kind: 'arg' }) as const;
  const lines = ['allow/read+/a/*', 'allow/write+/a/*', ' allow/stat+/a/* ', 'deny/net/connect+/a/*', 'allow/net/bind+@x', 'allow/net/connect+loopback!80', 'sandbox/read:on'];
  assert.equal(parseRuleList(lines, src), lines.map((l) => parseRule(l, src())));
  for (const bad of [['allow/read+/a/..', 'allow/write+/a/..'], ['allow/read+/a', 'allow/reed+/a'], ['allow/read+/a', 'allow/read+a']]) {
    let plain = '';
    try {
      bad.map((l) => parseRule(l, src()));
    } catch (e) {
      plain = (e as Error).message;
    }
    assert.throws(() => parseRuleList(bad, src), (e: Error) => e.message === plain && plain !== '');
  }
});

test.run();
