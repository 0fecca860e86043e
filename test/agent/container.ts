// Real containers for the agent's tests: a rootfs made of Debian's busybox-static in a tmp dir,
// an OCI bundle (runc spec, then our process and seccomp section), `runc run` as a child.
// runc and busybox-static are Debian packages (.ci/run installs them as root).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'cat', 'echo', 'ls', 'sleep', 'mkfifo', 'touch', 'true', 'stat', 'seq', 'dd', 'head', 'date', 'su', 'id', 'readlink', 'tr', 'mknod'];

/** Why containers cannot run here (a sentence that says how to fix it), or undefined. */
export function containersMissing(): string | undefined {
  const runc = spawnSync('runc', ['--version']);
  if (runc.error !== undefined || runc.status !== 0) return 'runc is missing: apt-get install -y runc (as root; .ci/run does it)';
  // The static build: the rootfs holds no libraries (Debian's `busybox` package is dynamic).
  if (!existsSync(BUSYBOX) || spawnSync('dpkg', ['-s', 'busybox-static']).status !== 0) {
    return 'busybox-static is missing: apt-get install -y busybox-static (as root; .ci/run does it)';
  }
  if (process.getuid?.() !== 0) return 'the container tests run as root (runc run of a rootful bundle)';
  return undefined;
}

/** A tmp dir for one test file: rootfs builds and sockets go below it. */
export function scratch(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `tsyd-agent-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Bundle {
  dir: string;
  rootfs: string;
}

/** A rootfs at `rootfs`: busybox-static and its applets in /bin, /etc/secret and /etc/public. */
export function makeRootfs(rootfs: string): string {
  for (const d of ['bin', 'etc', 'proc', 'dev', 'tmp', 'sys']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc/secret'), 'container secret\n');
  writeFileSync(join(rootfs, 'etc/public'), 'container public\n');
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  return rootfs;
}

/**
 * A bundle in `dir`: rootfs with busybox-static and its applets in /bin, /etc/secret and
 * /etc/public, the process `args`, the `seccomp` section (or none). Read-write rootfs.
 */
export function makeBundle(dir: string, args: string[], seccomp?: object, extra: (config: Record<string, any>) => void = () => {}): Bundle {
  const rootfs = makeRootfs(join(dir, 'rootfs'));
  const spec = spawnSync('runc', ['spec'], { cwd: dir });
  if (spec.status !== 0) throw new Error(`runc spec failed: ${String(spec.stderr)}`);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, any>;
  config.process.terminal = false;
  config.process.args = args;
  config.process.env = ['PATH=/bin'];
  config.root.readonly = false;
  if (seccomp !== undefined) config.linux.seccomp = seccomp;
  extra(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 1));
  return { dir, rootfs };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `runc run --bundle DIR ID`: the container's output and runc's status (the container's exit status). */
export function runContainer(bundle: Bundle, id: string, timeoutMs = 60_000): Promise<RunResult> {
  const child = startContainer(bundle, id);
  return finished(child, id, timeoutMs);
}

/** Starts `runc run` (no wait). */
export function startContainer(bundle: Bundle, id: string): ChildProcess {
  return spawn('runc', ['run', '--bundle', bundle.dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Waits for a started container; after `timeoutMs` it is killed (runc kill, then delete). */
export function finished(child: ChildProcess, id: string, timeoutMs = 60_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => removeContainer(id), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Kills and deletes a container that may be left (a failed test); never throws. */
export function removeContainer(id: string): void {
  spawnSync('runc', ['kill', id, 'KILL']);
  spawnSync('runc', ['delete', '--force', id]);
}
