// The default (user) profile end to end: everyday tools run unchanged in their working
// directory; reading a secret and writing outside the cwd and temp dirs are denied.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, type RunResult } from '../helpers/tsyd.js';

// A home of our own: its secrets are the profile's (HOME decides), and the real one stays untouched.
const home = tempTree('home', { '.ssh/id_ed25519': 'PRIVATE KEY', '.aws/credentials': 'AWS KEY', '.gitconfig': '[user]\n\tname = T\n\temail = t@example.org\n' });
const proj = tempTree('proj', { 'hello.c': '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n', 'Makefile': 'hello: hello.c\n\tcc -o hello hello.c\n' });
// Outside the cwd and every temp dir.
const outside = `/var/lib/tsyd-user-profile-${process.pid}.txt`;
const env = { HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin' };
const run = (args: string[]): Promise<RunResult> => runTsyd(['run', '--', ...args], { cwd: proj, env, timeoutMs: 60_000 });
const denials = (r: RunResult) => r.records.filter((x) => x.ctx === 'access');

test('make and cc build in the cwd, with no denial', async () => {
  const r = await run(['make']);
  assert.is(r.code, 0, describe(r));
  assert.ok(existsSync(`${proj}/hello`));
  assert.is(denials(r).length, 0, describe(r));
});

test('git init, add, commit in the cwd (git reads ~/.gitconfig)', async () => {
  const r = await run(['sh', '-c', 'git init -q && git add hello.c && git commit -qm first && git log --format=%an:%s']);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'T:first\n');
  assert.is(denials(r).length, 0, describe(r));
});

test('tar packs and unpacks in the cwd; python3 and node compute and write there', async () => {
  const t = await run(['sh', '-c', 'tar cf src.tar hello.c Makefile && mkdir -p x && tar xf src.tar -C x && cmp hello.c x/hello.c && echo same']);
  assert.is(t.code, 0, describe(t));
  assert.is(t.stdout, 'same\n');
  const py = await run(['python3', '-c', 'import json,os; open("py.json","w").write(json.dumps(sorted(os.listdir("x")))); print(open("py.json").read())']);
  assert.is(py.code, 0, describe(py));
  assert.is(py.stdout, '["Makefile", "hello.c"]\n');
  const js = await run(['node', '-e', 'require("fs").writeFileSync("n.txt", String(6*7)); console.log(require("fs").readFileSync("n.txt","utf8"))']);
  assert.is(js.code, 0, describe(js));
  assert.is(js.stdout, '42\n');
  assert.is(denials(t).length + denials(py).length + denials(js).length, 0);
});

test('reading ~/.ssh is denied (the key does not exist for the program), even with cat, python3 and node', async () => {
  for (const args of [['cat', `${home}/.ssh/id_ed25519`], ['python3', '-c', `print(open("${home}/.aws/credentials").read())`], ['node', '-e', `console.log(require("fs").readFileSync("${home}/.ssh/id_ed25519","utf8"))`]]) {
    const r = await run(args);
    assert.is.not(r.code, 0, describe(r));
    assert.not.match(r.stdout, 'KEY');
    assert.ok(denials(r).some((x) => typeof x.path === 'string' && x.path.startsWith(`${home}/.`)), describe(r));
  }
  const ls = await run(['ls', '-a', `${home}`]);
  assert.is(ls.code, 0, describe(ls));
  assert.not.match(ls.stdout, '.ssh', 'hidden from listings');
  assert.match(ls.stdout, '.gitconfig');
});

test('a secret is denied even though it lies under a writable temp dir', async () => {
  const r = await run(['sh', '-c', `echo x > ${home}/.ssh/authorized_keys`]);
  assert.is.not(r.code, 0, describe(r));
  assert.not.ok(existsSync(`${home}/.ssh/authorized_keys`));
});

test('writing outside the cwd and temp dirs is denied (EACCES), the file unchanged', async () => {
  writeFileSync(outside, 'ORIGINAL');
  try {
    const r = await run(['sh', '-c', `echo changed > ${outside}`]);
    assert.is.not(r.code, 0, describe(r));
    assert.match(r.stderr, 'Permission denied');
    assert.is(readFileSync(outside, 'utf8'), 'ORIGINAL');
    assert.is(denials(r).filter((x) => x.cap === 'write' && x.path === outside).length, 1, describe(r));
  } finally {
    rmSync(outside, { force: true });
  }
  const c = await run(['touch', `/var/lib/tsyd-new-${process.pid}`]);
  assert.is.not(c.code, 0, describe(c));
  assert.not.ok(existsSync(`/var/lib/tsyd-new-${process.pid}`));
});

test.run();
