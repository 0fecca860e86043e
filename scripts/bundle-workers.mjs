// Bundles the code of the supervisor threads (monitor, emulators) and the CLI into
// CommonJS files that load synchronously, dependencies included (pino, xstate; piscina stays a
// package: it finds its own worker script next to itself; so does elkjs, see below).
//
// Why: start-up. Node's ESM loader resolves and reads dozens of modules per thread; one CommonJS
// file per thread took `tsyd run -- true` from 0.53 s to 0.35 s, and the CLI's own bundle takes
// its imports from ~85 ms to ~25 ms. The library (dist/src/index.js) stays ES modules.
//
// Each bundle is written as NAME.bundle.cjs with its V8 code cache (NAME.bundle.cjs.v8cache),
// and NAME.cjs is a two-line stub that runs the bundle with that cache
// (src/shared/code-cache.cts): the names the code loads stay the same.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const actors = join(root, 'dist', 'src', 'actors');
const cli = join(root, 'dist', 'src', 'cli');
const bundles = [
  ...['emulator.task', 'monitor.worker', 'ipc.worker'].map((name) => ({ from: join(actors, `${name}.js`), to: join(actors, `${name}.cjs`) })),
  // The CLI's bundle sits in cli/, at the same depth as actors/: the relative URLs of the
  // modules it holds (../actors/monitor.worker.cjs, ../../../build/Release/tsyd.node,
  // ../../../package.json) resolve from there as from their own files.
  { from: join(cli, 'main.js'), to: join(cli, 'cli.cjs') },
];
const { CACHED_BUNDLES, makeCaches } = createRequire(import.meta.url)(join(root, 'dist', 'src', 'shared', 'code-cache.cjs'));
const bundleOf = (to) => to.replace(/\.cjs$/, '.bundle.cjs');
await Promise.all(
  bundles.map(({ from, to }) =>
    build({
      entryPoints: [from],
      outfile: bundleOf(to),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // elkjs (1.6 MB, loaded only by `tsyd viz --format svg`) stays a package: imported when drawn.
      external: ['piscina', 'elkjs'],
      // import() becomes a require() when called: a bundle runs as a vm.Script (its code cache,
      // src/shared/code-cache.cts), where Node 20 refuses import() of a script made from a cache.
      supported: { 'dynamic-import': false },
      // import.meta.url of the bundle itself: it sits where the ESM file did (or at the same
      // depth), so relative URLs resolve the same.
      define: { 'import.meta.url': '__tsyd_import_meta_url' },
      banner: { js: "const __tsyd_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
      logLevel: 'warning',
    }),
  ),
);
// The same caches are made again at install time (bin/make-code-caches.cjs): one list of bundles.
const cached = makeCaches(join(root, 'dist', 'src'));
if (cached.length !== bundles.length) throw new Error(`code caches made for ${cached.join(', ')}: CACHED_BUNDLES (src/shared/code-cache.cts) must name every bundle`);
for (const { to } of bundles) {
  const bundle = bundleOf(to);
  writeFileSync(
    to,
    `// Made by scripts/bundle-workers.mjs: runs ${basename(bundle)} with its V8 code cache.\n` +
      `module.exports = require('../shared/code-cache.cjs').requireCached(require('node:path').join(__dirname, ${JSON.stringify(basename(bundle))}));\n`,
  );
}
