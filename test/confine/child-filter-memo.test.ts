// buildChildFilter makes each program filter once per process and hands out copies: for every
// policy the copy equals what a fresh compile gives (the key holds all the compile reads of a
// policy: capabilities on, policy files protected, the lock, tsyd's pid), and a caller that
// changes its copy does not change the next one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildChildFilter, allHandlers } from '../../src/syscalls/index.js';
import { compileProgramFilter } from '../../src/confine/program-filter.js';
import { native } from '../../src/native/addon.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import type { Capability } from '../../src/sandbox/rules.js';
import type { Policy } from '../../src/sandbox/policy.js';

function fresh(policy: Policy, tsydPid = process.pid): Buffer {
  const handlerCaps = new Map<string, readonly Capability[]>();
  for (const [name, spec] of allHandlers()) handlerCaps.set(name, spec.caps);
  return compileProgramFilter({ arch: native.arch, tsydPid, isOn: (c) => policy.isOn(c), lockOff: policy.lock === 'off', handlerCaps });
}

const policies: Array<[string, Policy]> = [
  ['none', buildPolicy([{ profile: 'none' }])],
  ['read on', buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }])],
  ['read on, lock:off', buildPolicy([{ profile: 'none' }, { rule: 'sandbox/read:on' }, { rule: 'lock:off' }])],
  ['net on', buildPolicy([{ profile: 'none' }, { rule: 'sandbox/net/connect:on' }])],
  ['user', buildPolicy([])],
  ['off', buildPolicy([{ profile: 'off' }])],
];

test('each policy, asked twice and in any order: what a fresh compile gives', () => {
  for (const round of [0, 1]) {
    for (const [name, p] of round === 0 ? policies : [...policies].reverse()) {
      assert.ok(buildChildFilter(p).equals(fresh(p)), `${name} (round ${round})`);
      assert.ok(buildChildFilter(p, 4242).equals(fresh(p, 4242)), `${name}, another pid (round ${round})`);
    }
  }
});

test('a copy each time: changing one does not change the next', () => {
  const p = policies[1]![1];
  const a = buildChildFilter(p);
  a.fill(0);
  assert.ok(buildChildFilter(p).equals(fresh(p)));
});

test.run();
