// Every per-call refusal record of a container goes through its denial budget, not only the
// denials of a path or an address: a refused setsockopt in a loop is logged at most ~100 a second,
// the rest counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportOciSeccomp } from '../../src/export/oci-seccomp.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { staticFixture } from '../helpers/fixtures.js';
import { containersMissing, makeBundle, removeContainer, runContainer, scratch } from './container.js';
import { denialsCounted, startAgent } from './agent-process.js';

const missing = containersMissing();
const tmp = scratch('records');
const RULES = ['sandbox/net/connect:on', 'allow/net/connect+any!0-65535'];

test('3000 refused setsockopt(IPV6_RTHDR): the first records logged, the rest counted', async () => {
  if (missing !== undefined) assert.unreachable(missing);
  const agent = await startAgent(tmp.dir, 'records', ['-p', 'none', ...RULES.flatMap((r) => ['-m', r])]);
  const id = `tsyd-records-${process.pid}`;
  const N = 3000;
  try {
    const seccomp = exportOciSeccomp(buildPolicy([{ profile: 'none' }, ...RULES.map((rule) => ({ rule }))]), agent.socket);
    const bundle = makeBundle(join(tmp.dir, id), ['rthdrflood', String(N)], seccomp);
    copyFileSync(staticFixture('rthdrflood'), join(bundle.rootfs, 'bin/rthdrflood'));
    const r = await runContainer(bundle, id);
    assert.match(r.stdout, new RegExp(`${N}: ${N} EPERM`), r.stdout + r.stderr);
    // The wait for the last record is not what is tested.
    for (const deadline = Date.now() + 10_000; !agent.records().some((x) => x.op === 'container_ended' && x.container === id) && Date.now() < deadline; ) {
      await new Promise((res) => setTimeout(res, 50));
    }
    const logged = agent.records().filter((x) => x.container === id && x.ctx === 'access' && x.opt === 'IPV6_RTHDR').length;
    assert.ok(logged >= 100, `the first refusals are logged: ${logged}`);
    assert.ok(logged < N, `${logged} of ${N} refusals logged: no bound`);
    assert.is(logged + denialsCounted(agent, id), N, 'every refusal is logged or counted');
  } finally {
    removeContainer(id);
    await agent.stop();
    tmp.remove();
  }
});

test.run();
