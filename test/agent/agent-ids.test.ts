// A container's processes take the ids of its users after the filter is loaded (nginx's and
// postgres's workers, `su`, runc without noNewPrivileges taking process.user): their decided
// calls are made with those ids (the kernel's answer as that user), never refused for the
// emulators' sake, and never made with more (a file of another user stays unreadable).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, copyFileSync, writeFileSync } from 'node:fs';
import { staticFixture } from '../helpers/fixtures.js';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { denials, startAgent, type AgentProcess } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('ids');
const POLICY = ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret'];
let agent: AgentProcess;
let seq = 0;

test.before(async () => {
  if (missing !== undefined) return;
  agent = await startAgent(tmp.dir, 'ids', POLICY);
});

test.after(async () => {
  await agent?.stop();
  tmp.remove();
});

/** Host ids of the user-namespace container: its 0 is the host's 100000. */
const HOST_BASE = 100000;
/** Docker's default adds these to runc spec's three: a container root that may take its users' ids. */
const SETID_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID'];

/**
 * A container running `script`: /etc/mine belongs to the container's uid 1000 (0600), /etc/private to
 * its uid 1234 (0600). `userns`: its ids are the host's from HOST_BASE.
 */
function container(script: string, extra: (config: Record<string, any>) => void = () => {}, userns = false) {
  const id = `tsyd-ids-${process.pid}-${++seq}`;
  const seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }, { rule: 'deny/read+/etc/secret' }]), agent.socket);
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp, (config) => {
    for (const set of ['bounding', 'effective', 'permitted']) config.process.capabilities[set] = SETID_CAPS;
    if (userns) {
      config.linux.namespaces.push({ type: 'user' });
      config.linux.uidMappings = [{ containerID: 0, hostID: HOST_BASE, size: 65536 }];
      config.linux.gidMappings = [{ containerID: 0, hostID: HOST_BASE, size: 65536 }];
    }
    extra(config);
  });
  // The container's users (busybox su reads them); root may su to any without a password.
  writeFileSync(join(bundle.rootfs, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/tmp:/bin/sh\n');
  writeFileSync(join(bundle.rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  // The user namespace's root (host uid HOST_BASE) must reach the bundle below the 0700 scratch dir.
  if (userns) chmodSync(tmp.dir, 0o755);
  const base = userns ? HOST_BASE : 0;
  for (const [name, owner] of [['mine', 1000], ['private', 1234]] as const) {
    const file = join(bundle.rootfs, 'etc', name);
    writeFileSync(file, `${name} of ${owner}\n`);
    chownSync(file, base + owner, base + owner);
    chmodSync(file, 0o600);
  }
  return { id, bundle };
}

/** Reads each file as the container's uid 1000 would: prints NAME=STATUS. */
const READS = 'for f in public mine private secret; do cat /etc/$f; echo $f=$?; done; id -u';

/** The container's output says it read its public file and its own, was refused another user's and the denied one. */
function assertReadAsUser1000(r: { status: number | null; stdout: string; stderr: string }, id: string, who: string): void {
  assert.is(r.status, 0, `${who}: ${r.stderr}`);
  assert.match(r.stdout, /container public\npublic=0/, `${who}: an allowed read works (was EPERM): ${r.stdout} ${r.stderr}`);
  assert.match(r.stdout, /mine of 1000\nmine=0/, `${who}: made as uid 1000: ${r.stdout} ${r.stderr}`);
  assert.match(r.stdout, /private=1/, `${who}: another user's file: ${r.stdout}`);
  assert.not.match(r.stdout, /private of 1234/, `${who}: nothing lent`);
  assert.match(r.stderr, /can't open '\/etc\/private': Permission denied/, `${who}: the kernel's EACCES as uid 1000: ${r.stderr}`);
  assert.match(r.stdout, /secret=1\n1000\n?$/, `${who}: ${r.stdout}`);
  assert.equal(denials(agent, id).map((d) => d.path), ['/etc/secret'], `${who}: the policy's denial only`);
}

test('a root container process that drops to its user 1000 (su, as service workers do) is served as that user', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = container(`su app -s /bin/sh -c '${READS}'`);
  try {
    assertReadAsUser1000(await runContainer(bundle, id), id, 'su');
  } finally {
    removeContainer(id);
  }
});

test('runc without noNewPrivileges (the filter is loaded before process.user is taken): served as process.user', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = container(READS, (config) => {
    config.process.noNewPrivileges = false;
    config.process.user = { uid: 1000, gid: 1000 };
  });
  try {
    assertReadAsUser1000(await runContainer(bundle, id), id, 'noNewPrivileges false');
  } finally {
    removeContainer(id);
  }
});

test("a container in a user namespace: its user 1000 is the host's 101000, and a process dropping to it is served as it", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = container(`su app -s /bin/sh -c '${READS}'`, undefined, true);
  try {
    assertReadAsUser1000(await runContainer(bundle, id), id, 'user namespace');
  } finally {
    removeContainer(id);
  }
});

test('a caller with more than 1024 supplementary groups is refused (EPERM, one record saying why); 1000 groups are served', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const { id, bundle } = container('manygroups 1000 /etc/public; manygroups 1025 /etc/public');
  copyFileSync(staticFixture('manygroups'), join(bundle.rootfs, 'bin/manygroups'));
  try {
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    // SAFETY bound (addon/act-as.cc kMaxCallerGroups): each call for 65536 groups cost the agent ~34 ms.
    assert.is(r.stdout, 'open=0\nopen=EPERM\n', r.stdout + r.stderr);
    const refused = agent.records().filter((x) => x.container === id && x.op === 'follow_credentials');
    assert.is(refused.length, 1, JSON.stringify(refused));
    assert.is(refused[0]!.why, 'the caller has more than 1024 supplementary groups');
  } finally {
    removeContainer(id);
  }
});

test.run();
