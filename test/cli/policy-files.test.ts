// A program under tsyd must never change the policy it runs under next time: the -P files,
// the links to them, the directories on the way, /etc/passwd (the user profile reads its
// homes) and learn's output. Each attack is shown working natively first, then failing under
// tsyd whatever the rules say — as root and as nobody.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, lchownSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Policy } from '../../src/sandbox/policy.js';
import { loadPolicyFile } from '../../src/sandbox/rules.js';
import { inNamespace } from '../helpers/namespace.js';
import { ownTree, tempTree } from '../helpers/tmp.js';
import { NOBODY, describe, runNative, runTsyd, tsydBin, type RunResult } from '../helpers/tsyd.js';

const PATH = '/usr/bin:/bin';
const USERS: Array<{ name: string; user?: number; uid: number }> = [
  { name: 'root', uid: 0 },
  { name: 'nobody', user: NOBODY, uid: NOBODY },
];
const APPEND = 'echo "allow/read+/***" >> policy && echo appended';
const opts = (cwd: string, user?: number) => ({ cwd, env: { PATH }, user, timeoutMs: 60_000 });
const denials = (r: RunResult) => r.records.filter((x) => x.ctx === 'access');

// Every way to change what `-P policy` loads next time; each line prints only if it worked.
const ATTACKS = [
  APPEND,
  'chmod 666 policy && echo chmod',
  'truncate -s 0 policy && echo truncated',
  'mv policy moved && echo moved-away',
  'rm -f policy && echo removed',
  'echo "allow/read+/***" > new && mv -f new policy && echo replaced',
  'ln policy hardlink && echo x >> hardlink && echo hard-linked',
  '(exec 3<policy; echo x >> /proc/self/fd/3) && echo reopened',
  'mv "$PWD" "$PWD.moved" && echo dir-moved',
  'echo x > other && echo wrote-other',
].map((l) => `${l} 2>/dev/null`);

const RULES = 'sandbox/read,write,create,delete:on\nallow/read+/***\nallow/create+/***\nallow/delete+/***\n';
const RUNS: Array<{ name: string; policy: string; args: string[]; prefix?: string }> = [
  { name: "-m 'allow/write+/***' after it", policy: RULES, args: ['-m', 'allow/write+/***'] },
  { name: 'write, create and delete off in the policy', policy: 'sandbox/read:on\nallow/read+/***\n', args: ['-m', 'allow/write+/***'] },
  {
    name: '--audit, and rules the program adds at run time (lock:off)',
    policy: RULES,
    args: ['--audit', '-m', 'lock:off'],
    prefix: "test -e '/dev/tsyd/allow/write+/***' && test -e /dev/tsyd/sandbox/write,create,delete:off && echo ruled; ",
  },
];

for (const u of USERS) {
  for (const run of RUNS) {
    test(`-P policy (${u.name}, ${run.name}): appended, chmodded, truncated, moved, removed, replaced, hard-linked, reopened, its directory moved: never`, async () => {
      const d = tempTree('policy-file', { policy: run.policy });
      ownTree(d, u.uid);
      const n = await runNative('/bin/sh', ['-c', APPEND], opts(d, u.user));
      assert.is(n.stdout, 'appended\n', `natively the program changes its next policy: ${describe(n)}`);
      writeFileSync(`${d}/policy`, run.policy);
      const r = await runTsyd(['run', '-P', 'policy', ...run.args, '--', '/bin/sh', '-c', `${run.prefix ?? ''}${ATTACKS.join('; ')}`], opts(d, u.user));
      assert.is(r.stdout, `${run.prefix ? 'ruled\n' : ''}wrote-other\n`, describe(r));
      assert.is(readFileSync(`${d}/policy`, 'utf8'), run.policy);
      assert.ok(existsSync(`${d}/policy`) && !existsSync(`${d}.moved`));
      const denied = denials(r).map((x) => `${x.cap} ${x.path}`);
      for (const want of [`write ${d}/policy`, `delete ${d}/policy`, `create ${d}/policy`, `delete ${d}`]) assert.ok(denied.includes(want), `${want}: ${describe(r)}`);
      assert.ok(denials(r).every((x) => x.audit === undefined), 'never let through, not even in audit mode');
    });
  }
}

/** A dotfile manager's tree: conf → dotfiles/tsyd holds the policy; evil/ another one. */
function linkedTree(uid: number): string {
  const d = tempTree('policy-link', { 'dotfiles/tsyd/app.policy': RULES, 'evil/app.policy': 'sandbox/read:off\n' });
  symlinkSync('dotfiles/tsyd', `${d}/conf`);
  ownTree(d, uid);
  return d;
}

for (const u of USERS) {
  test(`-P through a symlink (${u.name}): the link is neither removed nor replaced, the file behind it not changed`, async () => {
    const script = ['rm conf && ln -s evil conf && echo swapped', 'echo x >> conf/app.policy && echo appended', 'mv dotfiles elsewhere && echo moved'].join(' 2>/dev/null; ');
    const n = await runNative('/bin/sh', ['-c', script], opts(linkedTree(u.uid), u.user));
    assert.is(n.stdout, 'swapped\nappended\nmoved\n', `natively the next run would load evil/app.policy: ${describe(n)}`);
    const d = linkedTree(u.uid);
    const r = await runTsyd(['run', '-P', 'conf/app.policy', '-m', 'allow/write+/***', '--', '/bin/sh', '-c', script], opts(d, u.user));
    assert.is(r.stdout, '', describe(r));
    assert.is(readFileSync(`${d}/conf/app.policy`, 'utf8'), RULES);
    assert.is(readFileSync(`${d}/dotfiles/tsyd/app.policy`, 'utf8'), RULES);
    const denied = denials(r).map((x) => `${x.cap} ${x.path}`);
    for (const want of [`delete ${d}/conf`, `write ${d}/dotfiles/tsyd/app.policy`, `delete ${d}/dotfiles`]) assert.ok(denied.includes(want), `${want}: ${describe(r)}`);
  });
}

for (const u of USERS) {
  test(`/etc/passwd, which the user profile reads (${u.name}, own mount namespace): not appended to under -m 'allow/write+/***'`, async () => {
    const passwd = join(tempTree('policy-passwd'), 'passwd');
    const text = readFileSync('/etc/passwd', 'utf8');
    writeFileSync(passwd, text);
    chmodSync(passwd, 0o644);
    lchownSync(passwd, u.uid, u.uid);
    const script = 'echo "evil:x:0:0::/srv:/bin/sh" >> /etc/passwd && echo appended';
    const n = await inNamespace(passwd, 'true', ['/bin/sh', '-c', script], u.user);
    assert.is(n.stdout, 'appended\n', describe(n));
    writeFileSync(passwd, text);
    const r = await inNamespace(passwd, 'true', [process.execPath, tsydBin, 'run', '-p', 'user', '-m', 'allow/write+/***', '--', '/bin/sh', '-c', script], u.user);
    assert.is(r.stdout, '', describe(r));
    assert.is(readFileSync(passwd, 'utf8'), text);
    assert.ok(denials(r).some((x) => x.cap === 'write' && x.path === '/etc/passwd'), describe(r));
  });
}

for (const u of USERS) {
  test(`learn (${u.name}): a run that writes its output and its -P file learns no rule that changes them; both unchanged`, async () => {
    const base = 'sandbox/net/connect:on\n';
    const d = tempTree('policy-learn', { 'base.policy': base });
    ownTree(d, u.uid);
    const script = [
      'for f in a b c d; do echo $f > $f; done',
      'echo "allow/read+/***" >> out.policy && echo wrote-output',
      'ln -s /etc/passwd out.policy && echo planted',
      'echo x >> base.policy && echo wrote-base',
      'exit 0',
    ].join(' 2>/dev/null; ');
    const n = await runNative('/bin/sh', ['-c', script], opts(d, u.user));
    assert.is(n.stdout, 'wrote-output\nwrote-base\n', describe(n));
    writeFileSync(`${d}/base.policy`, base);
    for (const f of ['a', 'b', 'c', 'd', 'out.policy']) rmSync(`${d}/${f}`);
    const r = await runTsyd(['learn', '-o', 'out.policy', '-P', 'base.policy', '--', '/bin/sh', '-c', script], opts(d, u.user));
    assert.is(r.code, 0, describe(r));
    assert.is(r.stdout, '', `the program changed neither, planted nothing: ${describe(r)}`);
    assert.is(readFileSync(`${d}/base.policy`, 'utf8'), base);
    // The learned rules as they are (read without the protection `tsyd run -P` adds).
    const learned = Policy.from(loadPolicyFile(`${d}/out.policy`));
    for (const cap of ['write', 'create', 'delete'] as const) {
      for (const f of ['out.policy', 'base.policy']) assert.not.ok(learned.check(cap, `${d}/${f}`), `learned ${cap} ${f}: ${readFileSync(`${d}/out.policy`, 'utf8')}`);
    }
    assert.ok(learned.check('write', `${d}/a`) && learned.check('create', `${d}/d`), 'the rest of the run is learned');
    for (const w of [`create ${d}/out.policy`, `write ${d}/base.policy`]) assert.match(r.stderr, `not learned: the run tried to change a policy file (${w})`);
  });
}

test.run();
