// The policy's decisions: capabilities on/off, last match wins, removal, lock, data round trip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { toBytes } from '../../src/sandbox/bytes.js';
import { Policy, type PolicyData } from '../../src/sandbox/policy.js';
import { CAPABILITIES, parseRule, type Capability } from '../../src/sandbox/rules.js';
import { ChildMatch, childMatch, globMatcher } from '../../src/sandbox/glob.js';
import { rng, seedFrom } from '../helpers/random.js';

const policy = (...rules: string[]) => Policy.from(rules.map((r) => parseRule(r, { kind: 'arg' })));
const ip4 = (...b: number[]) => Uint8Array.from(b);
const mapped = (...b: number[]) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b]);
const ip6 = (last: number) => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);

test('a new policy: every capability off, everything allowed, locked once the program runs', () => {
  const p = new Policy();
  for (const cap of CAPABILITIES) {
    assert.not.ok(p.isOn(cap), cap);
    assert.ok(p.check(cap, '/etc/shadow'), cap);
  }
  assert.ok(p.checkAddress('net/connect', 4, ip4(1, 2, 3, 4), 80));
  assert.is(p.lock, 'exec');
  assert.equal(p.toJSON(), { on: [], rules: [], lock: 'exec' });
});

test('a capability that is on denies what no rule matches (fail closed)', () => {
  const p = policy('sandbox/write:on');
  assert.ok(p.isOn('write'));
  assert.not.ok(p.check('write', '/tmp/x'));
  assert.ok(p.check('read', '/tmp/x'), 'read is still off');
  const q = policy('sandbox/read:on', 'allow/read+/usr/***');
  assert.ok(q.check('read', '/usr/lib/x.so'));
  assert.not.ok(q.check('read', '/home/u/x'));
});

test('the last matching rule wins, in both orders', () => {
  const carveOut = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/etc/**', 'allow/read+/etc/hostname');
  assert.ok(carveOut.check('read', '/usr/bin/ls'));
  assert.not.ok(carveOut.check('read', '/etc/passwd'));
  assert.ok(carveOut.check('read', '/etc/hostname'));
  const overridden = policy('sandbox/read:on', 'allow/read+/etc/hostname', 'deny/read+/etc/**', 'allow/read+/usr/***');
  assert.not.ok(overridden.check('read', '/etc/hostname'), 'the later deny covers it');
  assert.ok(overridden.check('read', '/usr/x'));
  const denyFirst = policy('sandbox/read:on', 'deny/read+/etc/shadow', 'allow/read+/***');
  assert.ok(denyFirst.check('read', '/etc/shadow'), 'a later allow overrides an earlier deny');
});

test('rules belong to their capability', () => {
  const p = policy('sandbox/read,write:on', 'allow/read+/***', 'deny/write+/etc/***');
  assert.ok(p.check('read', '/etc/passwd'));
  assert.not.ok(p.check('write', '/etc/passwd'));
  assert.not.ok(p.check('write', '/tmp/x'), 'no write rule matches /tmp/x');
});

test('turning a capability off again allows all, and keeps its rules', () => {
  const p = policy('sandbox/read:on', 'deny/read+/***', 'sandbox/read:off');
  assert.ok(p.check('read', '/x'));
  p.apply(parseRule('sandbox/read:on', { kind: 'arg' }));
  assert.not.ok(p.check('read', '/x'));
});

test('- removes the last identical rule, ^ all of them, absent rules are no error', () => {
  const p = policy('sandbox/read:on', 'allow/read+/a/**', 'deny/read+/a/**', 'allow/read+/a/**', 'allow/read-/a/**');
  assert.not.ok(p.check('read', '/a/x'), 'the last allow was removed; the deny is now last');
  assert.equal(
    p.toJSON().rules.map((r) => `${r.action}:${r.pattern}`),
    ['allow:/a/**', 'deny:/a/**'],
  );
  p.apply(parseRule('deny/read-/a/**', { kind: 'arg' }));
  assert.ok(p.check('read', '/a/x'));
  p.apply(parseRule('allow/read-/nothing/here', { kind: 'arg' }));
  p.apply(parseRule('deny/write^/nothing', { kind: 'arg' }));
  const q = policy('sandbox/read:on', 'allow/read+/b', 'allow/read+/b', 'deny/read+/b', 'allow/read+/b', 'allow/read^/b');
  assert.equal(q.toJSON().rules.map((r) => r.action), ['deny']);
  assert.not.ok(q.check('read', '/b'));
  const r = policy('sandbox/read:on', 'allow/read+/c/*', 'allow/read-/c/**');
  assert.ok(r.check('read', '/c/x'), 'removal needs the identical pattern');
});

test('net: addresses decide by last match; UNIX and abstract sockets by glob', () => {
  const p = policy(
    'sandbox/net/connect:on',
    'allow/net/connect+any!0-65535',
    'deny/net/connect+10.0.0.0/8!0-65535',
    'allow/net/connect+10.1.2.3!443',
    'deny/net/connect+2001:db8::/120!22',
    'allow/net/connect+/run/*.sock',
    'allow/net/connect+@dbus-*',
  );
  assert.ok(p.checkAddress('net/connect', 4, ip4(8, 8, 8, 8), 53));
  assert.not.ok(p.checkAddress('net/connect', 4, ip4(10, 9, 9, 9), 443));
  assert.ok(p.checkAddress('net/connect', 4, ip4(10, 1, 2, 3), 443));
  assert.not.ok(p.checkAddress('net/connect', 4, ip4(10, 1, 2, 3), 80));
  assert.not.ok(p.checkAddress('net/connect', 6, ip6(7), 22));
  assert.ok(p.checkAddress('net/connect', 6, ip6(7), 23));
  // An IPv4-mapped IPv6 address cannot get around the IPv4 deny.
  assert.not.ok(p.checkAddress('net/connect', 6, mapped(10, 9, 9, 9), 443));
  assert.ok(p.checkAddress('net/connect', 6, mapped(10, 1, 2, 3), 443));
  assert.ok(p.check('net/connect', '/run/app.sock'));
  assert.not.ok(p.check('net/connect', '/tmp/app.sock'));
  assert.ok(p.check('net/connect', '@dbus-1'));
  assert.not.ok(p.check('net/connect', '@x11'));
  assert.ok(p.checkAddress('net/bind', 4, ip4(0, 0, 0, 0), 1), 'net/bind is off');
  const lo = policy('sandbox/net/bind:on', 'allow/net/bind+loopback!8000-8999');
  assert.ok(lo.checkAddress('net/bind', 4, ip4(127, 0, 0, 2), 8080));
  assert.ok(lo.checkAddress('net/bind', 6, Uint8Array.from([...new Array(15).fill(0), 1]), 8999));
  assert.not.ok(lo.checkAddress('net/bind', 4, ip4(0, 0, 0, 0), 8080));
  assert.not.ok(lo.checkAddress('net/bind', 4, ip4(127, 0, 0, 1), 9000));
});

test('malformed queries are denied, not allowed', () => {
  const p = policy('sandbox/net/connect:on', 'allow/net/connect+any!0-65535');
  assert.not.ok(p.checkAddress('net/connect', 4, ip6(1), 80), '16 bytes for IPv4');
  assert.not.ok(p.checkAddress('net/connect', 6, ip4(1, 2, 3, 4), 80), '4 bytes for IPv6');
  assert.not.ok(p.checkAddress('net/connect', 4, ip4(1, 2, 3, 4), 65536));
  assert.not.ok(p.checkAddress('net/connect', 4, ip4(1, 2, 3, 4), -1));
  assert.not.ok(p.checkAddress('net/connect', 4, ip4(1, 2, 3, 4), 1.5));
  assert.not.ok(new Policy().check('bogus' as Capability, '/x'), 'an unknown capability is denied');
});

test('lock:on freezes the policy; lock:exec and lock:off do not', () => {
  const p = policy('sandbox/read:on', 'lock:exec', 'allow/read+/a', 'lock:off', 'allow/read+/b');
  assert.is(p.lock, 'off');
  p.apply(parseRule('lock:on', { kind: 'arg' }));
  assert.is(p.lock, 'on');
  for (const text of ['allow/read+/etc/shadow', 'lock:off', 'lock:on', 'sandbox/read:off']) {
    try {
      p.apply(parseRule(text, { kind: 'file', file: 'late.syd', line: 9 }));
      assert.unreachable(`${text} was applied after lock:on`);
    } catch (e) {
      assert.instance(e, PolicyError);
      assert.is((e as Error).message, `bad rule '${text}' (from late.syd:9:1): the policy is locked (lock:on was applied); expected no rule after lock:on`);
    }
  }
  assert.not.ok(p.check('read', '/etc/shadow'), 'nothing changed');
  assert.ok(p.isOn('read'));
  assert.throws(() => policy('lock:on', 'sandbox/read:on'), /policy is locked/);
});

test('JSON round trip: same data, same decisions, through JSON and structuredClone', () => {
  const p = policy(
    'sandbox/read,net/connect:on',
    'allow/read+/***',
    'deny/read+/etc/shadow',
    'deny/read+/home/*/.ssh/***',
    'allow/net/connect+loopback!1-65535',
    'allow/net/connect+/run/x.sock',
    'lock:exec',
  );
  p.apply(parseRule('deny/read+/data/\u00e9t\u00e9', { kind: 'arg' }));
  const data = p.toJSON();
  assert.equal(data, {
    on: ['read', 'net/connect'],
    rules: [
      { action: 'allow', cap: 'read', pattern: '/***' },
      { action: 'deny', cap: 'read', pattern: '/etc/shadow' },
      { action: 'deny', cap: 'read', pattern: '/home/*/.ssh/***' },
      { action: 'deny', cap: 'read', pattern: toBytes('/data/\u00e9t\u00e9') },
      { action: 'allow', cap: 'net/connect', pattern: '127.0.0.0/8!1-65535' },
      { action: 'allow', cap: 'net/connect', pattern: '::1!1-65535' },
      { action: 'allow', cap: 'net/connect', pattern: '/run/x.sock' },
    ],
    lock: 'exec',
  });
  for (const copy of [JSON.parse(JSON.stringify(data)) as PolicyData, structuredClone(data)]) {
    const q = Policy.fromJSON(copy);
    assert.equal(q.toJSON(), data);
    assert.equal(q.normalized(), p.normalized());
    assert.is(q.lock, 'exec');
    for (const path of [toBytes('/data/\u00e9t\u00e9'), '/etc/shadow', '/etc/passwd', '/home/u/.ssh', '/home/u/.ssh/id', '/home/u/x']) {
      assert.is(q.check('read', path), p.check('read', path), path);
    }
    assert.ok(q.checkAddress('net/connect', 4, ip4(127, 0, 0, 1), 80));
    assert.not.ok(q.checkAddress('net/connect', 4, ip4(10, 0, 0, 1), 80));
    assert.ok(q.check('net/connect', '/run/x.sock'));
  }
  const locked = Policy.fromJSON({ on: [], rules: [], lock: 'on' });
  assert.throws(() => locked.apply(parseRule('sandbox/read:on', { kind: 'arg' })), /policy is locked/);
});

test('fromJSON refuses bad data', () => {
  const bad = (data: unknown) => assert.throws(() => Policy.fromJSON(data as PolicyData), (e: Error) => e instanceof PolicyError);
  bad({ on: ['raed'], rules: [], lock: 'off' });
  bad({ on: [], rules: [{ action: 'permit', cap: 'read', pattern: '/x' }], lock: 'off' });
  bad({ on: [], rules: [{ action: 'allow', cap: 'read', pattern: 'relative' }], lock: 'off' });
  bad({ on: [], rules: [{ action: 'allow', cap: 'net/connect', pattern: '1.2.3.4/40!1' }], lock: 'off' });
  bad({ on: [], rules: [], lock: 'sometimes' });
});

test('normalized(): every capability, the rules grouped by capability in order, the lock', () => {
  const p = policy(
    'sandbox/write:on',
    'allow/write+/tmp/***',
    'allow/read+/usr/***',
    'deny/write+/tmp/x',
    'allow/net/connect+127.0.0.1/8!80',
    'allow/read+/caf\u00e9',
  );
  const lines = p.normalized();
  assert.equal(lines, [
    'sandbox/read:off',
    'sandbox/write:on',
    'sandbox/create:off',
    'sandbox/delete:off',
    'sandbox/stat:off',
    'sandbox/exec:off',
    'sandbox/net/bind:off',
    'sandbox/net/connect:off',
    'allow/read+/usr/***',
    'allow/read+/caf\u00e9',
    'allow/write+/tmp/***',
    'deny/write+/tmp/x',
    'allow/net/connect+127.0.0.0/8!80',
    'lock:exec',
  ]);
  const again = policy(...lines);
  assert.equal(again.normalized(), lines, 'the normalized form parses back to itself');
  assert.equal(again.toJSON(), p.toJSON());
});

test('deniesAny and mayDenyChildren: can stat hide anything, a direct child of a directory', () => {
  const open = policy('sandbox/stat:on', 'allow/stat+/***');
  assert.not.ok(open.deniesAny('stat'));
  assert.not.ok(open.mayDenyChildren('stat', '/etc'));
  assert.not.ok(policy('allow/stat+/tmp/***').deniesAny('stat'), 'stat off');
  const p = policy('sandbox/stat:on', 'allow/stat+/***', 'deny/stat+/home/u/.ssh/***', 'deny/stat+/etc/ssh/*_key');
  assert.ok(p.deniesAny('stat'));
  assert.ok(p.mayDenyChildren('stat', '/home/u'));
  assert.ok(p.mayDenyChildren('stat', '/etc/ssh'));
  for (const d of ['/', '/etc', '/usr/lib', '/home']) assert.not.ok(p.mayDenyChildren('stat', d), d);
  // A later allow of every child settles it; with no rule for a child it is hidden (fail closed).
  assert.not.ok(policy('sandbox/stat:on', 'deny/stat+/srv/*', 'allow/stat+/srv/***').mayDenyChildren('stat', '/srv'));
  assert.ok(policy('sandbox/stat:on', 'allow/stat+/srv/a').mayDenyChildren('stat', '/srv'));
  // The answers follow the policy when it changes.
  p.apply(parseRule('deny/stat+/usr/lib/x', { kind: 'arg' }));
  assert.ok(p.mayDenyChildren('stat', '/usr/lib'));
});

/** The decision by definition: the last matching rule, scanned from the end. */
function reference(p: Policy, cap: Capability, path: string): boolean {
  const data = p.toJSON();
  if (!data.on.includes(cap)) return true;
  const rules = data.rules.filter((r) => r.cap === cap);
  for (let i = rules.length - 1; i >= 0; i--) if (globMatcher(rules[i]!.pattern)(path)) return rules[i]!.action === 'allow';
  return false;
}

test('long rule lists go through an index: the same decisions as the last-match scan (random rules and paths)', () => {
  const seed = seedFrom('TSYD_POLICY_SEED');
  const r = rng(seed);
  const names = ['a', 'b', 'ab', '.ssh', 'x.y', 'tmp'];
  const pick = <T>(xs: T[]): T => xs[r.int(0, xs.length - 1)]!;
  const part = () => pick([...names, '*', '?b', '[ab]', 'a*', '**', '\\*']);
  const pattern = () => {
    const n = r.int(1, 4);
    const parts = Array.from({ length: n }, part);
    const tail = r.int(0, 3) === 0 ? '/***' : '';
    return `/${parts.join('/')}${tail}`;
  };
  const path = () => `/${Array.from({ length: r.int(0, 5) }, () => pick([...names, '*', 'c', ''])).join('/')}`;
  for (let round = 0; round < 40; round++) {
    const lines = ['sandbox/read:on'];
    for (let i = 0; i < r.int(25, 120); i++) lines.push(`${r.int(0, 1) ? 'allow' : 'deny'}/read+${pattern()}`);
    const p = policy(...lines);
    for (let i = 0; i < 300; i++) {
      const x = path();
      assert.is(p.check('read', x), reference(p, 'read', x), `seed ${seed}, ${x} under\n${lines.join('\n')}`);
    }
    // A rule added or removed later is seen (the index is rebuilt).
    p.apply(parseRule('deny/read+/a/***', { kind: 'arg' }));
    assert.not.ok(p.check('read', '/a/b'), `seed ${seed}`);
    assert.not.ok(p.check('read', '/a'), `seed ${seed}`);
    p.apply(parseRule('deny/read-/a/***', { kind: 'arg' }));
    for (const x of ['/a', '/a/b', '/b/a']) assert.is(p.check('read', x), reference(p, 'read', x), `seed ${seed} ${x}`);
  }
});

/** mayDenyChildren by definition: every rule from the last, as childMatch says it meets the children. */
function childrenReference(p: Policy, cap: Capability, dir: string): boolean {
  const data = p.toJSON();
  if (!data.on.includes(cap)) return false;
  const rules = data.rules.filter((r) => r.cap === cap);
  for (let i = rules.length - 1; i >= 0; i--) {
    const c = childMatch(rules[i]!.pattern, dir);
    if (rules[i]!.action === 'deny' && c !== ChildMatch.none) return true;
    if (rules[i]!.action === 'allow' && c === ChildMatch.all) return false;
  }
  return true;
}

test('mayDenyChildren tests only the rules that can match a child: the same answers as the scan of every rule (random rules and directories)', () => {
  const seed = seedFrom('TSYD_POLICY_SEED');
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[r.int(0, xs.length - 1)]!;
  const names = ['a', 'b', '.ssh', 'x.y'];
  const part = () => pick([...names, '*', '?', '[ab]', 'a*', '**', '\\*']);
  const pattern = () => `/${Array.from({ length: r.int(1, 4) }, part).join('/')}${r.int(0, 2) === 0 ? '/***' : ''}`;
  const dir = () => `/${Array.from({ length: r.int(0, 4) }, () => pick([...names, '*', 'c', ''])).join('/')}`;
  for (let round = 0; round < 60; round++) {
    const lines = ['sandbox/stat:on'];
    // Short lists (scanned by check) and long ones (indexed): mayDenyChildren uses the index for both.
    for (let i = 0; i < r.int(1, 60); i++) lines.push(`${r.int(0, 2) ? 'deny' : 'allow'}/stat+${pattern()}`);
    const p = policy(...lines);
    for (let i = 0; i < 100; i++) {
      const d = dir();
      assert.is(p.mayDenyChildren('stat', d), childrenReference(p, 'stat', d), `seed ${seed}, ${d} under\n${lines.join('\n')}`);
    }
  }
});

test('protected policy files: never written, created or deleted, whatever the rules say, and their directories never created or deleted', () => {
  const p = policy('sandbox/read,write,create,delete:on', 'allow/read+/***', 'allow/write+/***', 'allow/create+/***', 'allow/delete+/***');
  p.protectPolicyFiles(['/etc/tsyd/app.policy']);
  for (const cap of ['write', 'create', 'delete'] as const) assert.not.ok(p.check(cap, '/etc/tsyd/app.policy'), cap);
  assert.ok(p.check('read', '/etc/tsyd/app.policy'), 'the program may read its policy');
  for (const dir of ['/etc/tsyd', '/etc', '/']) {
    assert.not.ok(p.check('delete', dir), `${dir}: a renamed or removed parent takes the file along`);
    assert.not.ok(p.check('create', dir), `${dir}: a new parent could hold another file`);
    assert.ok(p.check('write', dir), `${dir}: its attributes change no policy`);
  }
  for (const other of ['/etc/tsyd/other', '/etc/tsyd/app.policy.bak', '/etc/tsyd/app.policy/x', '/etc/tsyd-x']) {
    for (const cap of ['write', 'create', 'delete'] as const) assert.ok(p.check(cap, other), `${cap} ${other}`);
  }
  // A rule applied later (a -m after the file, a rule the program adds at run time) changes nothing.
  p.apply(parseRule('allow/write+/etc/tsyd/app.policy', { kind: 'runtime' }));
  p.apply(parseRule('sandbox/write,create,delete:off', { kind: 'runtime' }));
  for (const cap of ['write', 'create', 'delete'] as const) {
    assert.ok(p.isOn(cap), `${cap} stays decided while a policy file is protected`);
    assert.not.ok(p.check(cap, '/etc/tsyd/app.policy'), cap);
    assert.ok(p.check(cap, '/tmp/x'), `${cap}: off for everything else`);
  }
});

test('protected policy files: off capabilities are decided for them only; the data round trip keeps them', () => {
  const p = new Policy();
  p.protectPolicyFiles([toBytes('/srv/ü.policy'), '/srv/link']);
  assert.ok(p.isOn('write') && p.isOn('create') && p.isOn('delete'));
  assert.not.ok(p.isOn('read') || p.isOn('exec') || p.isOn('stat'));
  assert.not.ok(p.check('write', toBytes('/srv/ü.policy')));
  assert.not.ok(p.check('delete', '/srv/link'));
  assert.ok(p.check('write', '/srv/x'));
  const data = p.toJSON();
  assert.equal(data.policyFiles, [toBytes('/srv/ü.policy'), '/srv/link']);
  const q = Policy.fromJSON(JSON.parse(JSON.stringify(data)) as PolicyData);
  assert.not.ok(q.check('write', toBytes('/srv/ü.policy')));
  assert.not.ok(q.check('create', '/srv'));
  assert.equal(q.protectedPolicyFiles(), data.policyFiles);
  assert.throws(() => Policy.fromJSON({ on: [], rules: [], lock: 'exec', policyFiles: ['relative'] }), (e: Error) => e instanceof PolicyError);
  assert.throws(() => Policy.fromJSON({ on: [], rules: [], lock: 'exec', policyFiles: [1 as unknown as string] }), (e: Error) => e instanceof PolicyError);
  assert.equal(new Policy().toJSON(), { on: [], rules: [], lock: 'exec' }, 'no policyFiles without protected files');
});

test.run();
