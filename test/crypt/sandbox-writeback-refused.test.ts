// A crypt file's write-back (a new inode renamed onto the name) needs more than a plain in-place
// write: the directory must take it. README "Crypt sandboxing": a writer open that tsyd could not
// write back is refused up front (EACCES/EPERM, one warn record); a write-back keeps the file's
// owner, group and mode; a write-back that fails for good (the directory changed after the open)
// is an error record `write_back_lost` per file and tsyd exits 101, never silent.
// Root tests: tsyd runs as nobody (setpriv) where the refusal depends on its credentials.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptio, cryptRules, decryptFile, KEY } from '../helpers/crypt-sandbox.js';
import { referenceEncrypt } from '../helpers/crypt-reference.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runTsyd, spawnTsyd, type RunResult } from '../helpers/tsyd.js';

const { EACCES, EPERM, EISDIR } = constants.errno;

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
  return runTsyd(['run', '--log-fd', '3', ...cryptRules(dir), '--', '/bin/sh', '-c', `echo new > ${f} && echo write-ok`], { logFd: 3, user });
}

/** describe() with the log (tsyd logs to its own fd here: the program's stderr stays apart). */
function show(r: RunResult): string {
  return `${describe(r)}\nlog: ${r.log}`;
}

function refusal(r: RunResult): Array<Record<string, unknown>> {
  return r.records.filter((rec) => rec.ctx === 'crypt' && rec.op === 'write_back_refused');
}

/** The writer's open failed with `err`, one warn record names the file and why, the file on disk is untouched. */
function assertRefused(r: RunResult, f: string, err: number, why: RegExp): void {
  assert.is.not(r.code, 0, show(r));
  assert.not.match(r.stdout, /write-ok/, show(r));
  const recs = refusal(r);
  assert.is(recs.length, 1, show(r));
  assert.equal([recs[0].level, recs[0].path, recs[0].err], ['warn', f, err], show(r));
  assert.match(String(recs[0].reason), why, show(r));
  assert.not.match(r.log + r.stderr, new RegExp(KEY), 'the key never appears in a log');
  assert.is(String(decryptFile(f)), 'old', show(r));
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
  assert.equal([read.code, read.stdout], [0, 'old'], show(read));
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

test('as nobody, its own crypt file in a root 0333 append-only directory it cannot read: the writer open fails EPERM', async () => {
  // Before: "write-ok" (the flags came from an open of the directory, which failed: no flags),
  // write_back_failed rename EPERM, a stray ciphertext, write_back_lost, exit 101.
  const { dir, f } = cryptDir('crypt-append-unread', 0o333, NOBODY, 0o600);
  execFileSync('chattr', ['+a', dir]);
  let r: RunResult;
  try {
    r = await rewrite(dir, f, NOBODY);
  } finally {
    execFileSync('chattr', ['-a', dir]);
  }
  assertRefused(r, f, EPERM, /append-only/);
  chmodSync(dir, 0o755);
  assert.equal(readdirSync(dir), ['f']);
});

test('as root, a reader that would create a crypt file (O_CREAT|O_RDONLY) in an append-only directory: EPERM, nothing created', async () => {
  // Before: "ok", a 0-byte file the directory does not let tsyd replace nor remove, write_back_lost, exit 101.
  const { dir } = cryptDir('crypt-append-create', 0o755);
  execFileSync('chattr', ['+a', dir]);
  try {
    const r = await cryptio(dir, ['openflags', `${dir}/g`, '100']);
    assert.equal([r.code, r.stdout.trim()], [1, `err errno=${EPERM} step=open`], show(r));
    assert.equal(refusal(r).map((rec) => rec.path), [`${dir}/g`], show(r));
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
    assert.equal([r.code, r.stdout], [0, 'write-ok\n'], show(r));
    const sb = statSync(f);
    assert.equal([sb.uid, sb.gid, sb.mode & 0o7777], [NOBODY, NOBODY, mode]);
    assert.is(String(decryptFile(f)), 'new\n');
  }
});

/**
 * A writer that opens `f` (Crypt on below `dir`), writes "new", says "opened", waits for a line on
 * its stdin (meanwhile the test runs `change`), then closes it. As `user` (default: root).
 */
async function changedAfterOpen(dir: string, f: string, change: () => void, user?: number): Promise<RunResult> {
  const p = spawnTsyd(['run', '--log-fd', '4', ...cryptRules(dir), '--', '/bin/sh', '-c', `exec 3>${f} && echo new >&3 && echo opened && read x && exec 3>&- && echo closed`],
    { keepStdinOpen: true, logFd: 4, user });
  await p.waitForStdout(/opened/);
  change();
  p.child.stdin?.end('go\n');
  return p.result;
}

function lostRecords(r: RunResult): unknown[][] {
  return r.records.filter((rec) => rec.op === 'write_back_lost').map((rec) => [rec.level, rec.ctx, rec.name, rec.err, rec.stage]);
}

test('as root, the directory made append-only after the writer opened: write_back_lost (stage rename) and tsyd exits 101', async () => {
  // Before: write_back_failed err 1, tsyd exit 0, the disk "old": the written content lost silently.
  const { dir, f } = cryptDir('crypt-append-late', 0o755);
  try {
    const r = await changedAfterOpen(dir, f, () => execFileSync('chattr', ['+a', dir]));
    assert.equal([r.code, r.stdout], [101, 'opened\nclosed\n'], show(r));
    assert.equal(lostRecords(r), [['error', 'crypt', 'f', EPERM, 'rename']], show(r));
    assert.is(String(decryptFile(f)), 'old');
    // The append-only directory refuses the unlink of the temporary name too: the record names it.
    const stray = r.records.find((rec) => rec.op === 'write_back_lost')?.stray;
    assert.equal(readdirSync(dir).sort(), ['f', String(stray)].sort(), show(r));
  } finally {
    execFileSync('chattr', ['-a', dir]);
  }
});

test('as root, the name replaced by a directory after the writer opened: write_back_lost (EISDIR, stage rename), 101, no stray ciphertext left', async () => {
  // Before: write_back_failed err 21, tsyd exit 0.
  const { dir, f } = cryptDir('crypt-name-dir', 0o755);
  const r = await changedAfterOpen(dir, f, () => {
    rmSync(f);
    mkdirSync(f);
  });
  assert.equal([r.code, r.stdout], [101, 'opened\nclosed\n'], show(r));
  assert.equal(lostRecords(r), [['error', 'crypt', 'f', EISDIR, 'rename']], show(r));
  assert.equal(readdirSync(dir), ['f'], 'the ciphertext linked under a temporary name is removed');
});

test('as nobody, the directory made read-only after the writer opened: write_back_lost (EACCES, before the job is made) and tsyd exits 101', async () => {
  // Before: write_back err 13 (the O_TMPFILE beside the file), tsyd exit 0.
  const { dir, f } = cryptDir('crypt-rodir-late', 0o755, NOBODY, 0o644);
  chownSync(dir, NOBODY, NOBODY);
  const r = await changedAfterOpen(dir, f, () => chownSync(dir, 0, 0), NOBODY);
  assert.equal([r.code, r.stdout], [101, 'opened\nclosed\n'], show(r));
  assert.equal(lostRecords(r), [['error', 'crypt', 'f', EACCES, 'prepare']], show(r));
  assert.is(String(decryptFile(f)), 'old');
});

test.run();
