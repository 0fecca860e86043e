// Hostile input on tsyd agent's socket — garbage, no fd, fds of the wrong kind, too many fds, a
// client that never finishes — costs a warn record each; the agent goes on serving containers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { fixture } from '../helpers/fixtures.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { denials, startAgent } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('hostile');
const STATE = JSON.stringify({ ociVersion: '1.0.2', fds: ['seccompFd'], pid: 1234567, metadata: '', state: { id: 'fake', pid: 1234567 } });

test('garbage, no fd, wrong fds, an unfinished message: refused one by one, the agent serves on', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const agent = await startAgent(tmp.dir, 'hostile', ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/secret']);
  const id = `tsyd-hostile-${process.pid}`;
  try {
    const client = fixture('agentclient');
    const send = (text: string, how: 'hold' | 'close', ...files: string[]) => {
      const r = spawnSync(client, [agent.socket, text, how, ...files]);
      assert.is(r.status, 0, `the client could not send: ${String(r.stderr)}`);
    };
    send('garbage }', 'close');
    send(STATE, 'close');
    send(STATE, 'close', '/etc/hostname');
    send(STATE, 'close', '/etc/hostname', '/etc/hostname');
    send('', 'close');
    send('{"fds":', 'hold');
    send('x'.repeat(70_000), 'close');
    const bad = agent.records().filter((r) => r.op === 'bad_message');
    assert.ok(bad.length >= 5, JSON.stringify(bad));
    assert.ok(bad.some((r) => String(r.why).includes('not a seccomp listener')), 'an fd of a file is not served');
    assert.ok(bad.some((r) => String(r.why).includes('2 fds')), 'two fds are not served');
    assert.ok(bad.some((r) => String(r.why).includes('0 fds')), 'a message without fd is not served');
    assert.is(agent.child.exitCode, null, 'the agent is alive');
    const seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }]), agent.socket);
    const bundle = makeBundle(join(tmp.dir, id), ['sh', '-c', 'cat /etc/public; cat /etc/secret; echo rc=$?'], seccomp);
    const r = await runContainer(bundle, id);
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /container public/);
    assert.match(r.stdout, /rc=1/);
    assert.equal(denials(agent, id).map((d) => d.path), ['/etc/secret']);
  } finally {
    removeContainer(id);
    await agent.stop();
    tmp.remove();
  }
});

test.run();
