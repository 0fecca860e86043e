#!/usr/bin/env node
// The `tsyd` command: a thin loader for the compiled CLI (built by `npm install` via `prepare`):
// its CommonJS bundle (scripts/bundle-workers.mjs: one file, loads ~60 ms faster), else the
// compiled ES modules.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/src/cli/cli.cjs', import.meta.url);
const modules = new URL('../dist/src/cli/main.js', import.meta.url);
let main;
if (existsSync(bundle)) ({ main } = createRequire(import.meta.url)(fileURLToPath(bundle)));
else if (existsSync(modules)) ({ main } = await import(modules.href));
else {
  process.stderr.write('tsyd: not built yet: run `npm install` (or `npm run build`) in the tsyd checkout\n');
  process.exit(125);
}
await main(process.argv.slice(2));
