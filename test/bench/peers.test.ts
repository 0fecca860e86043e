// The benchmark's bookkeeping: a partial run keeps the other sections of RESULTS.md, and the
// calls fast strace traces come from tsyd's own table for the policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { markdownBlocks, mergeBlocks } from '../../bench/lib/merge.js';
import { notifiedCalls } from '../../bench/lib/notified.js';

const EARLIER = ['# Benchmarks', '', 'Made by ...', '', '## Summary', '', '- old', '', '## Micro: one system call', '', 'old micro', '', '## Macro: real work', '', 'old macro', ''].join('\n');

test('a partial run replaces its own section and keeps the others, in their order', () => {
  const { blocks, kept } = mergeBlocks(EARLIER, [{ title: 'Macro: real work', text: '## Macro: real work\n\nnew macro\n' }], ['Summary']);
  assert.equal(kept, ['Micro: one system call']);
  const md = blocks.join('\n');
  assert.match(md, /old micro/);
  assert.match(md, /new macro/);
  assert.not.match(md, /old macro/);
  assert.not.match(md, /- old/, 'the summary is made anew');
  assert.ok(md.indexOf('old micro') < md.indexOf('new macro'), 'the earlier order');
});

test('a section the earlier file did not have comes at the end; no earlier file keeps nothing', () => {
  const fresh = [{ title: 'Start-up', text: '## Start-up\n\nnew\n' }];
  const { blocks, kept } = mergeBlocks(EARLIER, fresh, ['Summary']);
  assert.equal(kept, ['Micro: one system call', 'Macro: real work']);
  assert.match(blocks[blocks.length - 1]!, /## Start-up/);
  assert.equal(mergeBlocks('', fresh, ['Summary']), { blocks: ['## Start-up\n\nnew\n'], kept: [] });
});

test('the blocks of a file with a header, and of sections alone', () => {
  assert.equal(markdownBlocks(EARLIER).map((b) => b.title), ['Summary', 'Micro: one system call', 'Macro: real work']);
  assert.equal(markdownBlocks('## Macro: real work\n\nnew\n'), [{ title: 'Macro: real work', text: '## Macro: real work\n\nnew\n' }]);
});

test("fast strace's calls are what tsyd's filter stops for the policy", () => {
  const read = notifiedCalls(['-p', 'none', '-m', 'sandbox/read:on']);
  assert.ok(read.includes('openat') && read.includes('open'), read.join(','));
  assert.not.ok(read.includes('newfstatat'), 'stat is off: not stopped');
  assert.not.ok(read.includes('getppid'), 'never stopped');
  const user = notifiedCalls(['-p', 'user']);
  for (const c of ['newfstatat', 'getdents64', 'execve', 'connect', 'mmap']) assert.ok(user.includes(c), c);
});

test.run();
