// Attribute changes (chmod, chown, utimes, xattrs) are decided as write, on the canonical path,
// and carried out by tsyd: allowed ones really happen, denied ones leave the file unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd, type RunResult } from '../helpers/tsyd.js';

const dir = tempTree('attr', { 'open/f': 'x', 'shut/f': 'y' });
symlinkSync(`${dir}/shut/f`, `${dir}/open/link-to-shut`);
const policy = ['-m', 'sandbox/write:on', '-m', `allow/write+${dir}/open/**`];

async function py(code: string): Promise<RunResult> {
  // The system python itself (a version manager's shim would be a shell script writing /dev/tty).
  return runTsyd(['run', '-p', 'none', ...policy, '--log-fd', '3', '--', '/usr/bin/python3', '-c', code], { logFd: 3 });
}

const records = (r: RunResult) => r.records.filter((x) => x['ctx'] === 'access');

test('chmod, chown, utime allowed under an allowed path really change the file', async () => {
  const r = await py(`import os
os.chmod("${dir}/open/f", 0o600)
os.chown("${dir}/open/f", 65534, -1)
os.utime("${dir}/open/f", (1000000000, 1000000000))
print("ok")`);
  assert.is(r.code, 0, describe(r));
  const st = statSync(`${dir}/open/f`);
  assert.is(st.mode & 0o777, 0o600);
  assert.is(st.uid, process.getuid?.() === 0 ? 65534 : st.uid);
  assert.is(st.mtimeMs, 1000000000 * 1000);
  assert.equal(records(r), []);
});

for (const [name, code, sys] of [
  ['chmod', 'os.chmod(P, 0o777)', 'chmod'],
  ['chown', 'os.chown(P, 65534, -1)', 'chown'],
  ['utime', 'os.utime(P, (5, 5))', 'utimensat'],
  ['chmod through a symlink in an allowed dir', 'os.chmod(L, 0o777)', 'chmod'],
] as const) {
  test(`${name} of a write-denied file: EACCES, one record, nothing changed`, async () => {
    const before = statSync(`${dir}/shut/f`);
    const r = await py(`import os, errno
P = "${dir}/shut/f"; L = "${dir}/open/link-to-shut"
try:
    ${code}
    print("changed")
except OSError as e:
    print(errno.errorcode[e.errno])`);
    assert.is(r.stdout, 'EACCES\n', describe(r));
    const after = statSync(`${dir}/shut/f`);
    assert.is(after.mode, before.mode);
    assert.is(after.uid, before.uid);
    assert.is(after.mtimeMs, before.mtimeMs);
    const recs = records(r);
    assert.is(recs.length, 1, describe(r));
    assert.is(recs[0]!['cap'], 'write');
    assert.is(recs[0]!['path'], `${dir}/shut/f`, 'decided on the canonical path, not the link');
    assert.is(recs[0]!['sys'], sys);
  });
}

test('extended attributes: set and remove allowed, denied elsewhere', async () => {
  writeFileSync(`${dir}/open/x`, '');
  const r = await py(`import os, errno
os.setxattr("${dir}/open/x", "user.k", b"v1")
print(os.getxattr("${dir}/open/x", "user.k"))
os.removexattr("${dir}/open/x", "user.k")
print(os.listxattr("${dir}/open/x"))
try:
    os.setxattr("${dir}/shut/f", "user.k", b"v")
except OSError as e:
    print(errno.errorcode[e.errno])`);
  assert.is(r.stdout, "b'v1'\n[]\nEACCES\n", describe(r));
  assert.is(records(r).length, 1);
});

test.run();
