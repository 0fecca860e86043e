#!/usr/bin/env node
// Run by `npm install` (package.json "install", after the addon's build): writes the V8 code
// caches of the CLI and thread bundles for the files as installed. A cache names the file it was
// made from (inode, size, mtime: src/shared/code-cache.cts), and the copy an install extracts
// from the tarball is a new file, so the caches shipped never match it: without this every start
// of an installed tsyd compiles its bundles. In a checkout before its first build there is
// nothing to cache yet (`prepare` builds and caches). A cache that cannot be written only costs
// the compile it would have saved: a warning, never a failed install.
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const distSrc = join(__dirname, '..', 'dist', 'src');
const lib = join(distSrc, 'shared', 'code-cache.cjs');
if (existsSync(lib)) {
  try {
    require(lib).makeCaches(distSrc);
  } catch (err) {
    process.stderr.write(`tsyd: no code cache made (start-up compiles its bundles): ${err?.message ?? String(err)}\n`);
  }
}
