// Bundles the code of the threads the monitor creates after it unshared its fd table
// (emulators, interrupter) into CommonJS files that load synchronously.
//
// Why: Node's ESM loader reads modules with async fs, i.e. on libuv's thread pool, whose
// threads keep the main thread's fd table. A thread created after unshare(CLONE_FILES) has
// event-loop fds that exist only in the private table; the pool's completion would write to a
// wrong or missing fd (EBADF → abort). CommonJS `require` reads synchronously, in the thread
// itself. Dependencies (pino, xstate) stay external and are required as CommonJS.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entries = ['emulator.task', 'interrupter.worker'];
await Promise.all(
  entries.map((name) =>
    build({
      entryPoints: [join(root, 'dist', 'src', 'actors', `${name}.js`)],
      outfile: join(root, 'dist', 'src', 'actors', `${name}.cjs`),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      // import.meta.url of the bundle itself: it sits where the ESM file did, so relative
      // URLs (../../../build/Release/tsyd.node) resolve the same.
      define: { 'import.meta.url': '__tsyd_import_meta_url' },
      banner: { js: "const __tsyd_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
      logLevel: 'warning',
    }),
  ),
);
