// A program that starts a session of its own and takes a terminal as its controlling terminal
// (getty, expect, script, sshd do) has /dev/tty name that terminal, as natively; a program that
// left the session of tsyd's terminal gets ENXIO from /dev/tty, not tsyd's terminal. Run on real
// pseudo-terminals, natively first, then under tsyd, with and without a controlling terminal for
// tsyd itself. (Before: /dev/tty was opened by tsyd, in its own process: its own terminal, or
// ENXIO when it had none.)
//
// Known limit (README): an open() without O_NOCTTY does not make the terminal the controlling
// terminal under tsyd: the kernel gives it only to the task that makes the open, and tsyd makes
// it; only TIOCSCTTY, which the program makes itself, does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixture, repoRoot } from '../helpers/fixtures.js';
import { NOBODY, tsydBin } from '../helpers/tsyd.js';

/** What ctty MODE PTS printed, natively or under tsyd, with or without a controlling terminal for it. */
function ctty(mode: string, opts: { tsyd: boolean; ctty: boolean; user?: number }): string {
  const program = [fixture('ctty'), mode];
  let command = opts.tsyd ? [process.execPath, tsydBin, 'run', '--', ...program] : program;
  if (opts.user !== undefined) command = ['setpriv', `--reuid=${opts.user}`, `--regid=${opts.user}`, '--clear-groups', ...command];
  const helper = [join(repoRoot, 'test', 'helpers', 'pty-ctty.py'), ...(opts.ctty ? ['--ctty'] : []), ...(opts.user !== undefined ? ['--owner', String(opts.user)] : []), ...command];
  const r = spawnSync('python3', helper, { encoding: 'utf8', timeout: 90_000 });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout.replace(/\n/g, ' ').trim();
}

const TAKEN = 'devtty=self sid=self tpgid=self';
const NONE = 'devtty=errno=6 sid=errno=25 tpgid=none';

for (const withCtty of [false, true]) {
  const where = withCtty ? 'tsyd on a terminal' : 'tsyd without a terminal';

  test(`${where}: a session leader that takes a terminal with TIOCSCTTY opens it as /dev/tty, as natively`, () => {
    assert.is(ctty('ioctl', { tsyd: false, ctty: withCtty }), TAKEN);
    assert.is(ctty('ioctl', { tsyd: true, ctty: withCtty }), TAKEN);
  });

  test(`${where}: a session leader without a controlling terminal gets ENXIO from /dev/tty, as natively`, () => {
    assert.is(ctty('none', { tsyd: false, ctty: withCtty }), NONE);
    // Before, on a terminal: tsyd's own terminal (TIOCGSID on it: ENOTTY, not the program's).
    assert.is(ctty('none', { tsyd: true, ctty: withCtty }), NONE);
  });

  test(`${where}: open() without O_NOCTTY leaves the program without a controlling terminal (known limit), never with tsyd's`, () => {
    assert.is(ctty('open', { tsyd: false, ctty: withCtty }), TAKEN);
    assert.is(ctty('open', { tsyd: true, ctty: withCtty }), NONE);
  });
}

test("a program in tsyd's session opens /dev/tty: the terminal of that session, as natively", () => {
  const sh = ['sh', '-c', 'exec 3<>/dev/tty && echo devtty-ok', 'sh'];
  for (const command of [sh, [process.execPath, tsydBin, 'run', '--', ...sh]]) {
    const r = spawnSync('python3', [join(repoRoot, 'test', 'helpers', 'pty-ctty.py'), '--ctty', ...command], { encoding: 'utf8', timeout: 90_000 });
    assert.is(r.stdout.trim(), 'devtty-ok', `${command.join(' ')}: ${r.stdout}${r.stderr}`);
  }
});

test('as nobody: TIOCSCTTY, then /dev/tty is that terminal, as natively', () => {
  assert.is(ctty('ioctl', { tsyd: false, ctty: true, user: NOBODY }), TAKEN);
  assert.is(ctty('ioctl', { tsyd: true, ctty: true, user: NOBODY }), TAKEN);
});

test.run();
