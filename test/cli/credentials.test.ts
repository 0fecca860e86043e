// Credentials cannot change under tsyd (it opens with its own), but a call that changes nothing
// is let through: GNU make does that before every recipe.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

const setidScript = `import os, errno
u, g = os.getuid(), os.getgid()
os.setresuid(-1, -1, -1); os.setreuid(u, u); os.setregid(-1, g); os.setgid(g); os.setuid(u)
print("noop ok")
for f, a in ((os.setuid, 12345), (os.setresgid, (-1, 4242, -1)), (os.setreuid, (-1, 777))):
    try:
        f(*a) if isinstance(a, tuple) else f(a)
        print("changed!")
    except OSError as e:
        print(errno.errorcode[e.errno])
print(os.getuid() == u, os.getgid() == g)`;

test('no-op set*id calls succeed, real changes get EPERM (natively, as root, they change the ids)', async () => {
  assert.is(process.getuid?.(), 0, 'natively only root can change its ids: the tests run as root');
  const n = await runNative('python3', ['-c', setidScript]);
  assert.is(n.stdout, 'noop ok\nchanged!\nEPERM\nEPERM\nFalse True\n', describe(n));
  const r = await runTsyd(['run', '--', 'python3', '-c', setidScript]);
  assert.is(r.stdout, 'noop ok\nEPERM\nEPERM\nEPERM\nTrue True\n', describe(r));
});

test('make runs its recipes (it calls setregid/setreuid with its own ids), as root and as nobody', async () => {
  const dir = tempTree('make', { 'Makefile': 'all:\n\t@echo built > out.txt\n\t@cat out.txt\n' });
  writeFileSync(`${dir}/Makefile`, 'all:\n\t@echo built\n');
  const root = await runTsyd(['run', '--', 'make', '-s', '-C', dir]);
  assert.is(root.stdout, 'built\n', describe(root));
  const nobody = await runTsyd(['run', '--', 'make', '-s', '-C', dir], { user: NOBODY });
  assert.is(nobody.stdout, 'built\n', describe(nobody));
});

test('the program starts without CAP_SYS_PTRACE, and without CAP_NET_RAW/CAP_NET_ADMIN when net rules are on', async () => {
  // Not an early return: only root has them to lose, and the tests run as root.
  assert.is(process.getuid?.(), 0, 'only root has the capabilities to lose: the tests run as root');
  const capEff = (r: RunResult): bigint => {
    assert.is(r.code, 0, describe(r));
    const m = /^CapEff:\s*([0-9a-f]{16})$/m.exec(r.stdout);
    assert.ok(m, `the program printed its CapEff line: ${describe(r)}`);
    return BigInt(`0x${m[1]}`);
  };
  const script = ['sh', '-c', 'grep CapEff /proc/self/status'];
  const bit = (n: number) => 1n << BigInt(n);
  // Natively root has all three: "dropped" below is tsyd's doing.
  const native = capEff(await runNative(script[0]!, script.slice(1)));
  assert.is(native & (bit(12) | bit(13) | bit(19)), bit(12) | bit(13) | bit(19), `natively CapEff ${native.toString(16)}`);
  const noNet = capEff(await runTsyd(['run', '-p', 'none', '-m', 'sandbox/read:off', '--', ...script]));
  assert.is(noNet & bit(19), 0n, 'CAP_SYS_PTRACE dropped');
  assert.is.not(noNet & bit(13), 0n, 'CAP_NET_RAW kept without net rules');
  const net = capEff(await runTsyd(['run', '-p', 'none', '-m', 'sandbox/net/connect:on', '-m', 'allow/net/connect+127.0.0.0/8!0-65535', '--', ...script]));
  assert.is(net & (bit(12) | bit(13) | bit(19)), 0n, 'NET_ADMIN, NET_RAW, SYS_PTRACE dropped');
});

test.run();
