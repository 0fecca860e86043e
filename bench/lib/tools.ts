// What the benchmarks run: the C programs of bench/ (compiled here), the peers (strace, proot
// and bwrap, installed from Debian's packages when missing and allowed), tsyd's CLI, and the facts
// about the machine that a reader needs to compare figures.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: bench/lib/tools.ts is dist/bench/lib/tools.js once built. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const tsydBin = join(root, 'bin', 'tsyd.js');

export const work: string = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'tsyd-bench-'));
  chmodSync(dir, 0o755);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
})();

const built = new Map<string, string>();
/** Compiles bench/NAME.c (or test/fixtures/NAME.c) once, -O2. */
export function cprog(name: string): string {
  const done = built.get(name);
  if (done) return done;
  const src = [join(root, 'bench', `${name}.c`), join(root, 'test', 'fixtures', `${name}.c`)].find((p) => existsSync(p));
  if (!src) throw new Error(`no C source for ${name}`);
  const out = join(work, name);
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
  built.set(name, out);
  return out;
}

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** The executable file `cmd` names on PATH (not a shell builtin), or `cmd` itself. */
export function programPath(cmd: string): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const file = join(dir, cmd);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return cmd;
}

export interface Peer {
  /** The command prefix that runs a program under the peer, or undefined with `why`. */
  prefix?: string[];
  version?: string;
  why?: string;
}

/**
 * strace, proot and bwrap: found on PATH, or installed with apt-get when we are root on a Debian-like
 * machine (BENCH_NO_INSTALL=1 forbids it); otherwise skipped with the reason.
 */
export type Peers = { strace: Peer; proot: Peer; bwrap: Peer };

/** Debian's package of each peer command. */
const PACKAGES: Record<string, string> = { strace: 'strace', proot: 'proot', bwrap: 'bubblewrap' };

export function peers(): Peers {
  const missing = Object.keys(PACKAGES).filter((c) => !which(c)).map((c) => PACKAGES[c]!);
  let installWhy = '';
  if (missing.length > 0) {
    if (process.env.BENCH_NO_INSTALL === '1') installWhy = 'not installed (BENCH_NO_INSTALL=1)';
    else if (process.getuid?.() !== 0) installWhy = 'not installed, and installing needs root';
    else if (!which('apt-get')) installWhy = 'not installed, and there is no apt-get';
    else {
      console.error(`bench: installing ${missing.join(' ')} from Debian's packages`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
      if (r.status !== 0) {
        spawnSync('apt-get', ['update'], { stdio: 'ignore', env });
        r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
      }
      if (r.status !== 0) installWhy = `apt-get install failed: ${r.stderr.trim().split('\n').pop()}`;
    }
  }
  const strace = which('strace');
  const proot = which('proot');
  const bwrap = which('bwrap');
  const version = (argv: string[], re: RegExp): string | undefined => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    return re.exec(`${r.stdout}${r.stderr}`)?.[1];
  };
  return {
    // -qq: no attach/exit lines; -o /dev/null: the cost of tracing, not of a terminal.
    strace: strace
      ? { prefix: [strace, '-f', '-qq', '-o', '/dev/null'], version: version([strace, '-V'], /version (\S+)/) }
      : { why: installWhy || 'strace not found' },
    proot: proot ? { prefix: [proot], version: version([proot, '--version'], /(\d+\.\d+\.\d+)/) } : { why: installWhy || 'proot not found' },
    // The whole system read-only, its own /dev and /proc: bwrap's cheapest useful sandbox.
    bwrap: bwrap
      ? { prefix: [bwrap, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--'], version: version([bwrap, '--version'], /bubblewrap (\S+)/) }
      : { why: installWhy || 'bwrap not found' },
  };
}

/**
 * strace in its fastest form: a seccomp filter stops only `calls` (the others run untraced);
 * `?` lets a name this strace does not know go.
 */
export function straceSeccomp(strace: Peer, calls: string[]): Peer {
  if (!strace.prefix) return strace;
  return { prefix: [strace.prefix[0]!, '-f', '--seccomp-bpf', '-qq', '-o', '/dev/null', '-e', `trace=${calls.map((c) => `?${c}`).join(',')}`] };
}

/** `tsyd run ARGS --` as an argv prefix. */
export function tsyd(...args: string[]): string[] {
  return [process.execPath, tsydBin, 'run', ...args, '--'];
}

export interface MachineFacts {
  date: string;
  cpu: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  commit: string;
  strace?: string;
  proot?: string;
  bwrap?: string;
}

export function machineFacts(p: Peers): MachineFacts {
  const git = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const dirty = spawnSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' });
  return {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    node: process.version,
    commit: git.status === 0 ? git.stdout.trim() + (dirty.stdout.trim() ? ' (with uncommitted changes)' : '') : 'unknown',
    strace: p.strace.version,
    proot: p.proot.version,
    bwrap: p.bwrap.version,
  };
}
