// tsyd agent serving a podman container: podman 4.3 copies listenerPath and listenerMetadata of a
// `--security-opt seccomp=FILE` profile (the output of `tsyd export oci-seccomp`) into the bundle,
// and runc hands the listener to the agent, as with a bundle written by hand.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsydBin } from '../helpers/tsyd.js';
import { containersMissing, makeRootfs, scratch } from './container.js';
import { denials, startAgent } from './agent-process.js';
import { podmanMissing, runPodman } from './podman.js';

const missing = containersMissing() ?? podmanMissing();
const tmp = scratch('podman');

test.after(() => tmp.remove());

test("a podman container is served with its profile's listener and metadata: a denied read EACCES, one record with podman's id", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  // The default policy denies /etc/public; the container's metadata names the policy that denies
  // /etc/secret instead: had podman dropped listenerMetadata, the other file would be denied.
  const policies = join(tmp.dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'secret.policy'), 'sandbox/read:on\nallow/read+/***\ndeny/read+/etc/secret\n');
  const agent = await startAgent(tmp.dir, 'podman', ['--policies', policies, '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/public']);
  try {
    const exported = spawnSync(process.execPath, [tsydBin, 'export', 'oci-seccomp', '--listener', agent.socket, '--metadata', 'policy=secret', '-p', 'none', '-m', 'sandbox/read:on']);
    assert.is(exported.status, 0, String(exported.stderr));
    const profile = join(tmp.dir, 'seccomp.json');
    writeFileSync(profile, exported.stdout);
    const rootfs = makeRootfs(join(tmp.dir, 'rootfs'));
    const r = runPodman(rootfs, profile, join(tmp.dir, 'cid'), ['sh', '-c', 'cat /etc/public; cat /etc/secret; echo rc=$?']);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /container public/);
    assert.match(r.stderr, /can't open '\/etc\/secret': Permission denied/);
    assert.match(r.stdout, /rc=1/);
    assert.match(r.id, /^[0-9a-f]{64}$/);
    const mine = denials(agent, r.id);
    assert.is(mine.length, 1, JSON.stringify(agent.records()));
    assert.is(mine[0]!.path, '/etc/secret');
    const served = agent.records().find((rec) => rec.op === 'serve_container' && rec.container === r.id);
    assert.is(served?.policy, 'secret', JSON.stringify(served));
  } finally {
    await agent.stop();
  }
});

test.run();
