// The default (user) profile with package managers in a project directory: npm, git, make and
// pip run with zero denials; npm's caches under ~/.npm are written; ~/.npmrc is read (the
// registry it names is the one npm uses) but never written or deleted. Offline: nothing here
// fetches. $HOME lies outside the temp dirs (which the profile makes writable anyway).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const home = mkdtempSync('/var/lib/tsyd-pm-home-');
const registry = 'http://127.0.0.1:9/tsyd-test-registry/';
writeFileSync(`${home}/.npmrc`, `registry=${registry}\n`);
writeFileSync(`${home}/.gitconfig`, '[user]\n\tname = tsyd test\n\temail = test@example.invalid\n');
const proj = tempTree('pm-proj', { Makefile: 'all:\n\techo made > out.txt\n' });
// Under `npm test` the test itself runs with npm's npm_config_* (cache, registry, userconfig…),
// which would point the npm under test at the real ~/.npm and ~/.npmrc: none of them passes.
const npmEnv = Object.fromEntries(Object.keys(process.env).filter((k) => /^npm_/i.test(k)).map((k) => [k, undefined]));
const opts = { cwd: proj, env: { ...npmEnv, HOME: home, PATH: '/usr/bin:/bin', npm_config_update_notifier: undefined } };
const denials = (r: { records: Array<Record<string, unknown>> }) => r.records.filter((x) => x.ctx === 'access');

async function clean(...cmd: string[]) {
  const r = await runTsyd(['run', '--', ...cmd], { ...opts, timeoutMs: 60_000 });
  assert.is(r.code, 0, `${cmd.join(' ')}: ${describe(r)}`);
  assert.equal(denials(r), [], `${cmd.join(' ')}: no denial: ${describe(r)}`);
  return r;
}

test('npm: --version, config get registry (from ~/.npmrc), init -y, pack --dry-run: zero denials; ~/.npm written', async () => {
  const v = await clean('npm', '--version');
  assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
  const reg = await clean('npm', 'config', 'get', 'registry');
  assert.is(reg.stdout, `${registry}\n`, 'the registry of ~/.npmrc: it was hidden as a secret');
  await clean('npm', 'init', '-y');
  assert.ok(existsSync(`${proj}/package.json`));
  const pack = await clean('npm', 'pack', '--dry-run');
  assert.match(pack.stdout, /\.tgz\n$/);
  assert.ok(existsSync(`${home}/.npm/_logs`), 'npm wrote its logs under ~/.npm');
});

test('~/.npmrc is readable but never written or deleted', async () => {
  const r = await runTsyd(['run', '--', 'sh', '-c', 'cat ~/.npmrc; echo x >> ~/.npmrc; rm ~/.npmrc; true'], opts);
  assert.is(r.stdout, `registry=${registry}\n`, describe(r));
  assert.equal(denials(r).map((x) => x.cap), ['write', 'delete'], describe(r));
  assert.is(readFileSync(`${home}/.npmrc`, 'utf8'), `registry=${registry}\n`);
});

test('git init/add/commit, make, python3 -m pip --version: zero denials', async () => {
  await clean('git', 'init', '-q');
  await clean('git', 'add', 'Makefile');
  await clean('git', 'commit', '-qm', 'first');
  await clean('make');
  assert.is(readFileSync(`${proj}/out.txt`, 'utf8'), 'made\n');
  const pip = await clean('python3', '-m', 'pip', '--version');
  assert.match(pip.stdout, /^pip \d+/);
  // pip's cache directory is ~/.cache/pip: a write there is allowed too.
  await clean('sh', '-c', 'mkdir -p ~/.cache/pip && echo x > ~/.cache/pip/probe');
});

test.after(() => rmSync(home, { recursive: true, force: true }));

test.run();
