// glob-overlap.ts: whether two globs can match one same path (and such a path). Checked by hand
// on the forms tsyd learn writes and the secret globs, and against brute force on random globs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { globMatcher } from '../../src/sandbox/glob.js';
import { globOverlap } from '../../src/sandbox/glob-overlap.js';
import { rng, seedFrom } from '../helpers/random.js';

/** The overlap of a and b, checked to be symmetric and a path both match. */
function overlap(a: string, b: string): string | null {
  const w = globOverlap(a, b);
  const v = globOverlap(b, a);
  assert.is(w === null, v === null, `symmetric: ${a} ${b}`);
  if (w !== null) {
    assert.ok(globMatcher(a)(w), `${a} matches the witness ${JSON.stringify(w)}`);
    assert.ok(globMatcher(b)(w), `${b} matches the witness ${JSON.stringify(w)}`);
  }
  return w;
}

test('the poisoned rules of tsyd learn reach the secrets; exact names do not', () => {
  assert.is(overlap('/home/alice/*', '/home/alice/.netrc'), '/home/alice/.netrc');
  assert.is(overlap('/home/alice/*', '/home/alice/.ssh/***'), '/home/alice/.ssh');
  assert.is(overlap('/etc/*', '/etc/shadow'), '/etc/shadow');
  assert.is(overlap('/home/alice/***', '/home/*/.netrc'), '/home/alice/.netrc');
  assert.is(overlap('/home/alice/\xff\xfe', '/home/alice/.netrc'), null);
  assert.is(overlap('/home/alice/\xff\xfe', '/home/*/.ssh/***'), null);
  assert.is(overlap('/etc/\xff', '/etc/shadow'), null);
  assert.is(overlap('/home/alice/proj/***', '/home/*/.ssh/***'), null);
  assert.is(overlap('/home/alice/.ssh-tools/***', '/home/*/.ssh/***'), null, 'a tree is its name, then / or nothing');
  // Bytes that are not UTF-8 are bytes like any other.
  assert.is(overlap('/h/\xff*', '/h/*\xfe'), '/h/\xff\xfe');
});

test('* and ? stay in one component, ** crosses, a trailing /*** is the directory too', () => {
  assert.is(overlap('/a/*', '/a/b/c'), null);
  assert.is(overlap('/a/?', '/a/b/c'), null);
  assert.is(overlap('/a/**', '/a/b/c'), '/a/b/c');
  assert.is(overlap('/a/*/c', '/a/**'), '/a//c', 'any byte string, canonical or not: conservative');
  assert.is(overlap('/a/***', '/a'), '/a');
  assert.is(overlap('/a/***', '/ab'), null);
  assert.is(overlap('/a/***', '/a/b/***'), '/a/b');
  assert.is(overlap('/*', '/*/*'), null);
  assert.is(overlap('/**', '/x/y'), '/x/y');
});

test('classes, escapes and literal text', () => {
  assert.is(overlap('/a/[!x]', '/a/x'), null);
  assert.is(overlap('/a/[a-c]', '/a/[c-e]'), '/a/c');
  assert.is(overlap('/a/[!a-z]', '/a/?'), '/a/_');
  assert.is(overlap('/a/[xy]*', '/a/?z'), '/a/xz');
  assert.is(overlap('/a/\\*', '/a/*'), '/a/*');
  assert.is(overlap('/a/\\*', '/a/b'), null);
  assert.is(overlap('/etc/ssh/\\*_key', '/etc/ssh/*_key'), '/etc/ssh/*_key', 'an escaped star is the name *_key, which the secret glob matches');
  assert.is(overlap('/a/b', '/a/b'), '/a/b');
  assert.is(overlap('/a/b', '/a/bc'), null);
  assert.is(overlap('/a/[\r]', '/a/\r'), '/a/\r');
});

test('a glob that does not parse throws', () => {
  assert.throws(() => globOverlap('/a/[', '/a/b'));
});

/** Random globs over a small alphabet, compared with brute force over every path up to length 6. */
test('agrees with brute force on random globs', () => {
  const seed = seedFrom('TSYD_OVERLAP_SEED');
  const r = rng(seed);
  const atoms = ['a', 'b', '/', '*', '**', '?', '[ab]', '[!a]', '\\*'];
  const alphabet = ['a', 'b', '/', '*', 'x'];
  const paths: string[] = [''];
  for (let len = 1, from = 0; len <= 6; len++) {
    const to = paths.length;
    for (let i = from; i < to; i++) for (const c of alphabet) paths.push(paths[i]! + c);
    from = to;
  }
  const randomGlob = () => {
    let g = '/';
    for (let n = r.int(0, 4); n > 0; n--) g += atoms[r.int(0, atoms.length - 1)]!;
    if (r.int(0, 5) === 0) g += g.endsWith('/') ? '***' : '/***';
    return g;
  };
  for (let round = 0; round < 400; round++) {
    const a = randomGlob();
    const b = randomGlob();
    const [ma, mb] = [globMatcher(a), globMatcher(b)];
    const brute = paths.find((p) => ma(p) && mb(p));
    const w = overlap(a, b);
    if (brute !== undefined) assert.ok(w !== null, `seed ${seed}: ${a} and ${b} both match ${JSON.stringify(brute)}`);
  }
});

test.run();
