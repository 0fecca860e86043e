// CLI hygiene (issue 13, point 9): help on every command, long options, bare `tsyd` is a usage
// error (125, usage on stderr), "did you mean" for a mistyped option, command, mode or profile.
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('bare tsyd: the usage on stderr, nothing on stdout, exit 125', async () => {
  const r = await runTsyd([]);
  assert.is(r.code, 125, describe(r));
  assert.is(r.stdout, '');
  assert.match(r.stderr, /^Usage:\n {2}tsyd run /);
  assert.match(r.stderr, /tsyd: no command given/);
});

test('--help and -h on every command: its usage on stdout, exit 0', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--help'], /^Usage: tsyd run /],
    [['run', '-h'], /^Usage: tsyd run /],
    [['run', '-m', 'sandbox/read:on', '--help'], /^Usage: tsyd run /],
    [['check', '--help'], /^Usage: tsyd check /],
    [['learn', '-h'], /^Usage: tsyd learn /],
    [['export', '--help'], /^Usage: tsyd export bpf\|pfc/],
    [['export', 'bpf', '--help'], /^Usage: tsyd export bpf\|pfc/],
    [['export', 'syscalls', '--help'], /^Usage: tsyd export syscalls /],
    [['viz', '--help'], /^Usage: tsyd viz /],
    [['help', 'run'], /^Usage: tsyd run /],
    [['--help'], /^Usage:\n/],
  ];
  for (const [args, usage] of cases) {
    const r = await runTsyd(args);
    assert.is(r.code, 0, `${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stdout, usage, args.join(' '));
    assert.is(r.stderr, '', args.join(' '));
  }
  const run = await runTsyd(['run', '--help']);
  for (const option of ['--profile', '--rule', '--policy-file', 'none']) assert.ok(run.stdout.includes(option), option);
});

test("a program's own --help is the program's", async () => {
  for (const args of [['run', '--', 'sh', '-c', 'echo "$1"', 'sh', '--help'], ['run', 'sh', '-c', 'echo "$1"', 'sh', '-h']]) {
    const r = await runTsyd(args);
    assert.is(r.code, 0, describe(r));
    assert.is(r.stdout, `${args.at(-1)}\n`);
  }
});

test('long options: --profile, --rule, --policy-file (with a space or =), --output for learn', async () => {
  const dir = tempTree('usage-long', { 'p.policy': 'deny/read+/etc/hostname\n' });
  const short = await runTsyd(['check', '-p', 'none', '-m', 'sandbox/read:on', '-P', `${dir}/p.policy`]);
  const long = await runTsyd(['check', '--profile', 'none', '--rule', 'sandbox/read:on', '--policy-file', `${dir}/p.policy`]);
  const eq = await runTsyd(['check', '--profile=none', '--rule=sandbox/read:on', `--policy-file=${dir}/p.policy`]);
  assert.is(short.code, 0, describe(short));
  assert.match(short.stdout, /sandbox\/read:on\n[^]*deny\/read\+\/etc\/hostname/);
  assert.is(long.stdout, short.stdout, describe(long));
  assert.is(eq.stdout, short.stdout, describe(eq));
  const out = `${dir}/learned.policy`;
  const learn = await runTsyd(['learn', '--output', out, '--', 'true'], { cwd: dir });
  assert.is(learn.code, 0, describe(learn));
  assert.ok(existsSync(out) && readFileSync(out, 'utf8').includes('sandbox/read:on'));
  const missing = await runTsyd(['check', '--rule']);
  assert.is(missing.code, 125);
  assert.match(missing.stderr, /option --rule needs a value/);
});

test('"did you mean" for a profile, an option, a command and an export mode (125)', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '-p', 'User', '--', 'true'], /unknown profile 'User'; did you mean 'user'\?/],
    [['check', '--profile=paranoia'], /unknown profile 'paranoia'; did you mean 'paranoid'\?/],
    [['run', '--profil', 'user', '--', 'true'], /unknown option '--profil'; did you mean '--profile'\? \(see tsyd run --help\)/],
    [['run', '--rule=x', '--adit', '--', 'true'], /unknown option '--adit'; did you mean '--audit'\?/],
    [['learn', '--outptu', 'x', '--', 'true'], /unknown option '--outptu'; did you mean '--output'\?/],
    [['rnu', '--', 'true'], /unknown command 'rnu'; did you mean 'run'\?/],
    [['export', 'bfp'], /unknown export mode 'bfp'; did you mean 'bpf'\?/],
    [['viz', '--formt', 'dot'], /unknown option '--formt'; did you mean '--format'\?/],
    [['run', '-p', 'strict', '--', 'true'], /unknown profile 'strict'; expected one of off, user, paranoid, none/],
    [['frobnicate'], /unknown command 'frobnicate'; see tsyd --help/],
    [['--verison'], /unknown option '--verison'; did you mean '--version'\?/],
  ];
  for (const [args, message] of cases) {
    const r = await runTsyd(args);
    assert.is(r.code, 125, `${args.join(' ')}: ${describe(r)}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.is(r.stdout, '', args.join(' '));
  }
});

test.run();
