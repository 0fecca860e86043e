// The policy cache reuses a built policy only while every read of its build sees the same:
// a secret that appears in a home (here a dotfile symlink: its target becomes a secret), an
// edited -P file, a failed build — each builds anew. (Fails with a cache that ignores the reads.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { buildPolicy, profileContext } from '../../src/sandbox/build.js';
import { PolicyCache } from '../../src/sandbox/policy-cache.js';
import { recordReads, sameReads } from '../../src/sandbox/fs-reads.js';
import { tempTree } from '../helpers/tmp.js';

const userPolicy = (home: string, cwd: string) => () => buildPolicy([], () => profileContext({ cwd, env: { ...process.env, HOME: home } }));

test('nothing changed: the kept policy is given again (one build)', () => {
  const home = tempTree('pcache-same-home');
  const cwd = tempTree('pcache-same-cwd');
  const cache = new PolicyCache();
  const first = cache.get('k', userPolicy(home, cwd));
  assert.is(cache.get('k', userPolicy(home, cwd)), first);
  assert.equal([cache.misses, cache.hits], [1, 1]);
});

test('a secret appears in the home between two builds (a dotfile linked elsewhere): denied by the second', () => {
  const home = tempTree('pcache-link-home');
  const cwd = tempTree('pcache-link-cwd');
  const elsewhere = tempTree('pcache-link-dotfiles', { netrc: 'machine x password y\n' });
  const cache = new PolicyCache();
  const before = cache.get('k', userPolicy(home, cwd));
  assert.ok(before.check('read', `${elsewhere}/netrc`), 'a plain file in a temp dir is readable');
  symlinkSync(`${elsewhere}/netrc`, `${home}/.netrc`);
  const after = cache.get('k', userPolicy(home, cwd));
  assert.is.not(after, before);
  assert.not.ok(after.check('read', `${elsewhere}/netrc`), 'the target of ~/.netrc is a secret');
});

test('an edited -P file: built anew with its new rules', () => {
  const d = tempTree('pcache-file', { 'app.policy': 'sandbox/read:on\nallow/read+/***\n' });
  const build = () => buildPolicy([{ profile: 'none' }, { file: `${d}/app.policy` }]);
  const cache = new PolicyCache();
  assert.ok(cache.get('k', build).check('read', '/etc/hostname'));
  writeFileSync(`${d}/app.policy`, 'sandbox/read:on\nallow/read+/***\ndeny/read+/etc/hostname\n');
  assert.not.ok(cache.get('k', build).check('read', '/etc/hostname'));
});

test('a build that throws is not kept; another key builds its own', () => {
  const cache = new PolicyCache();
  let calls = 0;
  const failing = () => {
    calls++;
    throw new Error('bad rule');
  };
  assert.throws(() => cache.get('k', failing), /bad rule/);
  assert.throws(() => cache.get('k', failing), /bad rule/);
  assert.is(calls, 2);
  const none = () => buildPolicy([{ profile: 'none' }]);
  assert.is.not(cache.get('a', none), cache.get('b', none));
});

test('reads replayed: a new name in a listed home, an edited file, a moved link are each seen', () => {
  const home = tempTree('pcache-reads-home', { 'dotfiles/ssh/id': 'KEY' });
  const cwd = tempTree('pcache-reads-cwd', { 'app.policy': 'allow/read+/***\n' });
  symlinkSync(`${home}/dotfiles/ssh`, `${home}/.ssh`);
  const build = () => buildPolicy([{ file: `${cwd}/app.policy` }], () => profileContext({ cwd, env: { ...process.env, HOME: home } }));
  const fresh = () => recordReads(build).reads;
  let reads = fresh();
  assert.ok(sameReads(reads), 'nothing changed');
  writeFileSync(`${home}/.bashrc`, '');
  assert.not.ok(sameReads(reads), 'a new name in the home listing');
  reads = fresh();
  writeFileSync(`${cwd}/app.policy`, 'allow/read+/etc/***\n');
  assert.not.ok(sameReads(reads), 'the -P file edited');
  reads = fresh();
  unlinkSync(`${home}/.ssh`);
  symlinkSync(`${home}/dotfiles`, `${home}/.ssh`);
  assert.not.ok(sameReads(reads), 'the ~/.ssh link points elsewhere');
});

test('a -P file that is a FIFO is never read again to compare (it would block): the cache misses', () => {
  const d = tempTree('pcache-fifo');
  const fifo = `${d}/rules`;
  execFileSync('mkfifo', [fifo]);
  // A writer for the build's one read; none for a second.
  const writer = spawn('sh', ['-c', `printf 'sandbox/read:on\\n' > ${fifo}`]);
  const { reads } = recordReads(() => buildPolicy([{ profile: 'none' }, { file: fifo }]));
  writer.kill();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { sameReads } = await import(${JSON.stringify(new URL('../../src/sandbox/fs-reads.js', import.meta.url).href)});
    process.stdout.write(String(sameReads(${JSON.stringify(reads)})));`], { encoding: 'utf8', timeout: 10_000 });
  assert.is(child.stdout.trim(), 'false', `${child.signal ?? ''} ${child.stderr}`);
});

test.run();
