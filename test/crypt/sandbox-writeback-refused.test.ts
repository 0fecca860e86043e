// A crypt file's write-back (a new inode renamed onto the name) needs more than a plain in-place
// write: the directory must take it. README "Crypt sandboxing": a writer open that tsyd could not
// write back is refused up front (EACCES/EPERM, one warn record); a write-back keeps the file's
// owner, group and mode; a write-back that fails for good (the directory changed after the open)
// is an error record `write_back_lost` per file and tsyd exits 101, never silent.
// Root tests: tsyd runs as nobody (setpriv) where the refusal depends on its credentials.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile, KEY } from '../helpers/crypt-sandbox.js';
import { referenceEncrypt } from '../helpers/crypt-reference.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runTsyd, type RunResult } from '../helpers/tsyd.js';

const { EACCES, EPERM } = constants.errno;

/** A fresh directory `dir` (mode `mode`) holding crypt file `f` ("old", owned uid:gid, mode fileMode). */
function cryptDir(prefix: string, mode: number, owner = 0, fileMode = 0o666): { dir: string; f: string } {
  const dir = `${tempTree(prefix)}/d`;
  mkdirSync(dir);
  chmodSync(dir, mode);
  const f = `${dir}/f`;
  writeFileSync(f, referenceEncrypt(Buffer.from(KEY, 'hex'), Buffer.from('old')));
  chownSync(f, owner, owner);
  chmodSync(f, fileMode);
  return { dir, f };
}

/** `echo new > f` under tsyd (Crypt on below `dir`), as `user`. */
function rewrite(dir: string, f: string, user?: number): Promise<RunResult> {
  return runTsyd(['run', ...cryptRules(dir), '--', '/bin/sh', '-c', `echo new > ${f} && echo write-ok`], user === undefined ? {} : { user });
}

function refusal(r: RunResult): Array<Record<string, unknown>> {
  return r.records.filter((rec) => rec.ctx === 'crypt' && rec.op === 'write_back_refused');
}

/** The writer's open failed with `err`, one warn record names the file and why, the file on disk is untouched. */
function assertRefused(r: RunResult, f: string, err: number, why: RegExp): void {
  assert.is.not(r.code, 0, describe(r));
  assert.not.match(r.stdout, /write-ok/, describe(r));
  const recs = refusal(r);
  assert.is(recs.length, 1, describe(r));
  assert.equal([recs[0].level, recs[0].path, recs[0].err], ['warn', f, err], describe(r));
  assert.match(String(recs[0].reason), why, describe(r));
  assert.not.match(r.stderr, new RegExp(KEY), 'the key never appears in a log');
  assert.is(String(decryptFile(f)), 'old', describe(r));
}

test('precondition: root, to run tsyd as nobody', () => {
  assert.is(process.getuid?.(), 0, 'these tests need root');
});

test('as nobody, a root-owned 0666 crypt file in a sticky 1777 directory: the writer open fails EPERM (the rename onto it would)', async () => {
  // Before: "write-ok", write_back_failed err 1 stage rename, tsyd exit 0, the disk still "old".
  const { dir, f } = cryptDir('crypt-sticky', 0o1777);
  const r = await rewrite(dir, f, NOBODY);
  assertRefused(r, f, EPERM, /sticky/);
});

test('as nobody, a root-owned 0666 crypt file in a 0777 directory: the writer open fails EPERM (the new inode could not keep the owner)', async () => {
  // Before: the write landed and the file became nobody's (write access turned into ownership).
  const { dir, f } = cryptDir('crypt-owner', 0o777);
  const r = await rewrite(dir, f, NOBODY);
  assertRefused(r, f, EPERM, /owner/);
  assert.equal([statSync(f).uid, statSync(f).gid], [0, 0]);
});

test('as nobody, its own crypt file in a root 0755 directory: the writer open fails EACCES (no write in the directory)', async () => {
  // Before: "write-ok", `cat` in the sandbox showed "new", write_back err 13, tsyd exit 0, the disk "old".
  const { dir, f } = cryptDir('crypt-rodir', 0o755, NOBODY, 0o644);
  const r = await rewrite(dir, f, NOBODY);
  assertRefused(r, f, EACCES, /directory/);
  // A reader is not refused.
  const read = await runTsyd(['run', ...cryptRules(dir), '--', '/bin/cat', f], { user: NOBODY });
  assert.equal([read.code, read.stdout], [0, 'old'], describe(read));
});

test('as root, a crypt file in an append-only directory (chattr +a): the writer open fails EPERM', async () => {
  // Before: "write-ok", EPERM at the rename, a stray ciphertext left in the directory, tsyd exit 0.
  const { dir, f } = cryptDir('crypt-append', 0o755);
  execFileSync('chattr', ['+a', dir]);
  try {
    const r = await rewrite(dir, f);
    assertRefused(r, f, EPERM, /append-only/);
    assert.equal(readdirSync(dir), ['f']);
  } finally {
    execFileSync('chattr', ['-a', dir]);
  }
});

test('as root, a crypt file owned by nobody:nogroup mode 0640 (and one 02750): after a write it is still nobody:nogroup, same mode', async () => {
  // Before: root:root (the write-back's new inode kept tsyd's owner). The setgid bit: a chown clears it.
  for (const mode of [0o640, 0o2750]) {
    const { dir, f } = cryptDir('crypt-keep-owner', 0o755, NOBODY, mode);
    const r = await rewrite(dir, f);
    assert.equal([r.code, r.stdout], [0, 'write-ok\n'], describe(r));
    const sb = statSync(f);
    assert.equal([sb.uid, sb.gid, sb.mode & 0o7777], [NOBODY, NOBODY, mode]);
    assert.is(String(decryptFile(f)), 'new\n');
  }
});

test.run();
