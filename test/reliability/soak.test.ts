// Soak: a program with 8 threads and forked worker processes does a random (seeded) mix of
// allowed and denied opens, stats, connects, execs and FIFO blocks for TSYD_SOAK_SECONDS
// (default 4) under a strict CLI policy. Nothing unexpected may happen, every denial is logged
// exactly once, and tsyd's own fd table and threads come back to what they were before.
//
//   TSYD_SOAK_SECONDS=300 TSYD_SOAK_SEED=123 npx uvu dist/test/reliability 'soak.test.js$'
// (the seed is printed on stderr in every run, and named in every assertion message)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fdDiff, openFds, sandboxBelow, threadNames } from '../helpers/procstat.js';
import { spawnTsyd } from '../helpers/tsyd.js';
import { soakSeconds, seedFrom } from '../helpers/random.js';
import { soakSetup } from './setup.js';

const SECONDS = soakSeconds(4);
const SEED = seedFrom('TSYD_SOAK_SEED');

/** The program's own counts, from its last lines. */
function parseCounts(stdout: string): { ops: number; unexpected: number; denied: Record<string, number> } {
  const ops = /^ops (\d+) unexpected (\d+)$/m.exec(stdout);
  const denied = /^denied read=(\d+) stat=(\d+) exec=(\d+) connect=(\d+)$/m.exec(stdout);
  if (!ops || !denied) throw new Error(`no counts in the program's output: ${JSON.stringify(stdout)}`);
  return {
    ops: Number(ops[1]),
    unexpected: Number(ops[2]),
    denied: { read: Number(denied[1]), stat: Number(denied[2]), exec: Number(denied[3]), 'net/connect': Number(denied[4]) },
  };
}

const sameMultiset = (a: string[], b: string[]): boolean => a.join('\n') === b.join('\n');

function sameFds(a: Map<number, string>, b: Map<number, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [fd, target] of a) if (b.get(fd) !== target) return false;
  return true;
}

test(`soak: ${SECONDS} s of mixed allowed/denied calls from 8 threads and 2 forked processes (seed ${SEED})`, async () => {
  const why = `seed ${SEED} (TSYD_SOAK_SEED=${SEED} to repeat the mix)`;
  const { dir, args, rules, denied, deniedPort, deniedAccepted } = await soakSetup('soak', SECONDS, SEED);
  const t = spawnTsyd(
    ['run', '-p', 'none', '--log-fd', '3', '--log-level', 'info', ...rules.flatMap((r) => ['-m', r]), '--', ...args],
    { logFd: 3, keepStdinOpen: true, timeoutMs: SECONDS * 1000 + 60_000, env: { TSYD_NPROC: '2', TSYD_KEEP_ALIVE: '200' } },
  );
  try {
    const ready = await t.waitForStdout(/^ready port=\d+ pid=(\d+)\n/m, 20_000);
    const programPid = Number(/pid=(\d+)/.exec(ready)![1]);
    // tsyd at rest: its core emulators are up (the second one may still be starting when the
    // program prints ready) and nothing else is in flight.
    await settled(t.pid, (s) => s.threads.filter((n) => n === 'tsyd_emu').length === 2, 'two core emulators', 10_000);
    // ...and idle: an emulator keeps the pidfds of the callers it served lately until it has been
    // idle for a poll timeout (250 ms), so the start is a table unchanged for longer than that.
    const start = await atRest(t.pid, 400, 10_000);

    t.child.stdin!.write('g');
    const out = await t.waitForStdout(/^done\n/m, SECONDS * 1000 + 45_000);
    // Every forked process (worker processes, exec children) was reaped by the program.
    assert.equal(sandboxBelow(t.pid), [programPid], `only the program is left below tsyd (and its reaper); ${why}`);
    // Helpers retire after 200 ms idle; then tsyd holds what it held before the workload.
    await settled(
      t.pid,
      (s) => sameMultiset(s.threads, start.threads) && sameFds(s.fds, start.fds),
      "tsyd's threads and fds back to the start",
      10_000,
    ).catch((err: Error) => {
      const now = snapshot(t.pid);
      throw new Error(`${err.message}; ${why}\nthreads before: ${start.threads.join(' ')}\nthreads now:    ${now.threads.join(' ')}\n` +
        `fds (${start.fds.size} → ${now.fds.size}):\n${fdDiff(start.fds, now.fds)}`);
    });
    t.child.stdin!.end('x');

    const r = await t.result;
    const counts = parseCounts(out);
    // The seed and what the mix did, always (one line): a failure elsewhere can be repeated.
    console.error(`soak: ${why}: ${SECONDS} s, ${/^ops .*$/m.exec(out)?.[0]}; ${/^denied .*$/m.exec(out)?.[0]}`);
    const detail = `${why}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
    assert.is(r.code, 0, `exit 0: ${detail}`);
    assert.is(counts.unexpected, 0, `no unexpected result: ${detail}`);
    assert.ok(counts.ops > 0, `the program did something: ${detail}`);
    for (const [cap, n] of Object.entries(counts.denied)) assert.ok(n > 0, `some ${cap} denials happened: ${detail}`);

    // Every denial logged exactly once, and nothing else denied.
    const access = r.records.filter((x) => x['ctx'] === 'access');
    const expectedTarget: Record<string, [string, string]> = {
      read: ['path', `${dir}/denied/file`],
      stat: ['path', `${dir}/hidden/file`],
      exec: ['path', `${dir}/bin/denied`],
      'net/connect': ['addr', `127.0.0.1!${deniedPort}`],
    };
    const logged: Record<string, number> = { read: 0, stat: 0, exec: 0, 'net/connect': 0 };
    const strays = access.filter((x) => {
      const cap = String(x['cap']);
      const target = expectedTarget[cap];
      if (!target || x[target[0]] !== target[1] || x['level'] !== 'warn') return true;
      logged[cap]!++;
      return false;
    });
    assert.equal(strays, [], `no other denial: ${why}`);
    assert.equal(logged, counts.denied, `one record per denial the program saw (log vs program); ${why}`);

    // The pool grew for the FIFO blocks, and no supervisor trouble was logged.
    assert.ok(r.records.some((x) => x['op'] === 'create_new_idle_emulator'), `the pool grew past the core size; ${why}`);
    const trouble = r.records.filter((x) => x['level'] === 'error' || x['level'] === 'alert' || x['level'] === 'fatal');
    assert.equal(trouble, [], `no error or alert records; ${why}`);
    assert.is(deniedAccepted(), 0, 'the denied listener accepted nothing');
  } finally {
    if (t.child.exitCode === null) t.child.kill('SIGKILL');
    denied.close();
  }
});

interface Snapshot {
  threads: string[];
  fds: Map<number, string>;
}

function snapshot(pid: number): Snapshot {
  return { threads: threadNames(pid), fds: openFds(pid) };
}

/** Polls tsyd's threads and fds until `ok`, bounded; resolves with the snapshot that was ok. */
async function settled(pid: number, ok: (s: Snapshot) => boolean, what: string, ms: number): Promise<Snapshot> {
  const end = Date.now() + ms;
  for (;;) {
    const s = snapshot(pid);
    if (ok(s)) return s;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A snapshot once tsyd's fds and threads stayed the same for `stableMs`, bounded by `ms`. */
async function atRest(pid: number, stableMs: number, ms: number): Promise<Snapshot> {
  const end = Date.now() + ms;
  let last = snapshot(pid);
  let since = Date.now();
  while (Date.now() - since < stableMs) {
    if (Date.now() > end) throw new Error(`tsyd's fds and threads never stayed the same for ${stableMs} ms within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
    const now = snapshot(pid);
    if (!sameMultiset(now.threads, last.threads) || !sameFds(now.fds, last.fds)) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

test.run();
