// SafeSetID rules: setuid+SRC:DST / setgid+SRC:DST, removal, the errors, and the policy data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { Policy } from '../../src/sandbox/policy.js';
import { formatStatement, parseRule, type RuleSource } from '../../src/sandbox/rules.js';

const ARG: RuleSource = { kind: 'arg' };
const policy = (...rules: string[]) => Policy.from(rules.map((r) => parseRule(r, ARG)));
/** Parsing `text` throws a PolicyError whose message matches `why`. */
const refuses = (text: string, why: RegExp, source: RuleSource = ARG) =>
  assert.throws(() => parseRule(text, source), (e: unknown) => e instanceof PolicyError && why.test(e.message), `${text}: ${String(why)}`);

test('names and numbers, shown as numbers', () => {
  assert.is(formatStatement(parseRule('setuid+root:nobody', ARG)), 'setuid+0:65534');
  assert.is(formatStatement(parseRule('setgid+0:nogroup', ARG)), 'setgid+0:65534');
  assert.is(formatStatement(parseRule('setuid^root', ARG)), 'setuid^0');
});

test('a transit is allowed once declared, removed by - and ^', () => {
  const p = policy('setuid+root:nobody', 'setuid+root:1000', 'setgid+root:nogroup');
  assert.ok(p.transits.declared);
  assert.ok(p.transits.allows('uid', 0, 65534));
  assert.ok(!p.transits.allows('uid', 65534, 0));
  assert.ok(!p.transits.allows('gid', 0, 1000));
  assert.equal(p.transits.targets('uid'), [65534, 1000]);
  const q = policy('setuid+root:nobody', 'setuid+root:1000', 'setuid-root:nobody');
  assert.ok(!q.transits.allows('uid', 0, 65534));
  assert.ok(q.transits.allows('uid', 0, 1000));
  assert.ok(!policy('setuid+root:nobody', 'setuid+root:1000', 'setuid^root').transits.declared);
});

test('policy data carries the transits (the emulators rebuild them)', () => {
  const p = policy('setuid+root:nobody', 'setgid+0:4242');
  const back = Policy.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
  assert.ok(back.transits.allows('uid', 0, 65534));
  assert.ok(back.transits.allows('gid', 0, 4242));
  assert.is(policy().toJSON().setid, undefined);
});

test('errors: a transit to 0, an unknown name, a missing DST, out of range, at run time', () => {
  refuses('setuid+nobody:root', /a transit to uid 0 would give the program root/);
  refuses('setgid+1:0', /a transit to gid 0/);
  refuses('setuid+root:no-such-user-here', /no user named 'no-such-user-here' in \/etc\/passwd/);
  refuses('setuid+root', /missing ':DST'/);
  refuses('setuid+0:4294967295', /out of range/);
  refuses('setuid^0:1', /\^ takes only the source uid/);
  refuses('setuid+root:nobody', /cannot be changed at run time/, { kind: 'runtime' });
});

test.run();
