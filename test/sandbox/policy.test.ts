// Rules, globs and the policy's decisions, without a kernel.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { buildPolicy } from '../../src/sandbox/build.js';
import { toBytes } from '../../src/sandbox/bytes.js';
import { compileGlob } from '../../src/sandbox/glob.js';
import { Policy } from '../../src/sandbox/policy.js';
import { loadPolicyFile, parseRule } from '../../src/sandbox/rules.js';

const m = (pattern: string, path: string) => compileGlob(pattern)(path);

test('globs: * and ? stay in a component, ** crosses, /*** is the tree and its root', () => {
  assert.ok(m('/etc/*.conf', '/etc/a.conf'));
  assert.not.ok(m('/etc/*.conf', '/etc/x/a.conf'));
  assert.ok(m('/etc/**', '/etc/x/a.conf'));
  assert.not.ok(m('/etc/**', '/etc'));
  assert.ok(m('/usr/***', '/usr'));
  assert.ok(m('/usr/***', '/usr/lib/x.so'));
  assert.not.ok(m('/usr/***', '/usrx'));
  assert.ok(m('/***', '/'));
  assert.ok(m('/tmp/?', '/tmp/a'));
  assert.not.ok(m('/tmp/?', '/tmp/ab'));
  assert.not.ok(m('/a?b', '/a/b'), '? never matches /');
});

test('globs: classes, escapes, literal regex characters, anchoring', () => {
  assert.ok(m('/dev/tty[0-9]', '/dev/tty7'));
  assert.not.ok(m('/dev/tty[0-9]', '/dev/ttyS'));
  assert.ok(m('/x/[!a]', '/x/b'));
  assert.not.ok(m('/x/[!a]', '/x/a'));
  assert.not.ok(m('/x[!a]y', '/x/y'), 'a class never matches /');
  assert.ok(m('/a\\*b', '/a*b'));
  assert.not.ok(m('/a\\*b', '/axb'));
  assert.ok(m('/a.b(c)+', '/a.b(c)+'));
  assert.not.ok(m('/a.b', '/axb'), '. is literal');
  assert.not.ok(m('/etc/passwd', '/etc/passwd.bak'), 'anchored at the end');
});

test('globs match bytes: non-UTF-8 names', () => {
  const name = Buffer.from([0x2f, 0x74, 0xff, 0xfe]).toString('latin1'); // "/t\xff\xfe"
  assert.ok(m('/t*', name));
  assert.ok(m(toBytes('/é*'), toBytes('/été')));
});

test('last matching rule wins; off allows all; on without a match denies', () => {
  const p = buildPolicy([
    { rule: 'sandbox/read:on' },
    { rule: 'allow/read+/***' },
    { rule: 'deny/read+/etc/**' },
    { rule: 'allow/read+/etc/hostname' },
  ]);
  assert.ok(p.check('read', '/usr/bin/ls'));
  assert.not.ok(p.check('read', '/etc/passwd'));
  assert.ok(p.check('read', '/etc/hostname'));
  assert.ok(p.check('write', '/etc/passwd'), 'write is off');
  const q = buildPolicy([{ rule: 'sandbox/write:on' }]);
  assert.not.ok(q.check('write', '/tmp/x'), 'fail closed');
});

test('removing rules: - removes the last identical one, ^ all of them', () => {
  const p = buildPolicy([
    { rule: 'sandbox/read:on' },
    { rule: 'allow/read+/a/**' },
    { rule: 'allow/read+/a/**' },
    { rule: 'allow/read-/a/**' },
  ]);
  assert.ok(p.check('read', '/a/x'));
  p.apply(parseRule('allow/read^/a/**', { kind: 'arg' }));
  assert.not.ok(p.check('read', '/a/x'));
});

test('bad rules say what, where and what was expected', () => {
  const err = (text: string) => {
    try {
      parseRule(text, { kind: 'arg' });
    } catch (e) {
      assert.instance(e, PolicyError);
      return (e as Error).message;
    }
    throw new Error(`'${text}' was accepted`);
  };
  assert.match(err('allow/raed+/x'), /unknown capability 'raed'/);
  assert.match(err('allow/raed+/x'), /from -m/);
  assert.match(err('allow/read+etc/x'), /not an absolute path/);
  assert.match(err('allow/read/x'), /missing \+, - or \^/);
  assert.match(err('sandbox/read:maybe'), /must be :on or :off/);
  assert.match(err('lock:sometimes'), /lock must be on, off or exec/);
  assert.match(err('frobnicate'), /expected sandbox\/CAP:on\|off/);
});

test('policy files: comments and blank lines skipped, errors carry FILE:LINE:COL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsyd-pol-'));
  const file = join(dir, 'p.policy');
  writeFileSync(file, '# a policy\n\nsandbox/read:on\n  allow/read+/usr/***\n  deny/raed+/x\n');
  try {
    loadPolicyFile(file);
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, `${file}:5:3`);
  }
  writeFileSync(file, '# ok\nsandbox/read:on\nallow/read+/usr/***\n');
  assert.is(loadPolicyFile(file).length, 2);
  assert.throws(() => loadPolicyFile(join(dir, 'missing')), /cannot read policy file/);
});

test('JSON round trip keeps order and decisions; lock:on freezes the policy', () => {
  const p = buildPolicy([{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }, { rule: 'deny/read+/etc/shadow' }]);
  const q = Policy.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
  assert.equal(q.normalized(), p.normalized());
  assert.not.ok(q.check('read', '/etc/shadow'));
  assert.ok(q.check('read', '/etc/passwd'));
  p.apply(parseRule('lock:on', { kind: 'arg' }));
  assert.throws(() => p.apply(parseRule('allow/read+/etc/shadow', { kind: 'arg' })), /locked/);
});

test.run();
