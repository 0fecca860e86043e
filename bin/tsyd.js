#!/usr/bin/env node
// The `tsyd` command: a thin loader for the compiled CLI (built by `npm install` via `prepare`):
// its CommonJS bundle (scripts/bundle-workers.mjs: one file, loads ~60 ms faster), else the
// compiled ES modules. What keeps it from loading (not built, no addon: installed with
// --ignore-scripts) is one line and exit 125, as every start failure of tsyd.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/src/cli/cli.cjs', import.meta.url);
const modules = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
try {
  if (existsSync(bundle)) ({ main } = createRequire(import.meta.url)(fileURLToPath(bundle)));
  else if (existsSync(modules)) ({ main } = await import(modules.href));
  else throw Object.assign(new Error('tsyd: not built yet (no dist/): run `npm install` (or `npm run build`) in the tsyd checkout'), { code: 'ENOTBUILT' });
} catch (err) {
  // ENOADDON, EADDONLAYOUT (src/native/addon.ts) say what to run; anything else is a bug.
  const known = err && (err.code === 'ENOTBUILT' || err.code === 'ENOADDON' || err.code === 'EADDONLAYOUT');
  process.stderr.write(known ? `${err.message}\n` : `tsyd: cannot load: ${err?.stack ?? String(err)}\n`);
  process.exit(125);
}
await main(process.argv.slice(2));
