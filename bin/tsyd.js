#!/usr/bin/env node
// The `tsyd` command: a thin loader for the compiled CLI (built by `npm install` via `prepare`).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('tsyd: not built yet: run `npm install` (or `npm run build`) in the tsyd checkout\n');
  process.exit(125);
}
const { main } = await import(cli.href);
await main(process.argv.slice(2));
