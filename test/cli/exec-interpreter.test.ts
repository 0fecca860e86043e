// A `#!` script whose interpreter cannot run: missing (ENOENT, exit 127, no denial, as natively),
// denied by the exec policy (EACCES, exit 126, one denial), hidden by stat (missing for the
// program: ENOENT, 127, one stat record). The CLI names the interpreter, not "command not found".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { allowAllBut, expectRun, fsops } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

const dir = tempTree('interp');
const interp = tempTree('interp-bin'); // a visible, existing interpreter outside dir
mkdirSync(`${interp}/bin`);
copyFileSync('/bin/true', `${interp}/bin/true`);
const script = (name: string, line: string) => writeFileSync(`${dir}/${name}`, `${line}\necho ran\n`, { mode: 0o755 });
script('missing', '#!/nonexistent');
script('missing-dir', `#!${interp}/no-such-dir/sh`);
script('denied', `#!${interp}/bin/true`);
const opts = { cwd: dir };
const access = (r: { records: Array<Record<string, unknown>> }) => r.records.filter((x) => x.ctx === 'access').map((x) => [x.cap, x.path]);

test('a missing interpreter: 127 under -p user as under -p off and natively, no denial, the interpreter named', async () => {
  const native = await runNative('env', ['./missing'], opts);
  assert.is(native.code, 127, describe(native));
  for (const p of ['user', 'off']) {
    for (const name of ['missing', 'missing-dir']) {
      const r = await runTsyd(['run', '-p', p, '--', `./${name}`], opts);
      assert.is(r.code, 127, `-p ${p} ${name}: ${describe(r)}`);
      assert.equal(access(r), [], `no denial: nothing was refused: ${describe(r)}`);
      assert.match(r.stderr, `tsyd: ./${name}: bad interpreter `, describe(r));
      assert.match(r.stderr, ': No such file or directory\n', describe(r));
      assert.not.match(r.stderr, 'command not found', describe(r));
    }
  }
});

test('an execve of a script with a missing interpreter inside the program: ENOENT, no denial', async () => {
  const run = await fsops(allowAllBut('exec', '/nowhere'), ['execve', `${dir}/missing`, 'x', 'execve', `${dir}/missing-dir`, 'x']);
  expectRun(run, ['execve ENOENT', 'execve ENOENT']);
});

test('an existing interpreter the exec policy denies: 126, one exec denial, the interpreter named', async () => {
  const r = await runTsyd(['run', '-p', 'user', '-m', `deny/exec+${interp}/***`, '--', './denied'], opts);
  assert.is(r.code, 126, describe(r));
  assert.equal(access(r), [['exec', `${interp}/bin/true`]], describe(r));
  assert.match(r.stderr, `tsyd: ./denied: cannot execute: Permission denied (the script or its interpreter ${interp}/bin/true`, describe(r));
});

test('a hidden interpreter is a missing one: 127, the same text, one stat record (never EACCES)', async () => {
  const r = await runTsyd(['run', '-p', 'user', '-m', `deny/stat+${interp}/***`, '--', './denied'], opts);
  assert.is(r.code, 127, describe(r));
  assert.equal(access(r), [['stat', `${interp}/bin/true`]], describe(r));
  assert.match(r.stderr, `tsyd: ./denied: bad interpreter ${interp}/bin/true: No such file or directory\n`, describe(r));
  // Hidden and missing alike: a missing name under the hidden tree answers the same, with its record.
  writeFileSync(`${dir}/hidden-missing`, `#!${interp}/bin/nothing\n`, { mode: 0o755 });
  const m = await runTsyd(['run', '-p', 'user', '-m', `deny/stat+${interp}/***`, '--', './hidden-missing'], opts);
  assert.is(m.code, 127, describe(m));
  assert.equal(access(m), [['stat', `${interp}/bin/nothing`]], describe(m));
});

test.run();
