// The V8 code cache of tsyd's bundles (src/shared/code-cache.cts, made by
// scripts/bundle-workers.mjs): used when it was made from the bundle as it is, never for another
// version of it, and a bundle without a cache still loads.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';

const { cacheFileOf, makeCache, requireCached } = createRequire(import.meta.url)(join(repoRoot, 'dist', 'src', 'shared', 'code-cache.cjs')) as {
  cacheFileOf(bundle: string): string;
  makeCache(bundle: string): Buffer;
  requireCached(bundle: string): { version: number; dir: string };
};

const source = (version: number) => `module.exports = { version: ${version}, dir: require('node:path').basename(__dirname) };\n`;

test('a bundle runs as require() would, with its cache or without one', () => {
  const dir = tempTree('codecache');
  const bundle = join(dir, 'b.bundle.cjs');
  writeFileSync(bundle, source(1));
  assert.equal(requireCached(bundle), { version: 1, dir: dir.split('/').pop() }, 'no cache: compiled as usual');
  writeFileSync(cacheFileOf(bundle), makeCache(bundle));
  assert.equal(requireCached(bundle).version, 1, 'with its cache');
});

test('SAFETY: a cache made for another version of the bundle (same length) is not used', () => {
  const dir = tempTree('codecache');
  const bundle = join(dir, 'b.bundle.cjs');
  writeFileSync(bundle, source(1));
  writeFileSync(cacheFileOf(bundle), makeCache(bundle));
  const before = statSync(bundle);
  writeFileSync(bundle, source(2)); // the same length: V8's own check would take the old code
  utimesSync(bundle, before.atime, new Date(before.mtimeMs + 1000));
  assert.is(requireCached(bundle).version, 2);
});

test('the build made a cache for the CLI and for every thread bundle, and the bundles load', () => {
  for (const b of ['cli/cli', 'actors/emulator.task', 'actors/monitor.worker']) {
    const bundle = join(repoRoot, 'dist', 'src', `${b}.bundle.cjs`);
    assert.ok(existsSync(cacheFileOf(bundle)), `${b}: cache`);
    assert.match(readFileSync(join(repoRoot, 'dist', 'src', `${b}.cjs`), 'utf8'), /requireCached/, `${b}.cjs is the stub`);
  }
});

test.run();
