// The names behind a policy file (the file, the symlinks on the way), and buildPolicy
// protecting the -P files and the files the profile context was read from.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { PolicyError } from '../../src/errors.js';
import { buildPolicy, profileContext } from '../../src/sandbox/build.js';
import { policyFileNames } from '../../src/sandbox/policy-files.js';
import { tempTree } from '../helpers/tmp.js';

test('a plain file: its canonical path; relative to the cwd given', () => {
  const d = tempTree('pf-plain', { 'conf/app.policy': 'sandbox/read:on\n' });
  assert.equal(policyFileNames(`${d}/conf/app.policy`), [`${d}/conf/app.policy`]);
  assert.equal(policyFileNames('conf/./app.policy', d), [`${d}/conf/app.policy`]);
});

test('behind symlinks: every link on the way (its own place) and where it leads', () => {
  const d = tempTree('pf-links', { 'dotfiles/tsyd/app.policy': '' });
  symlinkSync('dotfiles/tsyd', `${d}/conf`);
  symlinkSync('conf/app.policy', `${d}/current`);
  assert.equal(policyFileNames(`${d}/current`), [`${d}/current`, `${d}/conf`, `${d}/dotfiles/tsyd/app.policy`]);
  // `..` after a link is the link target's parent, as the kernel resolves it.
  mkdirSync(`${d}/dotfiles/other`);
  symlinkSync('dotfiles/other', `${d}/o`);
  assert.equal(policyFileNames(`${d}/o/../tsyd/app.policy`), [`${d}/o`, `${d}/dotfiles/tsyd/app.policy`]);
});

test('a file that does not exist yet (learn -o) is named where it would be', () => {
  const d = tempTree('pf-missing');
  symlinkSync(d, `${d}/here`);
  assert.equal(policyFileNames(`${d}/here/new.policy`), [`${d}/here`, `${d}/new.policy`]);
});

test('fails closed: a file with other hard links, a symlink loop', () => {
  const d = tempTree('pf-bad', { 'a.policy': '' });
  linkSync(`${d}/a.policy`, `${d}/b`);
  assert.throws(() => policyFileNames(`${d}/a.policy`), (e: Error) => e instanceof PolicyError && /2 hard links/.test(e.message));
  symlinkSync('loop2', `${d}/loop1`);
  symlinkSync('loop1', `${d}/loop2`);
  assert.throws(() => policyFileNames(`${d}/loop1`), (e: Error) => e instanceof PolicyError && /symbolic links/.test(e.message));
});

test('buildPolicy protects the -P files and the files the profile read, not those of a profile it never built', () => {
  const d = tempTree('pf-build');
  writeFileSync(`${d}/p`, 'sandbox/write:on\nallow/write+/***\n');
  const withFile = buildPolicy([{ profile: 'none' }, { file: `${d}/p` }, { rule: `allow/write+${d}/p` }], () => {
    throw new Error('no profile: no context');
  });
  assert.equal(withFile.protectedPolicyFiles(), [`${d}/p`]);
  assert.not.ok(withFile.check('write', `${d}/p`), 'the -m after the file does not reach it');
  const ctx = { ...profileContext({ cwd: d }), files: [`${d}/p`] };
  assert.equal(profileContext({ cwd: d }).files, ['/etc/passwd'], 'the user profile reads the homes of /etc/passwd');
  const withProfile = buildPolicy([{ profile: 'off' }], ctx);
  assert.equal(withProfile.protectedPolicyFiles(), [`${d}/p`]);
  assert.equal(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]).protectedPolicyFiles(), []);
  // No -p: the user profile is the base, built from the context, whose files are protected.
  assert.equal(buildPolicy([{ rule: 'sandbox/read:on' }], ctx).protectedPolicyFiles(), [`${d}/p`]);
});

test.run();
