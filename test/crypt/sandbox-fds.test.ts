// Written content is never lost when tsyd runs short of fds (README "Crypt sandboxing"): a
// write-back that cannot be made for want of fds keeps its buffer and is made again (the
// monitor's loop, the end of the sandbox); idle snapshots go first under that pressure.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cryptRules, decryptFile } from '../helpers/crypt-sandbox.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, tsydBin } from '../helpers/tsyd.js';

test('tsyd limited to 300 fds, the program writes 600 crypt files: each one whose write+close returned 0 is whole', async () => {
  const dir = tempTree('crypt-fds');
  const plain = tempTree('crypt-fds-ok');
  const r = await runNative('/usr/bin/prlimit', ['--nofile=300:300', process.execPath, tsydBin, 'run', ...cryptRules(dir), '--', '/bin/sh', '-c',
    `for i in $(seq 600); do printf "content-$i" > ${dir}/f$i 2>/dev/null && echo $i >> ${plain}/ok; done; exit 0`], { timeoutMs: 180_000 });
  const ok = readFileSync(`${plain}/ok`, 'utf8').trim().split('\n');
  assert.ok(ok.length > 0, describe(r));
  const bad = ok.filter((i) => String(decryptFile(`${dir}/f${i}`)) !== `content-${i}`);
  assert.equal(bad, [], `${bad.length} of ${ok.length} written files are not whole on disk\n${describe(r)}`);
  assert.is(r.code, 0, describe(r));
  assert.not.ok(r.records.some((rec) => rec.op === 'write_back' || rec.op === 'write_back_lost'), describe(r));
});

test.run();
