// tsyd learn: a recorded run → a policy with which the same run succeeds and anything beyond
// it is denied; secrets explicit and warned about; the program's exit code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accessSync, constants, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

const home = tempTree('learn-home', { '.ssh/id_rsa': 'PRIVATE KEY', '.netrc': 'machine x password y' });
const proj = tempTree('learn-proj', {
  'hello.c': '#include <stdio.h>\nint main(void){puts("hello");return 0;}\n',
  'Makefile': 'hello: hello.c\n\tcc -o hello hello.c\n',
});
const env = { HOME: home, PATH: '/usr/bin:/bin' };
const policy = `${proj}/learned.policy`;
const opts = { cwd: proj, env, timeoutMs: 60_000 };

/**
 * cc makes its temp files with O_CREAT|O_EXCL: such a create must be decided as create (EACCES
 * when denied) and recorded, or the learned policy misses it and the learn-then-run tests below
 * fail. This was a skip condition once (skips count as passes): now it is a test of its own.
 */
test('an O_CREAT|O_EXCL create is decided as create (EACCES), natively it creates the file', async () => {
  const code = `import os\ntry: os.open("${proj}/probe", os.O_CREAT|os.O_EXCL|os.O_WRONLY); print("created")\nexcept OSError as e: print(e.errno)`;
  const r = await runTsyd(['run', '-p', 'none', '-m', 'sandbox/create:on', '-m', 'allow/create+/nowhere', '--', '/usr/bin/python3', '-c', code]);
  assert.is(r.stdout.trim(), '13', `EACCES, not EEXIST (the resolvePath bug with a missing last component): ${describe(r)}`);
  assert.not.ok(existsSync(`${proj}/probe`));
  const n = await runNative('/usr/bin/python3', ['-c', code]);
  assert.is(n.stdout.trim(), 'created', describe(n));
  rmSync(`${proj}/probe`);
});

test('learn a C build with make and cc; the learned policy passes check and runs the same build', async () => {
  const l = await runTsyd(['learn', '-o', policy, '--', 'make'], opts);
  assert.is(l.code, 0, describe(l));
  assert.is(l.stdout, 'cc -o hello hello.c\n', 'the policy went to the file, not stdout');
  const text = readFileSync(policy, 'utf8');
  assert.match(text, '# command: make\n');
  assert.match(text, 'sandbox/read:on\n');
  assert.match(text, 'allow/exec+');
  assert.not.match(text, 'SECRET');
  const c = await runTsyd(['check', '-P', policy], opts);
  assert.is(c.code, 0, describe(c));

  rmSync(`${proj}/hello`);
  const r = await runTsyd(['run', '-p', 'none', '-P', policy, '--', 'make'], opts);
  assert.is(r.code, 0, describe(r));
  assert.ok(existsSync(`${proj}/hello`));
  assert.is(r.records.filter((x) => x.ctx === 'access').length, 0, describe(r));
});

test('under the learned policy, a changed build that reads a new secret is denied', async () => {
  writeFileSync(`${proj}/Makefile.evil`, `hello2: hello.c\n\tcat ${home}/.ssh/id_rsa\n\tcc -o hello2 hello.c\n`);
  // Natively the changed build reads the key and goes on.
  const n = await runNative('make', ['-f', 'Makefile.evil'], opts);
  assert.is(n.code, 0, describe(n));
  assert.match(n.stdout, 'PRIVATE KEY');
  assert.ok(existsSync(`${proj}/hello2`));
  rmSync(`${proj}/hello2`);
  const r = await runTsyd(['run', '-p', 'none', '-P', policy, '--', 'make', '-f', 'Makefile.evil'], opts);
  assert.is.not(r.code, 0, describe(r));
  assert.not.match(r.stdout, 'PRIVATE');
  assert.not.ok(existsSync(`${proj}/hello2`), 'make stopped at the denied read');
  assert.ok(r.records.some((x) => x.ctx === 'access' && x.path === `${home}/.ssh/id_rsa`), describe(r));
});

test('a secret the learned run read: warned on stderr, allowed only by an explicit # SECRET rule', async () => {
  const l = await runTsyd(['learn', '-o', `${proj}/secret.policy`, '--', 'cat', `${home}/.netrc`], opts);
  assert.is(l.code, 0, describe(l));
  assert.match(l.stderr, `tsyd: warning: the learned run touched a secret (read ${home}/.netrc)`);
  const learned = readFileSync(`${proj}/secret.policy`, 'utf8');
  assert.match(learned, `# SECRET: the learned run read this\nallow/read+${home}/.netrc\n`);
  assert.not.match(learned, `allow/read+${home}/***`);
});

test('the exit code is the program\'s; a program not found is 127 with no policy written', async () => {
  const l = await runTsyd(['learn', '-o', `${proj}/p2`, '--', 'sh', '-c', 'exit 7'], opts);
  assert.is(l.code, 7, describe(l));
  assert.ok(existsSync(`${proj}/p2`));
  const n = await runTsyd(['learn', '-o', `${proj}/p3`, '--', 'no-such-program-tsyd'], opts);
  assert.is(n.code, 127, describe(n));
  assert.not.ok(existsSync(`${proj}/p3`));
});

/**
 * The poisoning: a program names a file with bytes that are not UTF-8 (0xff 0xfe) in $HOME, in a
 * directory standing for /etc (a temp dir with a `shadow`: the real /etc is not written) and, by
 * a read that fails, in the real /etc. The old learn wrote `allow/read+DIR/*` (and stat) for each,
 * with which the learned policy read `~/.netrc`, the shadow file and /etc/shadow.
 */
test('poisoning learn with non-UTF-8 names: the learned rules name those bytes only; .netrc and shadow files stay denied', async () => {
  const etc = tempTree('learn-etc', { shadow: 'root:$6$hash:19000::::::\n', passwd: 'root:x:0:0::/root:/bin/sh\n' });
  const fsops = fixture('fsops');
  const name = '\\xff\\xfe'; // fsops decodes \xHH: tsyd's own argv is UTF-8 text
  const bytes = (s: string) => Buffer.from(s, 'latin1');
  for (const d of [home, etc]) rmSync(bytes(`${d}/\xff\xfe`), { force: true });
  const ops = ['write', `${home}/${name}`, 'data', 'read', `${home}/${name}`, 'write', `${etc}/${name}`, 'data', 'read', `${etc}/${name}`, 'open', `/etc/${name}`, 'r'];
  const learned = `${proj}/poison.policy`;
  const l = await runTsyd(['learn', '-o', learned, '--', fsops, ...ops], opts);
  assert.is(l.code, 0, describe(l));
  assert.is(l.stdout, 'write ok 4\nread ok data\nwrite ok 4\nread ok data\nopen ENOENT\n', describe(l));
  assert.not.match(l.stderr, 'warning', describe(l));

  // The file holds the raw bytes, and no rule for a whole directory that holds a secret.
  const data = readFileSync(learned);
  for (const d of [home, etc, '/etc']) assert.ok(data.includes(bytes(`allow/read+${d}/\xff\xfe\n`)), `exact rule for ${d}: ${data.toString('latin1')}`);
  for (const d of [home, etc, '/etc']) assert.not.ok(data.includes(bytes(`+${d}/*\n`)), `no ${d}/*: ${data.toString('latin1')}`);
  const c = await runTsyd(['check', '-P', learned], opts);
  assert.is(c.code, 0, describe(c));
  assert.match(c.stdout, `allow/read+${home}/\ufffd\ufffd\n`, 'check shows the bytes (as U+FFFD: display text)');

  // The same run passes under the learned policy; a name one byte off does not exist for it.
  const same = await runTsyd(['run', '-p', 'none', '-P', learned, '--', fsops, ...ops], opts);
  assert.is(same.stdout, l.stdout, describe(same));
  const off = await runTsyd(['run', '-p', 'none', '-P', learned, '--', fsops, 'read', `${home}/\\xff\\xfd`, 'read', `${etc}/\\xfe\\xff`], opts);
  assert.is(off.stdout, 'read ENOENT\nread ENOENT\n', describe(off));

  // The attack: the secrets next to the learned names.
  const rootShadow = (() => {
    try {
      accessSync('/etc/shadow', constants.R_OK);
      return true;
    } catch {
      return false;
    }
  })();
  const attack = ['read', `${home}/.netrc`, 'read', `${etc}/shadow`, 'open', '/etc/shadow', 'r'];
  const denied = await runTsyd(['run', '-p', 'none', '-P', learned, '--', fsops, ...attack], opts);
  assert.is(denied.stdout, 'read ENOENT\nread ENOENT\nopen ENOENT\n', describe(denied));
  // The old learned rules (`*` for the bytes) on top: the same probe reads them all.
  const old = `${proj}/poison-old.policy`;
  writeFileSync(old, Buffer.concat([data, bytes([home, etc, '/etc'].flatMap((d) => [`allow/read+${d}/*`, `allow/stat+${d}/*`]).join('\n') + '\n')]));
  const allowed = await runTsyd(['run', '-p', 'none', '-P', old, '--', fsops, ...attack], opts);
  assert.is(allowed.stdout, `read ok machine x password y\nread ok root:$6$hash:19000::::::\n\nopen ${rootShadow ? 'ok' : 'EACCES'}\n`, describe(allowed));
});

test('a name with a newline cannot be written in a policy file: left out, with a warning; the file stays valid', async () => {
  const file = `${proj}/newline.policy`;
  const l = await runTsyd(['learn', '-o', file, '--', fixture('fsops'), 'write', `${proj}/new\\x0aline`, 'x', 'write', `${proj}/plain`, 'x'], opts);
  assert.is(l.code, 0, describe(l));
  assert.match(l.stderr, `tsyd: warning: not learned: allow/create+${proj}/new\\x0aline: a newline in a name cannot be written in a policy file`);
  assert.match(readFileSync(file, 'latin1'), `allow/create+${proj}/plain\n`);
  const c = await runTsyd(['check', '-P', file], opts);
  assert.is(c.code, 0, describe(c));
});

test.run();
