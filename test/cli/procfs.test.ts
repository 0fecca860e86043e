// A procfs mounted somewhere other than /proc (a chroot's /proc, /host/proc of a monitoring
// agent) has no /proc/self mapping: its `self` is tsyd, and tsyd's own <pid>/mem is writable
// by tsyd. Found by review: `open(ALT/self/mem, O_RDWR)` under `-p user` gave the program
// tsyd's memory. Such a mount is refused as a whole; /proc itself still works.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

test('another procfs mount: its self, tsyd pid, mem and status are refused (EACCES); /proc/self is the program', async () => {
  // Not a skip: the tests run as root (mounting a procfs needs it), and a test that cannot run fails.
  assert.is(process.getuid?.(), 0, 'this test mounts a procfs: it needs root');
  const dir = tempTree('procfs');
  const alt = `${dir}/proc`;
  mkdirSync(alt);
  const mount = spawnSync('mount', ['-t', 'proc', 'proc', alt], { encoding: 'utf8' });
  assert.is(mount.status, 0, `mount -t proc proc ${alt} failed: ${mount.stderr}`);
  try {
    const script = [
      `cat ${alt}/self/status >/dev/null; echo "rc=$?"`,
      `head -c 1 ${alt}/self/mem >/dev/null; echo "mem=$?"`,
      `cat ${alt}/$PPID/cmdline >/dev/null; echo "tsyd=$?"`,
      `cat ${alt}/1/status >/dev/null; echo "init=$?"`,
      `cat ${alt}/self/status | grep "^Name:"`,
      'grep -c "^Name:" /proc/self/status',
    ].join('; ');
    // What an emulator opening ALT/self for the program would hand it: its own entries (this
    // test is a node process, as tsyd is).
    assert.match(readFileSync(`${alt}/self/status`, 'utf8'), /^Name:\s+node$/m);
    // Natively the program reads every one of them (mem opens, its first page is unmapped: EIO):
    // the refusals below are tsyd's.
    const n = await runNative('sh', ['-c', script], { cwd: dir });
    assert.is(n.code, 0, describe(n));
    assert.match(n.stdout, /^rc=0\nmem=1\ntsyd=0\ninit=0\nName:\s+cat\n1\n$/, describe(n));
    assert.not.match(n.stderr, 'Permission denied', describe(n));

    const r = await runTsyd(['run', '-p', 'user', '--', 'sh', '-c', script], { cwd: dir });
    assert.is(r.code, 0, describe(r));
    assert.match(r.stdout, /^rc=1\nmem=1\ntsyd=1\ninit=1\n1\n$/, describe(r));
    assert.not.match(r.stdout, /Name:\s+node/, `tsyd's status never reached the program: ${describe(r)}`);
    for (const path of [`${alt}/self/status`, `${alt}/1/status`]) assert.match(r.stderr, `cat: ${path}: Permission denied`, describe(r));
    assert.match(r.stderr, new RegExp(`cat: ${alt}/\\d+/cmdline: Permission denied`), describe(r));
    assert.match(r.stderr, `head: cannot open '${alt}/self/mem' for reading: Permission denied`, describe(r));
  } finally {
    execFileSync('umount', ['-l', alt]);
  }
});

test.run();
