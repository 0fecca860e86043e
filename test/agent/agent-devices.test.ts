// A container's device rules (its device cgroup: runc allows null, zero, full, random, urandom,
// tty, ptmx, pts and what config.json adds) hold under the agent, which opens files from its own
// cgroup: a device node made in the container (CAP_MKNOD, Docker's and podman's default) or shipped
// in its image opens under the agent exactly when it opens natively. The container holds
// CAP_MKNOD, which the agent's emulators drop: its own /proc entries (fd/N, exe) still answer as
// natively (the same-process exemption is kept for it).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { agentForFile } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('devices');
const RULES = ['sandbox/read:on', 'allow/read+/***', 'sandbox/write:on', 'allow/write+/***'];
const served = agentForFile(test, tmp, 'devices', RULES, missing);
let seq = 0;

/**
 * Nodes in the image: kvm (10:232, no rule allows it), vcs (7:0, allowed by the bundle's own
 * rule for reading only), null2 (1:3, runc's default). `mknod` makes kvm2 in the container.
 */
const PROBE = `p() { name=$1; shift; "$@" > /dev/null 2>/tmp/err; echo "$name rc=$? $(cat /tmp/err)"; }
p kvm-read cat /tmp/kvm
p kvm-write sh -c 'echo > /tmp/kvm'
p vcs-read head -c 1 /tmp/vcs
p vcs-write sh -c 'echo > /tmp/vcs'
p null2-read cat /tmp/null2
p null2-write sh -c 'echo > /tmp/null2'
p file-fd sh -c 'exec 3</etc/public; cat /proc/self/fd/3'
p null-fd sh -c 'exec 3</tmp/null2; cat /proc/self/fd/3'
p kvm-fd sh -c 'exec 3</tmp/kvm; cat /proc/self/fd/3'
p mknod mknod /tmp/kvm2 c 10 232
p kvm2-read cat /tmp/kvm2
p zero-read head -c 4 /dev/zero
p self-exe readlink /proc/self/exe
p self-fds ls /proc/self/fd/
p self-maps head -c 1 /proc/self/maps
p self-auxv head -c 1 /proc/self/auxv
p exec-kvm /tmp/kvm
p excl-link sh -c 'ln -s /nowhere /tmp/dl; set -C; echo > /tmp/dl'
mkfifo -m 777 /tmp/f
(exec 3>/tmp/f; echo opened > /tmp/w) &
sleep 0.3
p exec-fifo /tmp/f
sleep 0.5
echo "fifo writer $(cat /tmp/w 2>/dev/null || echo blocked)"
kill $! 2>/dev/null
`;

/** The device rules runc spec writes, and the bundle's own rule for 7:0 (read only). */
const OWN_RULE = (devices: object[]) => [...devices, { allow: true, type: 'c', major: 7, minor: 0, access: 'r' }];

async function probe(seccomp?: object, rules = OWN_RULE): Promise<string> {
  const id = `tsyd-dev-${process.pid}-${++seq}`;
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', PROBE], seccomp, (config) => {
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_MKNOD'];
    for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set] = caps;
    config.linux.resources.devices = rules(config.linux.resources.devices);
  });
  for (const [name, ma, mi] of [['kvm', 10, 232], ['vcs', 7, 0], ['null2', 1, 3]] as const) {
    const made = spawnSync('mknod', ['-m', '666', join(bundle.rootfs, 'tmp', name), 'c', String(ma), String(mi)]);
    assert.is(made.status, 0, String(made.stderr));
  }
  try {
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    return r.stdout;
  } finally {
    removeContainer(id);
  }
}

test("device nodes open under the agent as natively: the container's cgroup rules (its own added one too), not the agent's; own /proc entries of a caller with CAP_MKNOD too", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const native = await probe();
  // What the comparison relies on: the kernel refuses kvm and vcs for writing, lets the rest go.
  assert.match(native, /^kvm-read rc=1 .*Operation not permitted$/m, native);
  assert.match(native, /^vcs-read rc=0 $/m, native);
  assert.match(native, /^vcs-write rc=1 .*Operation not permitted$/m, native);
  assert.match(native, /^null2-write rc=0 $/m, native);
  assert.match(native, /^mknod rc=0 $/m, native);
  assert.match(native, /^kvm2-read rc=1 .*Operation not permitted$/m, native);
  assert.match(native, /^exec-kvm rc=126 .*Permission denied$/m, native);
  assert.match(native, /^fifo writer blocked$/m, 'natively an exec opens nothing: ' + native);
  const seccomp = exportOciSeccomp(buildPolicy(served.inputs), served.agent.socket);
  const agent = await probe(seccomp);
  assert.fixture(agent, native);
});

test('a cgroup that allows every device but some (devices.list shows only "a *:* rwm") keeps its refusals under the agent', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const allBut = () => [{ allow: true, access: 'rwm' }, { allow: false, type: 'c', major: 10, minor: 232, access: 'rwm' }];
  const native = await probe(undefined, allBut);
  assert.match(native, /^kvm-read rc=1 .*Operation not permitted$/m, native);
  assert.match(native, /^null2-read rc=0 $/m, native);
  const agent = await probe(exportOciSeccomp(buildPolicy(served.inputs), served.agent.socket), allBut);
  for (const line of ['kvm-read', 'kvm-write', 'kvm-fd', 'kvm2-read', 'null2-read', 'null2-write', 'zero-read']) {
    const mine = new RegExp(`^${line} .*$`, 'm');
    assert.is(mine.exec(agent)?.[0], mine.exec(native)?.[0], line);
  }
});

test.run();
