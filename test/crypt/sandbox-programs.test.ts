// Ordinary programs on crypt files (README "Crypt sandboxing"), each the regression test of an
// attack finding: git commits (objects written, fstat'ed and renamed), cp/mv onto an existing
// crypt file (O_PATH|O_DIRECTORY probe), close then read after the writer fstat'ed its fd, and
// sqlite's rollback journal (stat by name while a writer holds the file).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

/** `sh -c SCRIPT` under tsyd with Crypt on below `dir`. */
function sh(dir: string, script: string) {
  return runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', script], { timeoutMs: 120_000 });
}

test('git: 10 commits in a crypt dir all succeed and git fsck is clean', async () => {
  const dir = tempTree('crypt-git');
  const git = 'git -c user.email=a@b -c user.name=a';
  const r = await sh(dir, `cd ${dir} && git init -q . && echo hi > f && git add f && ${git} commit -qm c0 || exit 9
bad=0; for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i" >> f; ${git} commit -qam "c$i" || bad=$((bad+1)); done
git fsck --full 2>&1; echo "failed=$bad fsck=$? commits=$(git log --format=%s | wc -l)"`);
  assert.is(r.stdout.trim(), 'failed=0 fsck=0 commits=11', describe(r));
});

test('cp and mv onto an existing crypt file replace its content', async () => {
  const dir = tempTree('crypt-cpover');
  const r = await sh(dir, `bad=0; for i in 1 2 3 4 5 6 7 8; do echo "v$i" > ${dir}/a; cp ${dir}/a ${dir}/b || bad=$((bad+1)); [ "$(cat ${dir}/b)" = "v$i" ] || bad=$((bad+1)); done
echo w > ${dir}/c; mv ${dir}/c ${dir}/b || bad=$((bad+1)); echo "bad=$bad $(cat ${dir}/b)"`);
  assert.is(r.stdout.trim(), 'bad=0 w', describe(r));
  assert.is(String(decryptFile(`${dir}/b`)), 'w\n');
});

test('close then read sees the new content when the writer fstat()ed its fd (python open)', async () => {
  const dir = tempTree('crypt-fstatclose');
  const r = await runTsyd(['run', ...cryptRules(dir), '--', 'python3', '-c', `import sys
p, stale = sys.argv[1], 0
for i in range(12):
    c = chr(97 + i)
    with open(p, 'w') as f: f.write(c * 10)
    stale += open(p).read() != c * 10
    with open(p, 'a') as f: f.write('y')
    stale += open(p).read() != c * 10 + 'y'
    with open(p, 'r+') as f: f.seek(2); f.write('Z')
    stale += open(p).read() != c * 2 + 'Z' + c * 7 + 'y'
print('stale', stale)`, `${dir}/p`], { timeoutMs: 120_000 });
  assert.is(r.stdout.trim(), 'stale 0', describe(r));
  assert.is(String(decryptFile(`${dir}/p`)), 'llZllllllly');
});

test('sqlite3 (rollback journal): create, then insert in a second run, in a crypt dir', async () => {
  const dir = tempTree('crypt-sqlite');
  const r = await sh(dir, `sqlite3 ${dir}/db "create table t(x); insert into t values(1),(2),(3);" && sqlite3 ${dir}/db "insert into t values(4);" && sqlite3 ${dir}/db "select sum(x) from t"`);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.trim(), '10');
});

test('vim saves a crypt file (it compares the identity it stat()ed with fstat of its fd)', async () => {
  const dir = tempTree('crypt-vim');
  const r = await sh(dir, `printf 'line1\\n' > ${dir}/v && vim -n -u NONE -N -es -c '%s/line1/VIM/' -c wq ${dir}/v`);
  assert.is(r.code, 0, describe(r));
  assert.is(String(decryptFile(`${dir}/v`)), 'VIM\n');
});

test('a crypt file has one identity: stat, lstat, fstat of a writer and of a reader, its /proc fd link, across write-backs', async () => {
  const dir = tempTree('crypt-identity');
  const r = await runTsyd(['run', ...cryptRules(dir), '--', 'python3', '-c', `import os, sys, time
p = sys.argv[1]
with open(p, 'w') as f: f.write('a')
os.chmod(p, 0o640)
def ident(s): return (s.st_dev, s.st_ino, oct(s.st_mode), s.st_nlink)
ids = [ident(os.stat(p))]
for i in range(3):
    w = os.open(p, os.O_WRONLY | os.O_APPEND)
    r = os.open(p, os.O_RDONLY)
    ids += [ident(os.fstat(w)), ident(os.fstat(r)), ident(os.stat(p)), ident(os.lstat(p)), ident(os.stat('/proc/self/fd/%d' % w))]
    os.write(w, b'b'); os.close(w)
    time.sleep(0.3)
    ids += [ident(os.stat(p)), ident(os.fstat(r))]
    os.close(r)
    r = os.open(p, os.O_RDONLY)
    ids += [ident(os.fstat(r)), ident(os.stat(p))]
    os.close(r)
print(len(set(ids)), ids[0][2], ids[0][3], os.stat(p).st_size, open(p).read())`, `${dir}/i`], { timeoutMs: 120_000 });
  assert.is(r.stdout.trim(), '1 0o100640 1 4 abbb', describe(r));
});

test('tar of a directory right after its crypt files were written: no "file changed as we read it"', async () => {
  const dir = tempTree('crypt-tar');
  // The archive outside the crypt tree: an open of a crypt file would read the close events first.
  const out = `${tempTree('crypt-tar-out')}/out.tar`;
  const r = await sh(dir, `mkdir ${dir}/t; bad=0; for i in $(seq 30); do for f in 1 2 3; do echo "$i-$f" > ${dir}/t/$f; done
tar -C ${dir} -cf ${out} t || bad=$((bad+1)); done; echo "bad=$bad"`);
  assert.is(r.stdout.trim(), 'bad=0', describe(r));
  assert.is(String(decryptFile(`${dir}/t/2`)), '30-2\n');
});

test.run();
