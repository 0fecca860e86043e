// Crypt sandboxing's rules: parsing, last match wins, the key's sources (never shown), errors
// (exit 125), -P files, the policy data the emulators get, and the program's environment.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { Policy } from '../../src/sandbox/policy.js';
import { loadPolicyFile, parseRule, formatStatement, type RuleSource } from '../../src/sandbox/rules.js';
import { cryptSetup } from '../../src/sandbox/crypt-key.js';
import { buildPolicy, runsUnconfined } from '../../src/sandbox/build.js';
import { runTsyd } from '../helpers/tsyd.js';

const ARG: RuleSource = { kind: 'arg' };
const KEY = '0123456789abcdef'.repeat(4);
const policyOf = (...rules: string[]) => Policy.from(rules.map((r) => parseRule(r, ARG)));
const err = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.instance(e, PolicyError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

test('crypt+ and crypt- globs: the last match wins, only while sandbox/crypt is on', () => {
  const p = policyOf('crypt+/home/*/secret/**', 'crypt-/home/*/secret/public/**', `crypt/key:${KEY}`);
  assert.not.ok(p.crypt.encrypts('/home/a/secret/x'), 'off: nothing is encrypted');
  p.apply(parseRule('sandbox/crypt:on', ARG));
  assert.ok(p.crypt.encrypts('/home/a/secret/x'));
  assert.not.ok(p.crypt.encrypts('/home/a/secret/public/y'));
  assert.not.ok(p.crypt.encrypts('/home/a/other'));
  p.apply(parseRule('crypt+/home/a/secret/public/y', ARG));
  assert.ok(p.crypt.encrypts('/home/a/secret/public/y'));
});

test('sameBelow: whether every path below two directories is encrypted alike (renames of directories)', () => {
  const p = policyOf('sandbox/crypt:on', 'crypt+/d/**/*.txt', 'crypt+/vault/**', `crypt/key:${KEY}`);
  assert.ok(p.crypt.sameBelow('/d/a', '/d/b'));
  assert.not.ok(p.crypt.sameBelow('/d/a', '/e/a'), '*.txt below /d only');
  assert.not.ok(p.crypt.sameBelow('/vault/x', '/tmp/x'));
  assert.ok(p.crypt.sameBelow('/vault/x', '/vault/y'));
  assert.ok(p.crypt.sameBelow('/e', '/f'));
});

test('crypt rules: errors say what, where and why; the key never appears in one', () => {
  const short = 'abcd'.repeat(8);
  const m = err(() => parseRule(`crypt/key:${short}`, ARG));
  assert.match(m, /64 hex digits/);
  assert.match(m, /from -m/);
  assert.not.ok(m.includes(short), m);
  const bad = 'zz' + KEY.slice(2);
  const m2 = err(() => parseRule(`crypt/key:${bad}`, ARG));
  assert.not.ok(m2.includes(bad.slice(2, 20)), m2);
  assert.match(err(() => parseRule('crypt/key:${HOME}', ARG)), /must start with TSYD_/);
  assert.match(err(() => parseRule('crypt+relative/x', ARG)), /canonical and absolute/);
  assert.match(err(() => parseRule('crypt/tmp:rel', ARG)), /absolute directory/);
  assert.match(err(() => parseRule('sandbox/read,crypt:on', ARG)), /rule of its own/);
  assert.match(err(() => parseRule('crypt+/x', { kind: 'runtime' })), /cannot be changed at run time/);
  assert.is(formatStatement(parseRule(`crypt/key:${KEY}`, ARG)), 'crypt/key:…');
});

test('sandbox/crypt:on without a key, or with a missing or bad variable: a policy error', () => {
  const env = { PATH: '/usr/bin' };
  assert.match(err(() => cryptSetup(policyOf('sandbox/crypt:on', 'crypt+/x/**'), env, {})), /sandbox\/crypt:on \(from -m\): no key is given/);
  assert.match(err(() => cryptSetup(policyOf('sandbox/crypt:on', 'crypt/key:${TSYD_K}'), env, {})), /TSYD_K is not set/);
  const m = err(() => cryptSetup(policyOf('sandbox/crypt:on', 'crypt/key:${TSYD_K}'), env, { TSYD_K: 'secretvalue' }));
  assert.match(m, /does not hold 64 hex digits/);
  assert.not.ok(m.includes('secretvalue'), m);
});

test('the key from a TSYD_ variable: 32 bytes, the variable removed from the program environment, never shown', () => {
  const env = { PATH: '/usr/bin', TSYD_K: KEY };
  const r = cryptSetup(policyOf('sandbox/crypt:on', 'crypt/key:${TSYD_K}'), env, env);
  assert.equal(Object.keys(r.env), ['PATH']);
  assert.is(JSON.stringify({ k: r.key }), '{"k":"[crypt key]"}');
  const bytes = r.key!.take();
  assert.is(bytes.toString('hex'), KEY);
  assert.throws(() => r.key!.take(), /taken already/);
});

test('policy data and tsyd check carry the crypt rules, never the key', () => {
  const p = policyOf('sandbox/crypt:on', 'crypt+/s/**', 'crypt-/s/pub/**', `crypt/key:${KEY}`, 'crypt/tmp:/var/tmp');
  const data = p.toJSON();
  assert.not.ok(JSON.stringify(data).includes(KEY));
  const q = Policy.fromJSON(JSON.parse(JSON.stringify(data)));
  assert.ok(q.crypt.encrypts('/s/a'));
  assert.not.ok(q.crypt.encrypts('/s/pub/a'));
  assert.is(q.crypt.tmp, '/var/tmp');
  const lines = p.normalized();
  assert.ok(lines.includes('sandbox/crypt:on') && lines.includes('crypt/key:…') && lines.includes('crypt+/s/**'), lines.join('\n'));
  assert.not.ok(lines.join('\n').includes(KEY));
  assert.not.ok(policyOf('sandbox/read:on').normalized().some((l) => l.includes('crypt')), 'unused: not shown');
  for (const shown of [inspect(p, { depth: 20 }), inspect(parseRule(`crypt/key:${KEY}`, ARG), { depth: 20 }), JSON.stringify(parseRule(`crypt/key:${KEY}`, ARG))]) {
    assert.not.ok(shown.includes(KEY) || shown.includes('01 23 45 67'), shown);
    assert.ok(shown.includes('[crypt key]'), shown);
  }
});

test('Crypt on is no unconfined run (no warning that the program runs unconfined)', () => {
  const inputs = [{ profile: 'off' }, { rule: 'sandbox/crypt:on' }, { rule: 'crypt+/s/**' }, { rule: `crypt/key:${KEY}` }];
  assert.not.ok(runsUnconfined(inputs, buildPolicy(inputs)));
});

test('-P files carry crypt rules', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsyd-crypt-'));
  const file = join(dir, 'p.tsyd');
  writeFileSync(file, `sandbox/crypt:on\ncrypt+${dir}/**\ncrypt/key:\${TSYD_CRYPT_KEY}\n`);
  const statements = loadPolicyFile(file);
  assert.is(statements.length, 3);
  const p = buildPolicy([{ profile: 'none' }, { file }]);
  assert.ok(p.crypt.encrypts(`${dir}/x`));
  assert.equal(p.crypt.key, { kind: 'env', name: 'TSYD_CRYPT_KEY' });
});

test('tsyd run: sandbox/crypt:on without a key exits 125 with a clear message', async () => {
  const r = await runTsyd(['run', '-m', 'sandbox/crypt:on', '--', 'true']);
  assert.is(r.code, 125, r.stderr);
  assert.match(r.stderr, /sandbox\/crypt:on \(from -m\): no key is given/);
  const k = await runTsyd(['run', '-m', 'sandbox/crypt:on', '-m', 'crypt/key:${TSYD_NOPE_KEY}', '--', 'true'], { env: { TSYD_NOPE_KEY: undefined } });
  assert.is(k.code, 125, k.stderr);
  assert.match(k.stderr, /TSYD_NOPE_KEY is not set/);
});

test.run();
