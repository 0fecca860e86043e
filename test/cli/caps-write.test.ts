// The write capability on paths: opens for writing (open, openat, creat through their own system
// calls), truncate, and the source of a hard link. A denied call is EACCES with one record and the
// file keeps its content; an allowed one really writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { expectRun, fsops, rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';

function setup(name: string): { dir: string; policy: string[] } {
  const dir = tempTree(`write-${name}`, { 'ok/f': 'OKFILE', 'no/f': 'NOFILE' });
  symlinkSync('../no/f', `${dir}/ok/l`);
  return { dir, policy: rules('sandbox/write:on', `allow/write+${dir}/ok/***`) };
}

test('truncate: allowed shortens the file, denied (also through a symlink) leaves it', async () => {
  const { dir, policy } = setup('truncate');
  const run = await fsops(policy, ['truncate', `${dir}/ok/f`, '2', 'truncate', `${dir}/no/f`, '0', 'truncate', `${dir}/ok/l`, '0']);
  expectRun(run, ['truncate ok', 'truncate EACCES', 'truncate EACCES'], [
    { cap: 'write', path: `${dir}/no/f`, sys: 'truncate' },
    { cap: 'write', path: `${dir}/no/f`, sys: 'truncate' },
  ]);
  assert.is(readFileSync(`${dir}/ok/f`, 'utf8'), 'OK');
  assert.is(readFileSync(`${dir}/no/f`, 'utf8'), 'NOFILE');
});

test('opens for writing through open, openat and creat: denied ones leave the file as it was', async () => {
  const { dir, policy } = setup('open');
  const f = `${dir}/no/f`;
  const run = await fsops(policy, [
    'open', f, 'w', 'open', f, 'wt', 'openat', 'cwd', f, 'W', 'creat', f, 'open', f, 'r',
    'write', `${dir}/ok/new`, 'written',
  ]);
  expectRun(run, ['open EACCES', 'open EACCES', 'openat EACCES', 'creat EACCES', 'open ok', 'write ok 7'], [
    { cap: 'write', path: f, sys: 'open' },
    { cap: 'write', path: f, sys: 'open' },
    { cap: 'write', path: f, sys: 'openat' },
    { cap: 'write', path: f, sys: 'creat' },
  ]);
  assert.is(readFileSync(f, 'utf8'), 'NOFILE');
  assert.is(readFileSync(`${dir}/ok/new`, 'utf8'), 'written');
});

test('a hard link needs write on its source while write is on', async () => {
  const { dir, policy } = setup('link');
  const run = await fsops(policy, ['link', `${dir}/no/f`, `${dir}/ok/hard`, 'link', `${dir}/ok/f`, `${dir}/ok/hard2`]);
  expectRun(run, ['link EACCES', 'link ok'], [{ cap: 'write', path: `${dir}/no/f`, sys: 'link' }]);
  assert.not.ok(existsSync(`${dir}/ok/hard`));
  assert.is(readFileSync(`${dir}/ok/hard2`, 'utf8'), 'OKFILE');
});

test('read and write both denied: one record only (the first capability that refuses)', async () => {
  const { dir } = setup('both');
  const policy = rules('sandbox/read,write:on', `allow/read+/***`, `allow/write+${dir}/ok/***`, `deny/read+${dir}/no/***`);
  const run = await fsops(policy, ['open', `${dir}/no/f`, 'W', 'link', `${dir}/no/f`, `${dir}/ok/hard`]);
  expectRun(run, ['open EACCES', 'link EACCES'], [
    { cap: 'read', path: `${dir}/no/f`, sys: 'open' },
    { cap: 'read', path: `${dir}/no/f`, sys: 'link' },
  ]);
  assert.not.ok(existsSync(`${dir}/ok/hard`));
});

test.run();
