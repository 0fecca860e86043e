// sameDecisionsBelow (a directory rename answers EXDEV unless every path below is decided alike
// under the new name): exact, whichever rules make the decisions, and a differing suffix is real.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toBytes } from '../../src/sandbox/bytes.js';
import { Policy } from '../../src/sandbox/policy.js';
import { profileStatements } from '../../src/sandbox/profiles.js';
import { CAPABILITIES, parseRule, type Capability } from '../../src/sandbox/rules.js';
import { MAX_PAIRS } from '../../src/sandbox/subtree-decisions.js';
import { rng, seedFrom } from '../helpers/random.js';

const policy = (...rules: string[]) => Policy.from(rules.map((r) => parseRule(r, { kind: 'arg' })));

/** Asserts that `from/SUFFIX` and `to/SUFFIX` really are decided differently, and returns SUFFIX. */
function realDifference(p: Policy, from: string, to: string, why: string): string {
  const d = p.firstDifferenceBelow(from, to);
  assert.ok(d !== null && d.suffix !== undefined, `${why}: a difference with its suffix`);
  const { cap, suffix } = d as { cap: Capability; suffix: string };
  assert.is.not(p.check(cap, `${from}/${suffix}`), p.check(cap, `${to}/${suffix}`), `${why}: ${cap} of ${from}/${suffix} and ${to}/${suffix}`);
  return suffix;
}

test('different rules, the same decisions below: the same (a rule-by-rule comparison said different)', () => {
  const cases: Array<[string[], string, string]> = [
    [['sandbox/write:on', 'allow/write+/home/u/***', 'allow/write+/tmp/***'], '/home/u/d', '/tmp/d'],
    [['sandbox/read:on', 'allow/read+/***', 'deny/read+/home/u/**/secret', 'deny/read+/tmp/**/secret'], '/home/u/d', '/tmp/d'],
    [['sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/[xy]', 'deny/read+/srv/b/[yx]'], '/srv/a', '/srv/b'],
    [['sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/?', 'deny/read+/srv/b/?'], '/srv/a', '/srv/b'],
    // Below the directory, `D/***` and `D/**` match the same paths (D itself: the handler's).
    [['sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/***', 'deny/read+/srv/b/**'], '/srv/a', '/srv/b'],
    // A later rule that decides every path below hides what came before it.
    [['sandbox/stat:on', 'deny/stat+/srv/a/**/x', 'allow/stat+/srv/***'], '/srv/a', '/srv/b'],
    // Net: the UNIX socket path rules of both directories.
    [['sandbox/net/connect:on', 'allow/net/connect+/run/a/*.sock', 'allow/net/connect+/tmp/b/*.sock'], '/run/a', '/tmp/b'],
  ];
  for (const [rules, from, to] of cases) {
    const p = policy(...rules);
    assert.ok(p.sameDecisionsBelow(from, to), `${from} -> ${to} under ${rules.join(' ')}`);
    assert.ok(p.sameDecisionsBelow(to, from), `${to} -> ${from} under ${rules.join(' ')}`);
  }
});

test('the default profile: a directory of the working directory moves to /tmp; not into $HOME nor next to an agent', () => {
  const p = Policy.from(profileStatements('user', { cwd: '/work/proj', home: '/home/u', path: ['/usr/bin'] }));
  assert.ok(p.sameDecisionsBelow('/work/proj/d', '/tmp/x'));
  assert.ok(p.sameDecisionsBelow('/tmp/x', '/work/proj/d/e'));
  assert.ok(p.sameDecisionsBelow('/work/proj/a/b', '/var/tmp/c'));
  // $HOME is not writable here; /tmp/ssh-* holds agent sockets.
  assert.match(realDifference(p, '/work/proj/d', '/home/u/d', 'into $HOME'), /./);
  assert.match(realDifference(p, '/tmp/d', '/tmp/ssh-x', 'an agent directory'), /./);
});

test('a real difference deep below: different, with the shortest suffix that shows it', () => {
  const deep = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/tmp/**/secret');
  assert.not.ok(deep.sameDecisionsBelow('/home/u/d', '/tmp/d'));
  assert.is(realDifference(deep, '/home/u/d', '/tmp/d', '** then a name'), 'secret');
  const cls = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/[xy]', 'deny/read+/srv/b/[xyz]');
  assert.is(realDifference(cls, '/srv/a', '/srv/b', 'a class with one byte more'), 'z');
  const one = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/?', 'deny/read+/srv/b/*');
  assert.is(realDifference(one, '/srv/a', '/srv/b', '? against *').length, 2);
  const tree = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/***', 'deny/read+/srv/b/*');
  assert.match(realDifference(tree, '/srv/a', '/srv/b', '/*** against /*'), /^[^/]*\/[^/]*$/);
  const last = policy('sandbox/write:on', 'allow/write+/srv/***', 'deny/write+/srv/a/x/y/z/w');
  assert.is(realDifference(last, '/srv/a', '/srv/b', 'a literal four levels down'), 'x/y/z/w');
  // Rules and paths are bytes: é is two of them.
  const bytes = policy('sandbox/read:on', 'allow/read+/***', 'deny/read+/srv/a/é*');
  assert.is(realDifference(bytes, '/srv/a', '/srv/b', 'bytes above 0x7f'), toBytes('é'));
});

test('protected policy files count below a directory, whether or not write is on', () => {
  const p = new Policy();
  p.protectPolicyFiles(['/srv/a/app.policy']);
  assert.is(realDifference(p, '/srv/a', '/srv/b', 'a policy file below'), 'app.policy');
  assert.ok(p.sameDecisionsBelow('/srv/c', '/srv/b'));
});

test('an exploration past its bound is "different" (EXDEV: fail closed)', () => {
  // The 20th component from the end named `a`: about 2^20 pairs of states, never a difference
  // (every path is denied), so only the bound ends the search.
  const p = policy('sandbox/read:on', `deny/read+/**/a${'/*'.repeat(20)}`);
  assert.ok(2 ** 20 > MAX_PAIRS);
  assert.equal(p.firstDifferenceBelow('/p/a/x', '/p/x/x'), { cap: 'read', suffix: undefined });
  assert.not.ok(p.sameDecisionsBelow('/p/a/x', '/p/x/x'));
  // Few levels: the same search ends, and finds the decisions equal.
  const q = policy('sandbox/read:on', `deny/read+/**/a${'/*'.repeat(6)}`);
  assert.ok(q.sameDecisionsBelow('/p/a/x', '/p/x/x'));
});

test('random rules: "the same" holds for every short suffix; every difference is real (seeded)', () => {
  const seed = seedFrom('TSYD_SUBTREE_SEED');
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)]!;
  const part = () => pick(['a', 'b', 'ab', '*', '?', '[ab]', '[!a]', 'a*', '**', 'c']);
  const pattern = () => `/${Array.from({ length: r.int(1, 4) }, part).join('/')}${r.int(0, 3) === 0 ? '/***' : ''}`;
  const dir = () => `/${Array.from({ length: r.int(1, 3) }, () => pick(['a', 'b', 'ab', 'c', 'x'])).join('/')}`;
  // Every suffix of up to 5 bytes over the bytes the patterns tell apart (and one they do not).
  const suffixes: string[] = [''];
  for (let len = 1, level = ['']; len <= 5; len++) {
    level = level.flatMap((s) => ['a', 'b', 'x', '/'].map((c) => s + c));
    suffixes.push(...level);
  }
  let same = 0;
  let different = 0;
  for (let round = 0; round < 150; round++) {
    const cap = pick(CAPABILITIES.filter((c) => c !== 'net/bind' && c !== 'net/connect'));
    const lines = [`sandbox/${cap}:on`];
    for (let i = 0; i < r.int(1, 6); i++) lines.push(`${r.int(0, 1) ? 'allow' : 'deny'}/${cap}+${pattern()}`);
    const p = policy(...lines);
    const from = dir();
    const to = dir();
    const why = `seed ${seed}: ${from} -> ${to} under ${lines.join(' ')}`;
    if (p.sameDecisionsBelow(from, to)) {
      same++;
      for (const s of suffixes.slice(1)) assert.is(p.check(cap, `${from}/${s}`), p.check(cap, `${to}/${s}`), `${why}: ${s}`);
    } else {
      different++;
      realDifference(p, from, to, why);
    }
  }
  assert.ok(same > 10 && different > 10, `seed ${seed}: both answers met (${same} same, ${different} different)`);
});

test.run();
