// Races on the path of stat-like calls. A sibling thread flips the path while others call:
//   - the fd forms (newfstatat, statx, faccessat2, readlinkat with AT_EMPTY_PATH and ""): ""
//     flips to a hidden path, so that a checker that lets "" through is beaten when the kernel
//     reads the path again;
//   - the metadata calls (statfs, getxattr, lgetxattr, listxattr, llistxattr, inotify_add_watch,
//     name_to_handle_at): a missing allowed path flips to a hidden one.
// Each test shows the attack working, in the same run, against a naive checker that checks the
// path and then CONTINUEs (test/fixtures/checkcont.c: what tsyd did for these calls before it
// performed them itself), then that under tsyd nothing of the hidden files comes through; as
// root and as nobody.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { fixture } from '../helpers/fixtures.js';
import { rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, type RunResult } from '../helpers/tsyd.js';

const dir = tempTree('stat-races');
for (const sub of ['A', 'D']) mkdirSync(`${dir}/${sub}`, { mode: 0o755 });
// The fd's object: not executable, a link with another target.
writeFileSync(`${dir}/A/f`, 'allowed', { mode: 0o644 });
symlinkSync('allowed-target', `${dir}/A/l`);
// The hidden objects: an executable file with an xattr, a link whose target is the secret.
writeFileSync(`${dir}/D/t`, 'SECRET!!', { mode: 0o644 });
chmodSync(`${dir}/D/t`, 0o755);
symlinkSync('SECRET-TARGET', `${dir}/D/l`);
const hidden = `${dir}/D`;
const policy = rules('sandbox/stat:on', 'allow/stat+/***', `deny/stat+${hidden}/***`);

interface Counts {
  leaks: number;
  ok: number;
  errors: number;
}

function counts(r: RunResult): Counts {
  const m = /^leaks=(\d+) ok=(\d+) errors=(\d+)$/m.exec(r.stdout);
  assert.ok(m, `statrace printed its counts: ${describe(r)}`);
  return { leaks: Number(m[1]), ok: Number(m[2]), errors: Number(m[3]) };
}

type Race = { mode: 'empty'; call: string; fdPath: string; target: string; want: string } | { mode: 'swap'; call: string };

function args(race: Race, seconds: string): string[] {
  if (race.mode === 'empty') return ['empty', race.call, race.fdPath, race.target, race.want, seconds];
  // Same length, one byte apart: dir/A/t (missing) and dir/D/t (hidden).
  return ['swap', race.call, `${dir}/A/t`, `${hidden}/t`, seconds];
}

const user = (u: number | undefined) => (u === undefined ? 'root' : 'nobody');

/** Against the check-then-continue checker the race must get through within a few runs. */
async function leaksPastChecker(race: Race, as: number | undefined): Promise<void> {
  const attempts: Counts[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await runNative(fixture('checkcont'), [hidden, '--', fixture('statrace'), ...args(race, '0.5')], { user: as });
    assert.is(r.code, 0, describe(r));
    const c = counts(r);
    attempts.push(c);
    if (c.leaks > 0) return;
  }
  assert.unreachable(`${race.call} (${user(as)}): the race never got past the check-then-continue checker: ${JSON.stringify(attempts)}`);
}

/** Under tsyd: no leak, the hidden path refused (records name it alone), the fd's own object seen. */
async function neverLeaksUnderTsyd(race: Race, as: number | undefined, paths: string[]): Promise<void> {
  const r = await runTsyd(['run', '--log-fd', '3', ...policy, '--', fixture('statrace'), ...args(race, '1')], {
    logFd: 3,
    user: as,
    timeoutMs: 60_000,
  });
  assert.is(r.code, 0, describe(r));
  const c = counts(r);
  const what = `${race.call} (${user(as)}): ${JSON.stringify(c)}`;
  assert.is(c.leaks, 0, `the hidden object came through: ${what}`);
  assert.ok(c.errors > 0, `calls on the hidden path were refused: ${what}`);
  // fstatat/statx/readlinkat on the fd succeed; faccessat2 X_OK on it is EACCES; swap: missing.
  if (race.mode === 'empty' && race.call !== 'faccessat2' && race.call !== 'readlinkat') assert.ok(c.ok > 0, `the fd's own object was seen: ${what}`);
  const recorded = new Set(r.records.filter((rec) => rec['ctx'] === 'access').map((rec) => `${rec['cap']} ${rec['path']}`));
  assert.equal([...recorded].sort(), paths.map((p) => `stat ${p}`), `records name the hidden path only: ${what}\n${r.log.slice(0, 2000)}`);
}

const ino = String(statSync(`${hidden}/t`).ino);
const races: Array<[Race, string]> = [
  [{ mode: 'empty', call: 'fstatat', fdPath: `${dir}/A/f`, target: `${hidden}/t`, want: ino }, `${hidden}/t`],
  [{ mode: 'empty', call: 'statx', fdPath: `${dir}/A/f`, target: `${hidden}/t`, want: ino }, `${hidden}/t`],
  [{ mode: 'empty', call: 'faccessat2', fdPath: `${dir}/A/f`, target: `${hidden}/t`, want: '0' }, `${hidden}/t`],
  // The fd is a file's (under tsyd an O_PATH open of a symlink is refused: ELOOP); "" on it is
  // ENOENT, the hidden link's path gives its target.
  [{ mode: 'empty', call: 'readlinkat', fdPath: `${dir}/A/f`, target: `${hidden}/l`, want: 'SECRET-TARGET' }, `${hidden}/l`],
  ...['statfs', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'inotify', 'handle'].map(
    (call): [Race, string] => [{ mode: 'swap', call }, `${hidden}/t`],
  ),
];

test.before(async () => {
  const r = await runNative(fixture('fsops'), ['setxattr', `${hidden}/t`, 'user.k', 'S']);
  assert.is(r.stdout, 'setxattr ok\n', describe(r));
});

for (const [race, path] of races) {
  const name = race.mode === 'empty' ? `${race.call}(fd, "" ↔ hidden path, AT_EMPTY_PATH)` : `${race.call}(missing ↔ hidden path)`;
  test(`${name}: gets past a check-then-continue checker, never past tsyd (root and nobody)`, async () => {
    await Promise.all([undefined, NOBODY].flatMap((as) => [leaksPastChecker(race, as), neverLeaksUnderTsyd(race, as, [path])]));
  });
}

test.run();
