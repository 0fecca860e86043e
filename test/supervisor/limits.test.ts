// The emulators' heap limits (src/shared/thread-limits.ts) hold the legit extremes: a policy of
// 10 000 rules in every emulator, paths of PATH_MAX bytes. An emulator that ran out of heap
// would die (its request answered EACCES): the program would see denials it never earned.
// Learning mode: every access becomes a record on its way to the owner.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempTree } from '../helpers/tmp.js';
import { runTsyd } from '../helpers/tsyd.js';

test('10 000 rules and a 4095-byte path: decided by the emulators, none dies, the last rule still applies', async () => {
  const root = tempTree('limits');
  // A path of 4095 bytes (PATH_MAX with its NUL): components of 200 bytes.
  let dir = root;
  while (dir.length + 201 + 2 <= 4095) dir = join(dir, 'd'.repeat(200));
  const file = join(dir, 'f'.repeat(4095 - dir.length - 1));
  assert.is(file.length, 4095);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, 'deep\n');
  const secret = join(root, 'dir9999', 'a.key');
  mkdirSync(join(root, 'dir9999'));
  writeFileSync(secret, 'secret\n');
  const rules = ['sandbox/read:on', 'allow/read+/***', ...Array.from({ length: 10_000 }, (_, i) => `deny/read+${root}/dir${i}/*.key`)];
  const policy = join(root, 'policy');
  writeFileSync(policy, `${rules.join('\n')}\n`);
  const r = await runTsyd(['run', '-p', 'none', '-P', policy, '--', 'sh', '-c', `cat "$1"; cat "$2"; echo rc=$?`, 'sh', file, secret], { env: { TSYD_NPROC: '2' } });
  assert.is(r.code, 0, r.stderr.slice(0, 2000));
  assert.match(r.stdout, /^deep\n/);
  assert.match(r.stdout, /rc=1\n$/);
  assert.equal(r.records.filter((x) => x.op === 'emulator_died'), [], r.stderr.slice(0, 2000));
  assert.equal(r.records.filter((x) => x.ctx === 'access').map((x) => x.path), [secret]);
});

test('learning mode over 20 000 files (ls -lR: a stat each, every one recorded): no emulator dies', async () => {
  const root = tempTree('limits-learn');
  for (let d = 0; d < 100; d++) {
    mkdirSync(join(root, `d${d}`));
    for (let f = 0; f < 200; f++) writeFileSync(join(root, `d${d}`, `f${f}`), '');
  }
  const out = join(tempTree('limits-learn-out'), 'learned.policy');
  const r = await runTsyd(['learn', '-o', out, '--', 'ls', '-lR', root], { env: { TSYD_NPROC: '2' } });
  assert.is(r.code, 0, r.stderr.slice(0, 2000));
  assert.equal(r.records.filter((x) => x.op === 'emulator_died'), [], r.stderr.slice(0, 2000));
  // Every file was stat'ed under the policy: the learned policy covers the whole tree.
  assert.match(readFileSync(out, 'utf8'), new RegExp(`${root}/`));
});

test.run();
