// tsyd agent and the calls of other ABIs, with real runc containers: an i386 (`int $0x80`) call
// the runtime notifies is refused ENOSYS by the agent, never decided by its number (i386 link is
// x86_64's mmap); the exported profile names the native ABI alone, so an i386 or x32 call in a
// container never runs. And the runtime's part of a container (its calls run as made) ends at the
// container's first exec, whatever file that exec runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../src/native/addon.js';
import { exportOciSeccomp, type OciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { staticFixture } from '../helpers/fixtures.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { agentForFile, denials } from './agent-process.js';

const missing = containersMissing() ?? (native.arch !== 'x86_64' ? 'i386 and x32 are x86_64 ABIs' : undefined);
const tmp = scratch('arch');
const RULES = [
  'sandbox/read:on', 'allow/read+/***', 'deny/read+/etc/secret',
  'sandbox/write:on', 'allow/write+/***', 'deny/write+/etc/secret',
  'sandbox/create:on', 'allow/create+/tmp/***',
  'sandbox/delete:on', 'allow/delete+/tmp/***',
];
const served = agentForFile(test, tmp, 'arch', RULES, missing);
const { inputs } = served;
let seq = 0;

interface RunOptions {
  /** Changes the exported profile. */
  edit?: (profile: OciSeccomp) => void;
  /** Changes the bundle's config. */
  config?: (config: Record<string, any>) => void;
  /** Adds to the rootfs. */
  rootfs?: (rootfs: string) => void;
}

/** Runs `script` in a container with the exported profile and /bin/otherabi; its output, id and bundle. */
async function run(script: string, opts: RunOptions = {}) {
  const id = `tsyd-arch-${process.pid}-${++seq}`;
  const seccomp = exportOciSeccomp(buildPolicy(inputs), served.agent.socket);
  opts.edit?.(seccomp);
  const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', script], seccomp, opts.config);
  copyFileSync(staticFixture('otherabi'), join(bundle.rootfs, 'bin/otherabi'));
  opts.rootfs?.(bundle.rootfs);
  try {
    return { id, bundle, ...(await runContainer(bundle, id)) };
  } finally {
    removeContainer(id);
  }
}

test('a notified i386 call is answered ENOSYS, never decided as the x86_64 call of its number', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  // A hand-written profile may name the i386 ABI: libseccomp then notifies i386 link (9) and
  // unlink (10) by name, and x86_64's 9 and 10 are mmap and mprotect.
  const r = await run('otherabi link /etc/secret /tmp/leak; otherabi unlink /etc/secret; echo done', {
    edit: (p) => (p.architectures = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']),
  });
  assert.match(r.stdout, /link = -1 Function not implemented/, r.stdout + r.stderr);
  assert.match(r.stdout, /unlink = -1 Function not implemented/);
  assert.ok(!existsSync(join(r.bundle.rootfs, 'tmp/leak')), 'the denied file was linked');
  assert.is(readFileSync(join(r.bundle.rootfs, 'etc/secret'), 'utf8'), 'container secret\n');
  const refused = served.agent.records().filter((x) => x.container === r.id && x.op === 'foreign_abi');
  assert.is(refused.length, 2, JSON.stringify(refused));
});

test('the exported profile names only x86_64: i386 and x32 calls in a runc container never run', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const r = await run('otherabi truncate64 /etc/secret; echo i386=$?; otherabi x32open /etc/secret; echo x32=$?');
  // runc's bad-arch action: the thread is killed (SIGSYS, sh says 159) before the call runs.
  assert.match(r.stdout, /i386=159/, r.stdout + r.stderr);
  assert.match(r.stdout, /x32=159/);
  assert.not.match(r.stdout, /truncate64 =|x32open =/);
  assert.is(statSync(join(r.bundle.rootfs, 'etc/secret')).size, 'container secret\n'.length);
  assert.equal(exportOciSeccomp(buildPolicy(inputs), '/s').architectures, ['SCMP_ARCH_X86_64']);
});

test("the runtime's part ends at the first exec: the runtime's binary exec'd in the container is decided", async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
  if (runc === undefined) return assert.unreachable('no runc in /usr');
  // The host's /usr, runc's binary in it, seen by the container (a toolbox's bind mount); the
  // container's program is that very binary. exec is off in the policy: notified all the same.
  const r = await run(`exec ${runc} spec --bundle /etc`, {
    config: (c) => c.mounts.push({ destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] }),
    rootfs: (root) => {
      symlinkSync('usr/lib', join(root, 'lib'));
      symlinkSync('usr/lib64', join(root, 'lib64'));
    },
  });
  assert.ok(!existsSync(join(r.bundle.rootfs, 'etc/config.json')), `runc ran unchecked: ${r.stderr}`);
  assert.is.not(r.status, 0);
  const created = denials(served.agent, r.id).filter((x) => x.cap === 'create' && x.path === '/etc/config.json');
  assert.is(created.length, 1, JSON.stringify(denials(served.agent, r.id)));
});

test.run();
