// The built-in profiles' rules parsed the quick way (a rule whose path pattern was checked
// before is not parsed again: rules.ts knownPathRule) and in full (a leading space takes every
// rule through trimRule and parseAccess): the same statements, the same policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { symlinkSync } from 'node:fs';
import { Policy } from '../../src/sandbox/policy.js';
import { profileLines, profileStatements, PROFILES, type ProfileContext } from '../../src/sandbox/profiles.js';
import { parseRule, type RuleSource } from '../../src/sandbox/rules.js';
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

/** parseRule without the quick way: trimRule cuts the leading space, the rest is parsed in full. */
const fullParse = (line: string, source: RuleSource) => parseRule(` ${line}`, source);

test('every profile: its statements are those of a full parse of each of its lines', () => {
  for (const ctx of contexts) {
    for (const name of PROFILES) {
      const source = { kind: 'profile', name } as const;
      const quick = profileStatements(name, ctx);
      const full = profileLines(name, ctx).map((l) => fullParse(l, source));
      assert.equal(quick, full, `${name} in ${ctx.cwd}`);
      assert.equal(Policy.from(quick).normalized(), Policy.from(full).normalized(), `${name} in ${ctx.cwd}`);
    }
  }
  assert.ok(profileLines('user', contexts[1]!).length > 1000, 'the user profile is the long one');
});

test('rules of a known pattern that the quick way must not take are parsed in full, errors and all', () => {
  const src: RuleSource = { kind: 'arg' };
  const lines = ['allow/read+/a/*', 'allow/write+/a/*', 'allow/stat+/a/* ', 'deny/net/connect+/a/*', 'allow/net/bind+/a/*\\ ', 'allow/read-/a/*', 'deny/read^/a/*'];
  for (const l of lines) assert.equal(parseRule(l, src), fullParse(l, src), l);
  const message = (rule: string) => {
    try {
      parseRule(rule, src);
    } catch (e) {
      return (e as Error).message;
    }
    return 'accepted';
  };
  parseRule('allow/read+/a/b', src);
  assert.match(message('allow/reed+/a/b'), /unknown capability 'reed'/);
  assert.match(message('allow/read,write+/a/b'), /one capability per allow rule/);
  assert.match(message('allow/net+/a/b'), /unknown capability 'net'/);
});

test.run();
