// Globs over byte strings: what matches, what never does, and what is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { fromBytes, toBytes } from '../../src/sandbox/bytes.js';
import { automatonSteps, ChildMatch, childMatch, compileGlob, globMatcher, parseGlob } from '../../src/sandbox/glob.js';
import { PatternError } from '../../src/sandbox/pattern-error.js';
import { rng, seedFrom } from '../helpers/random.js';

const m = (pattern: string, path: string) => globMatcher(pattern)(path);

/** Asserts the matcher and the RegExp agree, and returns their answer. */
const both = (pattern: string, path: string) => {
  const a = globMatcher(pattern)(path);
  assert.is(compileGlob(pattern).test(path), a, `RegExp and matcher agree on ${pattern} ~ ${path}`);
  return a;
};

test('automatonSteps: the steps past the literal prefix of a glob that needs an automaton (the run-time budget), none for a literal or a prefix test', () => {
  const steps = (pattern: string) => automatonSteps(parseGlob(pattern));
  assert.is(steps('/etc/passwd'), 0);
  assert.is(steps('/usr/***'), 0);
  assert.is(steps('/usr/**'), 0);
  assert.is(steps('/home/u/**/*.txt'), 7);
  assert.is(steps('/*'), 1);
  assert.is(steps(`${'/**/a'.repeat(16)}/0`), 65);
  assert.is(steps('/[ab]?\\*'), 3); // class, ?, an escaped * (a literal)
});

test('* matches within one component, zero chars included, never /', () => {
  assert.ok(both('/etc/*.conf', '/etc/a.conf'));
  assert.ok(both('/etc/*.conf', '/etc/.conf'));
  assert.not.ok(both('/etc/*.conf', '/etc/x/a.conf'));
  assert.not.ok(both('/etc/*', '/etc'));
  assert.ok(both('/etc/*', '/etc/'));
  assert.not.ok(both('/a*', '/a/b'));
});

test('** crosses /, matches zero chars, and needs the chars around it', () => {
  assert.ok(both('/etc/**', '/etc/x/y/z.conf'));
  assert.ok(both('/etc/**', '/etc/'));
  assert.not.ok(both('/etc/**', '/etc'));
  assert.ok(both('/a/**/b', '/a/x/y/b'));
  assert.ok(both('/a/**/b', '/a//b'));
  assert.not.ok(both('/a/**/b', '/a/b'), '** is chars, not components: the two / stay');
  assert.ok(both('/**.so', '/usr/lib/libc.so'));
  assert.not.ok(both('/**.so', '/usr/lib/libc.so.6'));
});

test('a trailing /*** is the directory itself and everything below it', () => {
  for (const p of ['/usr', '/usr/', '/usr/lib/x.so']) assert.ok(both('/usr/***', p), p);
  for (const p of ['/us', '/usrx', '/usrx/lib', '/']) assert.not.ok(both('/usr/***', p), p);
  assert.ok(both('/***', '/'));
  assert.ok(both('/***', '/any/thing'));
  assert.ok(both('/home/*/***', '/home/u'));
  assert.ok(both('/home/*/***', '/home/u/.ssh/id'));
  assert.not.ok(both('/home/*/***', '/home'));
  assert.ok(both('/a***', '/a/b'), 'without the / before it, *** is **');
  assert.not.ok(both('/a\\/***', '/a/b/c') && !both('/a\\/***', '/a'), 'an escaped / is a /');
});

test('? is exactly one char, never /', () => {
  assert.ok(both('/tmp/?', '/tmp/a'));
  assert.not.ok(both('/tmp/?', '/tmp/ab'));
  assert.not.ok(both('/tmp/?', '/tmp/'));
  assert.not.ok(both('/a?b', '/a/b'));
  assert.ok(both('/a?c', '/a.c'));
});

test('classes: sets, ranges, negation with ! and ^, never /', () => {
  assert.ok(both('/dev/tty[0-9]', '/dev/tty7'));
  assert.not.ok(both('/dev/tty[0-9]', '/dev/ttyS'));
  assert.not.ok(both('/dev/tty[0-9]', '/dev/tty10'));
  assert.ok(both('/x/[abc]', '/x/b'));
  assert.not.ok(both('/x/[abc]', '/x/d'));
  assert.ok(both('/x/[!abc]', '/x/d'));
  assert.not.ok(both('/x/[!abc]', '/x/a'));
  assert.ok(both('/x/[^abc]', '/x/d'));
  assert.not.ok(both('/x/[^abc]', '/x/c'));
  assert.not.ok(both('/x[!a]y', '/x/y'), 'a negated class never matches /');
  assert.not.ok(both('/x[.-0]y', '/x/y'), 'nor does a range that spans /');
  assert.ok(both('/x[.-0]y', '/x.y'));
  assert.ok(both('/x/[]a]', '/x/]'), '] first is literal');
  assert.ok(both('/x/[!]]', '/x/a'));
  assert.not.ok(both('/x/[!]]', '/x/]'));
  assert.ok(both('/x/[a-]', '/x/-'), '- last is literal');
  assert.ok(both('/x/[\\]]', '/x/]'), 'escaped ] in a class');
  assert.ok(both('/x/[\\d]', '/x/d'), 'an escaped letter is that letter, not a RegExp class');
  assert.not.ok(both('/x/[\\d]', '/x/5'));
});

test('escapes make metacharacters literal; RegExp characters are literal', () => {
  assert.ok(both('/a\\*b', '/a*b'));
  assert.not.ok(both('/a\\*b', '/axb'));
  assert.ok(both('/a\\?', '/a?'));
  assert.not.ok(both('/a\\?', '/ab'));
  assert.ok(both('/a\\[b]', '/a[b]'));
  assert.ok(both('/a\\\\b', '/a\\b'));
  assert.ok(both('/a.b(c)+$^|{1}', '/a.b(c)+$^|{1}'));
  assert.not.ok(both('/a.b', '/axb'), '. is literal');
});

test('anchored at both ends', () => {
  assert.ok(both('/etc/passwd', '/etc/passwd'));
  assert.not.ok(both('/etc/passwd', '/etc/passwd.bak'));
  assert.not.ok(both('/etc/passwd', '/x/etc/passwd'));
  assert.not.ok(both('/etc/*', '/x/etc/a'));
  assert.not.ok(both('/etc/pass*', '/etc/passwd/x'));
});

test('paths are bytes: non-UTF-8 names, one ? per byte, newlines are chars', () => {
  const raw = Buffer.from([0x2f, 0x74, 0xff, 0xfe]).toString('latin1'); // "/t\xff\xfe"
  assert.ok(both('/t*', raw));
  assert.ok(both('/t??', raw));
  assert.not.ok(both('/t?', raw));
  assert.ok(both('/t[\xff]\xfe', raw));
  assert.ok(both(toBytes('/é*'), toBytes('/été')));
  assert.not.ok(both(toBytes('/?'), toBytes('/é')), 'é is two bytes in UTF-8');
  assert.ok(both(toBytes('/??'), toBytes('/é')));
  assert.ok(both('/a*b', '/a\nb'));
  assert.ok(both('/a/**', '/a/x\n/y'));
  assert.is(fromBytes(toBytes('/日本/é')), '/日本/é');
  assert.is(toBytes('é'), '\xc3\xa9');
});

test('compiled once: the same matcher and RegExp for the same pattern', () => {
  assert.is(globMatcher('/a/*'), globMatcher('/a/*'));
  assert.is(compileGlob('/a/*'), compileGlob('/a/*'));
  assert.instance(compileGlob('/a/b'), RegExp);
  assert.ok(compileGlob('/usr/***').test('/usr'));
});

test('long hostile paths are decided without backtracking', () => {
  // A backtracking RegExp takes seconds to hours on these; the matcher is linear.
  const deep = `/${'a/'.repeat(2000)}`;
  assert.not.ok(m('/**/**/**/**/**/x', deep));
  assert.ok(m('/**/**/**/**/**/x', `${deep}x`));
  const wide = `/${'a'.repeat(4000)}`;
  assert.not.ok(m('/**a**a**a**a**a**a**b', wide));
  assert.not.ok(m('/*a*a*a*a*a*a*a*b', `/${'a'.repeat(255)}`));
  assert.ok(m('/*a*a*a*a*a*a*a*b', `/${'a'.repeat(255)}b`));
});

test('malformed globs are refused with where and why', () => {
  const why = (pattern: string) => {
    try {
      globMatcher(pattern);
    } catch (e) {
      assert.instance(e, PatternError);
      assert.instance(e, PolicyError);
      return e as PatternError;
    }
    throw new Error(`'${pattern}' was accepted`);
  };
  const unterminated = why('/a/[bc');
  assert.is(unterminated.index, 3);
  assert.match(unterminated.reason, /unterminated character class/);
  assert.match(unterminated.message, /write \\\[ for a literal \[/);
  assert.match(why('/a\\').reason, /trailing \\ escapes nothing/);
  assert.is(why('/a\\').index, 2);
  assert.match(why('/x/[z-a]').reason, /range z-a is reversed/);
  assert.match(why('/x/[[:alpha:]]').reason, /POSIX classes/);
  assert.match(why('/x[/]y').reason, /can never match/);
  assert.match(why('/\u00e9\u65e5').reason, /not a byte string/);
  assert.is(why('/\u00e9\u65e5').index, 2);
});

test('childMatch: whether a glob matches no child DIR/NAME of a directory, some, or all', () => {
  const { none, some, all } = ChildMatch;
  const cases: Array<[string, string, number]> = [
    ['/***', '/tmp', all],
    ['/**', '/', all],
    ['/home/u/***', '/home/u', all],
    ['/home/u/*', '/home/u', all],
    ['/home/u/.ssh/***', '/home/u', some],
    ['/home/u/.ssh', '/home/u', some],
    ['/home/u/.ssh/***', '/home/u/.ssh', all],
    ['/home/u/.ssh/***', '/usr', none],
    ['/etc/ssh/*_key', '/etc', none], // needs another '/': a grandchild only
    ['/etc/ssh/*_key', '/etc/ssh', some],
    ['/**/secret', '/srv/x', some],
    ['/a/[bc]', '/a', some],
    ['/a/?', '/a', some],
    ['/a', '/a', none], // the directory itself is no child
    ['/a/***', '/ab', none],
    // A `**` met early, then more to read: all only where it can end the match.
    ['/a**', '/ab/c', all],
    ['/a**x', '/ab/c', some],
    ['/**/x/***', '/y/x/z', all],
    ['/**/x/*', '/y', none],
  ];
  for (const [pattern, dir, want] of cases) assert.is(childMatch(pattern, dir), want, `${pattern} under ${dir}`);
});

test('childMatch agrees with the matcher: `all` matches every child tried, `none` no child tried (random globs)', () => {
  const seed = seedFrom('TSYD_GLOB_SEED');
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[r.int(0, xs.length - 1)]!;
  const names = ['a', 'b', 'ab', 'x.key'];
  const part = () => pick([...names, '*', '?', '[ab]', 'a*', '**', 'a**', '**b']);
  const children = [...names, 'c', 'zz', '.hidden', 'b.key'];
  for (let round = 0; round < 400; round++) {
    const pattern = `/${Array.from({ length: r.int(1, 4) }, part).join('/')}${r.int(0, 2) === 0 ? '/***' : ''}`;
    const dir = `/${Array.from({ length: r.int(0, 3) }, () => pick([...names, 'c'])).join('/')}`;
    const c = childMatch(pattern, dir);
    const m = globMatcher(pattern);
    for (const name of children) {
      const child = dir === '/' ? `/${name}` : `${dir}/${name}`;
      if (c === ChildMatch.all) assert.ok(m(child), `seed ${seed}: ${pattern} said all under ${dir}, not ${child}`);
      if (c === ChildMatch.none) assert.not.ok(m(child), `seed ${seed}: ${pattern} said none under ${dir}, but ${child}`);
    }
  }
});

test.run();
