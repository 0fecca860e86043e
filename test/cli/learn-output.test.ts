// Where `tsyd learn` writes the policy: -o/--output FILE, ./tsyd.policy by default, never
// stdout (the program's stdout stays the program's); checked before the program runs (a
// missing directory, an unwritable place, an existing file without --force: 125, the program
// never started, what/where/why on stderr, no stack trace).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runTsyd } from '../helpers/tsyd.js';

const env = { PATH: '/usr/bin:/bin' };
const touchRan = (d: string) => ['--', 'sh', '-c', `touch ${d}/ran; echo out`];

test('without -o: the policy goes to ./tsyd.policy, stdout is the program\'s alone', async () => {
  const d = tempTree('learn-out');
  const r = await runTsyd(['learn', '--', 'echo', 'hi'], { cwd: d, env });
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'hi\n', 'only the program wrote stdout');
  assert.match(readFileSync(`${d}/tsyd.policy`, 'utf8'), '# command: echo hi\n');
});

test('--output FILE and --output=FILE are -o FILE', async () => {
  const d = tempTree('learn-out');
  for (const args of [['--output', `${d}/a.policy`], [`--output=${d}/b.policy`]]) {
    const r = await runTsyd(['learn', ...args, '--', 'true'], { cwd: d, env });
    assert.is(r.code, 0, describe(r));
  }
  for (const f of ['a', 'b']) assert.match(readFileSync(`${d}/${f}.policy`, 'utf8'), 'sandbox/read:on\n');
});

test('a missing directory: 125 before the program runs, naming the file and the directory', async () => {
  const d = tempTree('learn-out');
  const r = await runTsyd(['learn', '-o', `${d}/no/such/p.policy`, ...touchRan(d)], { cwd: d, env });
  assert.is(r.code, 125, describe(r));
  assert.is(r.stderr, `tsyd: learn: cannot write the policy to ${d}/no/such/p.policy: the directory ${d}/no/such does not exist\n`);
  assert.is(r.stdout, '');
  assert.not.ok(existsSync(`${d}/ran`), 'the program never started');
});

test('a directory tsyd may not write (as nobody): 125 before the program runs, with the reason', async () => {
  const d = tempTree('learn-out');
  const ro = tempTree('learn-ro'); // root's, 0755: nobody cannot make a file there
  chmodSync(d, 0o777);
  const r = await runTsyd(['learn', '-o', `${ro}/p.policy`, ...touchRan(d)], { cwd: d, env, user: NOBODY });
  assert.is(r.code, 125, describe(r));
  assert.is(r.stderr, `tsyd: learn: cannot write the policy to ${ro}/p.policy: no new file can be made in ${ro}: Permission denied\n`);
  assert.not.ok(existsSync(`${d}/ran`));
  assert.not.ok(existsSync(`${ro}/p.policy`));
});

test('an existing file is kept without --force (125, program not run); --force replaces it', async () => {
  const d = tempTree('learn-out', { 'tsyd.policy': 'allow/read+/hand/edited\n' });
  const kept = await runTsyd(['learn', ...touchRan(d)], { cwd: d, env });
  assert.is(kept.code, 125, describe(kept));
  assert.is(kept.stderr, 'tsyd: learn: cannot write the policy to tsyd.policy: the file exists (--force replaces it)\n');
  assert.not.ok(existsSync(`${d}/ran`));
  assert.is(readFileSync(`${d}/tsyd.policy`, 'utf8'), 'allow/read+/hand/edited\n');
  const forced = await runTsyd(['learn', '--force', ...touchRan(d)], { cwd: d, env });
  assert.is(forced.code, 0, describe(forced));
  assert.is(forced.stdout, 'out\n');
  assert.match(readFileSync(`${d}/tsyd.policy`, 'utf8'), '# command: sh -c');
});

test('-o - (stdout) and -o DIR are refused with 125 before the program runs', async () => {
  const d = tempTree('learn-out');
  const dash = await runTsyd(['learn', '-o', '-', ...touchRan(d)], { cwd: d, env });
  assert.is(dash.code, 125, describe(dash));
  assert.match(dash.stderr, 'never to stdout');
  const dir = await runTsyd(['learn', '-o', d, ...touchRan(d)], { cwd: d, env });
  assert.is(dir.code, 125, describe(dir));
  assert.is(dir.stderr, `tsyd: learn: cannot write the policy to ${d}: it is a directory\n`);
  assert.not.ok(existsSync(`${d}/ran`));
});

test('the output file made while the program runs is not replaced (the program may not make it: EACCES)', async () => {
  const d = tempTree('learn-out');
  writeFileSync(`${d}/mk.sh`, `echo planted > ${d}/p.policy; echo rc=$?\n`);
  const r = await runTsyd(['learn', '-o', `${d}/p.policy`, '--', 'sh', `${d}/mk.sh`], { cwd: d, env });
  assert.is(r.code, 0, describe(r));
  assert.match(r.stderr, 'Permission denied', describe(r));
  assert.match(readFileSync(`${d}/p.policy`, 'utf8'), '# command: sh ');
});

test.run();
