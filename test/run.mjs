#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with uvu and ends with the plain
// line "N passed, N failed" that CI reads. Exits non-zero on any failure, any skipped test and
// on zero tests.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.log('0 passed, 1 failed');
  console.error('test: dist/test is missing: run `npm run build` first');
  process.exit(1);
}
const pattern = process.argv[2] ?? '\\.test\\.js$';
const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const r = spawnSync(process.execPath, [uvu, dir, pattern], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
});
process.stdout.write(r.stdout ?? '');
const num = (label) => {
  const m = new RegExp(`${label}:\\s+(\\d+)`).exec((r.stdout ?? '').replace(/\x1b\[[0-9;]*m/g, ''));
  return m ? Number(m[1]) : null;
};
const total = num('Total');
const passed = num('Passed') ?? 0;
const skipped = num('Skipped') ?? 0;
// uvu's Total counts the tests that ran: skipped ones are not in it. A skipped test is a failure:
// a test that cannot run must say so loudly, not pass in silence.
let failed = total === null ? 1 : total - passed;
if (failed < 0) failed = 1;
if (r.status !== 0 && failed === 0) failed = 1;
if (skipped) {
  console.log(`${skipped} skipped: a skipped test counts as failed`);
  failed += skipped;
}
// The last line exactly as CI reads it.
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0 || r.status !== 0 || !total) process.exit(1);
