// A crypt file unlinked while a writer still holds it (README "Crypt sandboxing"): the writer's
// buffer leaves the name (natively its content goes with the deleted inode), so a new file made
// under the name meanwhile is a file of its own, and is what lands.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

async function sh(dir: string, script: string) {
  const r = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', script]);
  return { ...r, out: r.stdout.trim().split('\n') };
}

for (const redirect of ['>', '>>']) {
  test(`a writer holds f, rm f, echo new ${redirect} f, the writer closes: f is "new" (in the sandbox and on disk)`, async () => {
    const dir = tempTree('crypt-unlinked');
    const f = `${dir}/f`;
    const r = await sh(dir, `echo old > ${f} && exec 3>>${f}; echo more >&3; rm ${f}; echo new ${redirect} ${f}; cat ${f}; exec 3>&-; sleep 0.3; cat ${f}`);
    assert.is(r.code, 0, describe(r));
    assert.equal(r.out, ['new', 'new'], describe(r));
    assert.is(String(decryptFile(f)), 'new\n', describe(r));
  });
}

test('a writer holds f, rm f, the writer writes and closes: f does not come back', async () => {
  const dir = tempTree('crypt-unlinked-gone');
  const f = `${dir}/f`;
  const r = await sh(dir, `echo old > ${f} && exec 3>>${f}; rm ${f}; echo more >&3; exec 3>&-; sleep 0.3; ls ${dir}; test -e ${f} || echo gone`);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.out, ['gone'], describe(r));
});

test('a writer holds f: a rename of f, or of another file onto f, fails EBUSY; f keeps the writer\'s content', async () => {
  const dir = tempTree('crypt-renamed-busy');
  const f = `${dir}/f`;
  const r = await sh(dir, `echo old > ${f} && exec 3>>${f}; echo more >&3; mv ${f} ${dir}/g 2>/dev/null || echo src-busy; echo h > ${dir}/h; mv ${dir}/h ${f} 2>/dev/null || echo target-busy; exec 3>&-; sleep 0.3; cat ${f}`);
  assert.is(r.code, 0, describe(r));
  assert.equal(r.out, ['src-busy', 'target-busy', 'old', 'more'], describe(r));
  assert.is(String(decryptFile(f)), 'old\nmore\n', describe(r));
});

test.run();
