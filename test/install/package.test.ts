// The npm package as a consumer gets it: what the tarball ships, a --ignore-scripts install
// (no addon: one clear line, exit 125), and a scratch TypeScript project that installs the
// packed tarball, type-checks a script against its types (strict, skipLibCheck false) and runs it.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let dir: string;
let tarball: string;

function sh(cmd: string, args: string[], opts: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000, ...opts, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...opts.env } });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function npmProject(name: string): string {
  const p = join(dir, name);
  mkdirSync(p);
  writeFileSync(join(p, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  return p;
}

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsyd-pack-'));
  // The build is current (npm test builds first): `prepare` is not run again here.
  const r = sh('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { cwd: root });
  assert.is(r.status, 0, r.stderr);
  tarball = join(dir, (JSON.parse(r.stdout) as Array<{ filename: string }>)[0]!.filename);
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the tarball ships what runs: no tests, bench, CI or sources beyond the addon and the inspector page', () => {
  const r = sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
  assert.is(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as Array<{ entryCount: number; files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path);
  for (const must of ['bin/tsyd.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/cli.cjs', 'dist/src/cli/cli.bundle.cjs.v8cache', 'dist/src/actors/monitor.worker.cjs', 'dist/src/actors/emulator.task.bundle.cjs.v8cache', 'src/inspect/page/index.html', 'binding.gyp', 'addon/spawn.cc', 'README.md', 'LICENSE', 'package.json']) {
    assert.ok(files.includes(must), `ships ${must}`);
  }
  const stray = files.filter((f) => /^(test|bench|\.ci|scripts|docs|dist\/test|dist\/bench)\//.test(f) || f.endsWith('.map') || (f.startsWith('src/') && !f.startsWith('src/inspect/page/')));
  assert.equal(stray, []);
  // A guard against shipping something new by mistake (each new source of the addon and each
  // thread bundle adds a few; Crypt sandboxing took it past 300, the containers agent — 18 files
  // of dist/src/agent, its addon source and CLI — to 370).
  assert.ok(pack!.entryCount < 400, `${pack!.entryCount} files`);
});

test('installed with --ignore-scripts: one line that says `npm rebuild tsyd`, exit 125, no stack trace', () => {
  const p = npmProject('noscripts');
  const inst = sh('npm', ['install', tarball, '--ignore-scripts', '--prefer-offline'], { cwd: p });
  assert.is(inst.status, 0, inst.stderr);
  const r = sh(join(p, 'node_modules', '.bin', 'tsyd'), ['run', '--', 'true'], { cwd: p });
  assert.is(r.status, 125);
  assert.match(r.stderr, /npm rebuild tsyd/);
  assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
});

const CONSUMER = `import { run, type SandboxResult, type Violation } from 'tsyd';
const ac = new AbortController();
const r: SandboxResult = await run('sh', ['-c', 'echo hello; cat /etc/hostname >/dev/null'], {
  policy: [{ profile: 'user' }, { rule: 'deny/read+/etc/hostname' }],
  signal: ac.signal,
  timeout: 60_000,
  stdio: ['ignore', 'pipe', 'ignore'],
  logLevel: 'silent',
});
const out: string | undefined = r.stdout;
const denied: Violation[] = r.violations;
const slow = await run('sleep', ['30'], { timeout: 100, killGrace: 100, stdio: 'ignore', logLevel: 'silent' });
console.log(JSON.stringify({ out, denied: denied.map((v) => v.path), timedOut: slow.timedOut, code: slow.error?.code }));
`;

test('a TypeScript project installs the packed tarball, type-checks (strict, skipLibCheck false) and runs a script', () => {
  const p = npmProject('consumer');
  // npm builds the addon (the install script: node-gyp rebuild); the dependencies come from
  // npm's cache when there (--prefer-offline), else from the registry.
  const inst = sh('npm', ['install', tarball, '--prefer-offline'], { cwd: p });
  assert.is(inst.status, 0, inst.stderr);
  assert.ok(readdirSync(join(p, 'node_modules', 'tsyd', 'build', 'Release')).includes('tsyd.node'));
  // The code caches name the files as installed (bin/make-code-caches.cjs, the install script):
  // those packed name the packer's files, and every start would compile its bundles again.
  const installed = join(p, 'node_modules', 'tsyd', 'dist', 'src');
  const caches = createRequire(import.meta.url)(join(installed, 'shared', 'code-cache.cjs')) as { CACHED_BUNDLES: string[]; cacheMatches(bundle: string): boolean };
  assert.equal(caches.CACHED_BUNDLES.filter((b) => !caches.cacheMatches(join(installed, b))), [], 'every bundle has a code cache made from it as installed');
  writeFileSync(join(p, 'main.ts'), CONSUMER);
  const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, outDir: 'out', types: ['node'] }, files: ['main.ts'] };
  writeFileSync(join(p, 'tsconfig.json'), JSON.stringify(tsconfig));
  // This checkout's TypeScript and Node types (its devDependencies): nothing more to fetch.
  symlinkSync(join(root, 'node_modules', 'typescript'), join(p, 'node_modules', 'typescript'));
  mkdirSync(join(p, 'node_modules', '@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(p, 'node_modules', '@types', 'node'));
  const tsc = sh(process.execPath, [join(p, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', p], { cwd: p });
  assert.is(tsc.status, 0, tsc.stdout + tsc.stderr);
  const r = sh(process.execPath, [join(p, 'out', 'main.js')], { cwd: p });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { out: 'hello\n', denied: ['/etc/hostname'], timedOut: true, code: 'ETIMEDOUT' });
});

test.run();
