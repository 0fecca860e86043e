// A procfs mounted somewhere other than /proc (a chroot's /proc, /host/proc of a monitoring
// agent) has no /proc/self mapping: its `self` is tsyd, and tsyd's own <pid>/mem is writable
// by tsyd. Found by review: `open(ALT/self/mem, O_RDWR)` under `-p user` gave the program
// tsyd's memory. Such a mount is refused as a whole; /proc itself still works.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const root = process.getuid?.() === 0;

test('another procfs mount: its self, tsyd pid, mem and status are refused (EACCES); /proc/self is the program', async () => {
  if (!root) return console.log('skipped: mounting a procfs needs root');
  const dir = tempTree('procfs');
  const alt = `${dir}/proc`;
  mkdirSync(alt);
  if (spawnSync('mount', ['-t', 'proc', 'proc', alt]).status !== 0) return console.log('skipped: mount -t proc failed here');
  try {
    const script = [
      `cat ${alt}/self/status; echo "rc=$?"`,
      `head -c 1 ${alt}/self/mem; echo "mem=$?"`,
      `cat ${alt}/$PPID/cmdline; echo "tsyd=$?"`,
      `cat ${alt}/1/status; echo "init=$?"`,
      'grep -c "^Name:" /proc/self/status',
    ].join('; ');
    const r = await runTsyd(['run', '-p', 'user', '--', 'sh', '-c', script], { cwd: dir });
    assert.is(r.code, 0, describe(r));
    assert.match(r.stdout, /rc=1\n/, describe(r));
    assert.match(r.stdout, /mem=1\n/, describe(r));
    assert.match(r.stdout, /tsyd=1\n/, describe(r));
    assert.match(r.stdout, /init=1\n/, describe(r));
    assert.not.match(r.stdout, /Name:\s+node/, `tsyd's status never reached the program: ${describe(r)}`);
    assert.match(r.stdout, /^1$/m, '/proc/self/status is readable');
    assert.match(r.stderr, /Permission denied/);
  } finally {
    execFileSync('umount', ['-l', alt]);
  }
});

test.run();
