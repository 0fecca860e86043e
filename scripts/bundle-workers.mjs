// Bundles the code of the supervisor threads (monitor, and the emulators and interrupter it
// creates after it unshared its fd table) into CommonJS files that load synchronously.
//
// Why: Node's ESM loader reads modules with async fs, i.e. on libuv's thread pool, whose
// threads keep the main thread's fd table. A thread created after unshare(CLONE_FILES) has
// event-loop fds that exist only in the private table; the pool's completion would write to a
// wrong or missing fd (EBADF → abort). CommonJS `require` reads synchronously, in the thread
// itself. Bundling the dependencies too (pino, xstate; piscina stays a package) makes each
// thread read one file: start-up of `tsyd run -- true` went from 0.53 s to 0.35 s.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['emulator.task', 'interrupter.worker', 'monitor.worker'];
await Promise.all(
  entries.map((name) =>
    build({
      entryPoints: [join(root, 'dist', 'src', 'actors', `${name}.js`)],
      outfile: join(root, 'dist', 'src', 'actors', `${name}.cjs`),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      // piscina finds its own worker script next to itself: it stays a package.
      external: ['piscina'],
      // import.meta.url of the bundle itself: it sits where the ESM file did, so relative
      // URLs (../../../build/Release/tsyd.node) resolve the same.
      define: { 'import.meta.url': '__tsyd_import_meta_url' },
      banner: { js: "const __tsyd_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
      logLevel: 'warning',
    }),
  ),
);
