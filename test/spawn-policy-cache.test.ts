// run() keeps the policy it built for the next sandbox of the same options, and builds anew
// when something the build read has changed: a secret linked into the home between two runs
// is denied on the second (fails with a cache that ignores what the build read).
import { symlinkSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../src/index.js';
import { policyCache } from '../src/supervisor/options.js';
import { tempTree } from './helpers/tmp.js';

const home = tempTree('spawn-pcache-home');
const cwd = tempTree('spawn-pcache-cwd');
const dotfiles = tempTree('spawn-pcache-dotfiles', { netrc: 'machine x password y\n' });
const options = { env: { ...process.env, HOME: home }, cwd, stdio: 'ignore' as const, logLevel: 'silent' as const };

test('the same options twice: the second sandbox takes the kept policy', async () => {
  const hits = policyCache.hits;
  assert.is((await run('true', [], options)).exitCode, 0);
  assert.is((await run('true', [], options)).exitCode, 0);
  assert.is(policyCache.hits, hits + 1);
});

test('a secret linked into the home between two runs is denied on the second', async () => {
  const secret = `${dotfiles}/netrc`;
  assert.is((await run('cat', [secret], options)).exitCode, 0, 'readable before the link');
  symlinkSync(secret, `${home}/.netrc`);
  const r = await run('cat', [secret], options);
  assert.is(r.exitCode, 1);
  assert.ok(r.violations.some((v) => v.path === secret), JSON.stringify(r.violations));
});

test('another environment is another key: $HOME elsewhere is not served the first home policy', async () => {
  const other = tempTree('spawn-pcache-other', { '.netrc': 'machine x\n' });
  const r = await run('cat', [`${other}/.netrc`], { ...options, env: { ...process.env, HOME: other } });
  assert.is(r.exitCode, 1);
});

test.run();
