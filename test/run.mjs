#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with uvu, one process per file, and ends
// with the plain line "N passed, N failed" that CI reads. Exits non-zero on any failure, any
// skipped test and on zero tests.
//
// One process per file: a test that leaves a child or a handle behind (a failed assertion before
// its clean-up) cannot keep the whole run alive, and a file that hangs is killed after
// FILE_TIMEOUT_MS and counted as failed, with its name, instead of stalling CI for ever.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.log('0 passed, 1 failed');
  console.error('test: dist/test is missing: run `npm run build` first');
  process.exit(1);
}
/** A file whose tests run longer than this is killed (the longest takes ~2 min on 2 CPUs). */
const FILE_TIMEOUT_MS = Number(process.env.TSYD_TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);
/** A file still running this long after uvu printed its summary left something behind. */
const EXIT_GRACE_MS = 20_000;

// uvu's own rule: the pattern is a case-insensitive regex on the path below dist/test.
const pattern = new RegExp(process.argv[2] ?? '\\.test\\.js$', 'i');
const files = [];
(function walk(d) {
  for (const name of readdirSync(d)) {
    const full = join(d, name);
    if (statSync(full).isDirectory()) walk(full);
    else if (name.endsWith('.test.js') && pattern.test(relative(dir, full))) files.push(relative(dir, full));
  }
})(dir);
files.sort((a, b) => a.localeCompare(b));

const uvu = join(root, 'node_modules', 'uvu', 'bin.js');
const plain = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs one file; resolves to { passed, failed, skipped, total }. */
function runFile(file) {
  return new Promise((resolve) => {
    // Its own process group: a hung file is killed with everything it started.
    const child = spawn(process.execPath, [uvu, dir, `^${escape(file)}$`], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      detached: true,
    });
    let out = '';
    let why = '';
    const kill = (reason) => {
      why = reason;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    const timer = setTimeout(() => kill(`killed after ${FILE_TIMEOUT_MS / 1000} s: a test hung`), FILE_TIMEOUT_MS);
    let grace;
    child.stdout.on('data', (c) => {
      process.stdout.write(c);
      out += c;
      if (!grace && /Duration:/.test(plain(out))) {
        grace = setTimeout(() => kill(`killed ${EXIT_GRACE_MS / 1000} s after its tests ended: a test left a child or a handle open`), EXIT_GRACE_MS);
      }
    });
    // 'close' waits for the pipe too, which a grandchild that inherited it may hold: after
    // 'exit', the rest of the output gets a moment, not for ever.
    let done = false;
    const finish = (code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      // The group may still hold something started by the tests: end it.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      const num = (label) => {
        const m = new RegExp(`${label}:\\s+(\\d+)`).exec(plain(out));
        return m ? Number(m[1]) : null;
      };
      const total = num('Total');
      const passed = num('Passed') ?? 0;
      const skipped = num('Skipped') ?? 0;
      // uvu's Total counts the tests that ran: skipped ones are not in it.
      let failed = total === null ? 1 : Math.max(total - passed, 0);
      if (why) {
        console.log(`\n${file}: ${why}`);
        if (failed === 0) failed = 1;
      } else if (code !== 0 && failed === 0) {
        console.log(`\n${file}: exited with ${code}`);
        failed = 1;
      }
      resolve({ passed, failed, skipped, total: total ?? 0 });
    };
    child.on('close', finish);
    child.on('exit', (code) => setTimeout(() => finish(code), 2000).unref());
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
let total = 0;
const failedFiles = [];
for (const file of files) {
  const r = await runFile(file);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  total += r.total;
  if (r.failed) failedFiles.push(file);
}
if (failedFiles.length) console.log(`\nfailed in: ${failedFiles.join(', ')}`);
// A skipped test is a failure: a test that cannot run must say so loudly, not pass in silence.
if (skipped) {
  console.log(`${skipped} skipped: a skipped test counts as failed`);
  failed += skipped;
}
if (!total && !failed) failed = 1;
// The last line exactly as CI reads it.
console.log(`${passed} passed, ${failed} failed`);
if (failed > 0 || !total) process.exit(1);
