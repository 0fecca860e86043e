// podman for the agent's tests: `podman run --rootfs DIR` (no image, no registry) with runc as its
// runtime and a seccomp profile file, as README "Containers" tells a podman user.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

/** Why podman containers cannot run here (a sentence that says how to fix it), or undefined. */
export function podmanMissing(): string | undefined {
  const podman = spawnSync('podman', ['--version']);
  if (podman.error !== undefined || podman.status !== 0) return 'podman is missing: apt-get install -y podman (as root; .ci/run does it)';
  return undefined;
}

export interface PodmanResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** podman's id of the container (its --cidfile): the id runc hands to the agent. */
  id: string;
}

/** `podman run --rm --runtime runc --security-opt seccomp=PROFILE --rootfs ROOTFS ARGS...`. */
export function runPodman(rootfs: string, profile: string, cidfile: string, args: string[]): PodmanResult {
  const r = spawnSync(
    'podman',
    [
      'run', '--rm', '--runtime', 'runc', '--network', 'none', '--cidfile', cidfile,
      // podman's default rlimits (nofile 1048576) need CAP_SYS_RESOURCE to be raised to, which
      // the root of a CI container may lack: small fixed ones start anywhere.
      '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
      '--security-opt', `seccomp=${profile}`, '--rootfs', rootfs, ...args,
    ],
    { timeout: 60_000 },
  );
  const id = existsSync(cidfile) ? readFileSync(cidfile, 'utf8').trim() : '';
  // A container left by a timeout or a failed start.
  if (id !== '') spawnSync('podman', ['rm', '--force', '--time', '0', id]);
  rmSync(cidfile, { force: true });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr), id };
}
