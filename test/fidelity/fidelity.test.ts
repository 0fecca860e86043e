// The differential harness: test/fidelity/calls.c makes 1,000+ system calls with edge-case
// arguments, natively in one tree and under tsyd in an identical one, and the two outputs must be
// the same line by line (the result or errno of every call, and how the tree changed after it),
// under the default profile, under a policy with every capability on and everything allowed, and
// as an unprivileged user. A difference the policy intends (a denial) is declared below, per call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, lstatSync, mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fidelityProgram } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd } from '../helpers/tsyd.js';

interface Mode {
  name: string;
  policy: string[];
  user?: number;
}

const USER_MODE = 'the default profile';
const NOBODY_MODE = 'an unprivileged user, default profile';
const MODES: Mode[] = [
  { name: USER_MODE, policy: ['-p', 'user'] },
  { name: 'every capability on, everything allowed', policy: ['-p', 'off'] },
  { name: NOBODY_MODE, policy: ['-p', 'user'], user: NOBODY },
];

/**
 * Differences that are meant, each with its reason: calls whose label matches `label` (in the
 * modes named, or all) may print `tsyd` (the whole line after the label) instead of the native line.
 * Everything else must be identical.
 */
interface Intended {
  label: RegExp;
  tsyd: RegExp;
  modes?: string[];
  why: string;
}

const O_PATH_LIMIT =
  'tsyd performs O_PATH as an open for reading of the checked object (SECCOMP_IOCTL_NOTIF_ADDFD takes ' +
  'its file with fget(), which refuses O_PATH files), and a symlink cannot be opened for reading';

const INTENDED: Intended[] = [
  { label: /^openat2? \S+ \S+ O_PATH \| O_NOFOLLOW/, tsyd: /^ELOOP$/, why: O_PATH_LIMIT },
  // ... nor can a file or directory the program may not read.
  { label: /^openat cwd (none|dnox) O_PATH/, tsyd: /^EACCES$/, modes: [NOBODY_MODE], why: O_PATH_LIMIT },
  // The default profile lets no program create a name in /proc: denied (EACCES) before the kernel
  // would have said EXDEV.
  { label: /^rename o\/r\/f1 \/proc\/x$/, tsyd: /^EACCES$/, modes: [USER_MODE, NOBODY_MODE], why: 'a denial' },
  // lfd: the fixture's O_PATH|O_NOFOLLOW fd of a symlink; under tsyd it could not be had (above),
  // so the fixture holds /dev/null there instead.
  { label: /^(newfstatat|statx|readlinkat|linkat|openat|utimensat|faccessat2|fchmodat2|fchownat) lfd /, tsyd: /./, why: O_PATH_LIMIT },
];

/** Entries of the final trees that differ because of an intended difference above. */
const INTENDED_ENTRIES: Array<{ entry: RegExp; why: string }> = [
  // made natively by `linkat lfd "" o/hlf AT_EMPTY_PATH` (lfd: an O_PATH fd of a symlink)
  { entry: /^o\/hlf /, why: O_PATH_LIMIT },
];

function intended(mode: string, label: string, tsydText: string): boolean {
  const line = tsydText.slice(label.length + 2);
  return INTENDED.some((i) => (i.modes === undefined || i.modes.includes(mode)) && i.label.test(label) && i.tsyd.test(line));
}

/** A call's line and the tree-change lines after it. */
interface Block {
  label: string;
  text: string;
}

function blocks(stdout: string): { list: Block[]; count: number } {
  const list: Block[] = [];
  let count = -1;
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const m = /^#\d+ (.*): ([^:]*)$/.exec(line) ?? /^#\d+ (.*?): (.*)$/.exec(line);
    const done = /^calls (\d+)$/.exec(line);
    if (done) count = Number(done[1]);
    else if (m) list.push({ label: m[1]!, text: line.replace(/^#\d+ /, '') });
    else if (line.startsWith('  ') && list.length > 0) list[list.length - 1]!.text += `\n${line}`;
    else list.push({ label: `(unexpected output)`, text: line });
  }
  return { list, count };
}

/** The tree as seen from outside: every entry's type, mode, size and link target. */
function treeOf(root: string, rel = ''): string[] {
  const out: string[] = [];
  const dir = join(root, rel);
  for (const name of readdirSync(dir, { encoding: 'buffer' })) {
    const relName = rel === '' ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
    const full = Buffer.concat([Buffer.from(`${dir}/`), name]);
    const st = lstatSync(full);
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `lnk ${readlinkSync(full, { encoding: 'buffer' }).toString('latin1').split(root).join('$ROOT')}` : `${st.isFile() ? 'reg' : 'other'} ${st.size}`;
    out.push(`${relName} ${(st.mode & 0o7777).toString(8)} ${kind}`);
    if (st.isDirectory() && (st.mode & 0o100) !== 0) out.push(...treeOf(root, relName));
  }
  return out.sort();
}

/** Gives `dir` and everything in it to `uid`. */
function giveTo(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
}

async function runBoth(mode: Mode): Promise<{ native: string; tsyd: string; nativeTree: string; tsydTree: string }> {
  const program = fidelityProgram('calls');
  // Both trees side by side with names of one length: every path the calls see has the same length.
  const parent = tempTree('fidelity');
  const trees = ['n', 't'].map((name) => {
    const dir = join(parent, name);
    mkdirSync(dir, { mode: 0o755 });
    if (mode.user !== undefined) giveTo(dir, mode.user);
    return dir;
  });
  for (const dir of trees) {
    const setup = await runNative(program, ['setup'], { cwd: dir, user: mode.user });
    assert.is(setup.code, 0, `setup in ${dir}: ${describe(setup)}`);
  }
  const native = await runNative(program, ['run'], { cwd: trees[0], user: mode.user, timeoutMs: 120_000 });
  assert.is(native.code, 0, `native run: ${describe(native)}`);
  const tsyd = await runTsyd(['run', '--log-fd', '3', ...mode.policy, '--', program, 'run'], {
    cwd: trees[1],
    user: mode.user,
    logFd: 3,
    timeoutMs: 240_000,
  });
  assert.is(tsyd.code, 0, `tsyd run: ${describe(tsyd)}\n${tsyd.log.slice(0, 4000)}`);
  const meant = (line: string) => INTENDED_ENTRIES.some((i) => i.entry.test(line));
  const tree = (dir: string) => treeOf(dir).filter((l) => !meant(l)).join('\n').split(dir).join('$ROOT');
  return { native: native.stdout, tsyd: tsyd.stdout, nativeTree: tree(trees[0]!), tsydTree: tree(trees[1]!) };
}

/** Every difference, as "LABEL\n  native: ...\n  tsyd:   ..." (intended ones left out). */
function differences(mode: string, native: Block[], tsyd: Block[]): string[] {
  const out: string[] = [];
  const n = Math.max(native.length, tsyd.length);
  for (let i = 0; i < n; i++) {
    const a = native[i];
    const b = tsyd[i];
    if (a === undefined || b === undefined || a.label !== b.label) {
      out.push(`call ${i + 1}: the runs went apart here\n  native: ${a?.text ?? '(nothing)'}\n  tsyd:   ${b?.text ?? '(nothing)'}`);
      break;
    }
    if (a.text === b.text) continue;
    if (intended(mode, a.label, b.text)) continue;
    out.push(`#${i + 1} ${a.label}\n  native: ${a.text.split('\n').join('\n          ')}\n  tsyd:   ${b.text.split('\n').join('\n          ')}`);
  }
  return out;
}

for (const mode of MODES) {
  test(`fidelity: every call answers as natively, under ${mode.name}`, async () => {
    const run = await runBoth(mode);
    const native = blocks(run.native);
    const tsyd = blocks(run.tsyd);
    assert.ok(native.count >= 300, `the harness makes 300+ calls (made ${native.count})`);
    assert.is(tsyd.count, native.count, 'both runs made every call');
    const diffs = differences(mode.name, native.list, tsyd.list);
    assert.ok(diffs.length === 0, `${diffs.length} of ${native.count} calls differ under tsyd:\n${diffs.slice(0, 60).join('\n')}`);
    assert.fixture(run.tsydTree, run.nativeTree, 'the trees at the end');
  });
}

test.run();
