// Compiles the C fixture programs of test/fixtures/ on first use, once per test process, into a
// private temp dir that every user may read and execute (the unprivileged tests run them as nobody).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: the nearest directory above this file that holds package.json. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
})();

const sourceDir = join(repoRoot, 'test', 'fixtures');
const compiled = new Map<string, string>();
let outDir: string | undefined;

function binDir(): string {
  if (outDir === undefined) {
    outDir = mkdtempSync(join(tmpdir(), 'tsyd-fixtures-'));
    chmodSync(outDir, 0o755);
    const dir = outDir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return outDir;
}

/** Absolute path of the compiled fixture `name` (test/fixtures/NAME.c), compiling it if needed. */
export function fixture(name: string): string {
  return compile(join(sourceDir, `${name}.c`), name);
}

/** Like fixture(), linked static and not PIE (runs in a rootfs without libraries; static data below 4 GiB). */
export function staticFixture(name: string): string {
  return compile(join(sourceDir, `${name}.c`), `${name}-static`, ['-static', '-no-pie']);
}

/** Absolute path of the compiled program `name` of the fidelity harness (test/fidelity/NAME.c). */
export function fidelityProgram(name: string): string {
  return compile(join(repoRoot, 'test', 'fidelity', `${name}.c`), `fidelity-${name}`);
}

/** Absolute path of the compiled benchmark program `name` (bench/NAME.c), e.g. csuper. */
export function benchProgram(name: string): string {
  return compile(join(repoRoot, 'bench', `${name}.c`), `bench-${name}`);
}

function compile(src: string, name: string, flags: string[] = []): string {
  const done = compiled.get(name);
  if (done !== undefined) return done;
  if (!existsSync(src)) throw new Error(`no C source ${src}`);
  const out = join(binDir(), name);
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Werror', '-pthread', ...flags, '-o', out, src], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`cc failed for ${src}:\n${stderr}`, { cause: err });
  }
  chmodSync(out, 0o755);
  compiled.set(name, out);
  return out;
}
