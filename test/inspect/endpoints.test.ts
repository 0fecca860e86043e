// The inspector without a browser: `tsyd run --inspect` prints its URL, /state and /events tell
// the truth about a real run (machines, pool, a denial, the end), and nothing is answered
// without the token or to another Host; `--inspect-wait` starts the program only once a page
// (an /events stream) is there. The names of states are written here as the machines have them
// today: the code reads them from the machines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, createServer } from 'node:net';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';
import { openEvents, request, startInspected, URL_LINE, type SseEvent } from './helpers.js';

const DENY = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***'];

test('--inspect=0: the URL line on stderr, /state of a running program with a denial, 403 without the token or for another Host', async () => {
  const dir = tempTree('inspect-state', { secret: 's\n', go: '' });
  // The program reads a denied file, says so, then waits for the test.
  const t = await startInspected(['run', '--inspect=0', ...DENY, '-m', `deny/read+${dir}/secret`, '--', 'sh', '-c', `cat ${dir}/secret; echo read; read line; exit 3`], {
    keepStdinOpen: true,
    env: { TSYD_NPROC: '2' },
  });
  assert.match(t.stderr(), URL_LINE);
  assert.ok(t.port > 0, 'port 0 became a real port');
  await t.waitForStdout(/read/);
  // The monitor starts the second core emulator a moment after the first (its tid is known once it runs).
  type State = { violations: number; pool: { curr: number }; machines: { emulator: { value: string[] } } };
  const settled = (x: State) => x.violations >= 1 && x.pool.curr >= 2 && !x.machines.emulator.value.includes('starting');
  let s = JSON.parse((await request(t.base, `/state?token=${t.token}`)).body);
  for (let i = 0; i < 100 && !settled(s); i++) {
    await new Promise((r) => setTimeout(r, 50));
    s = JSON.parse((await request(t.base, `/state?token=${t.token}`)).body);
  }
  assert.equal(Object.keys(s.machines).sort(), ['boot', 'emulator', 'monitor', 'sandbox']);
  assert.is(s.machines.sandbox.value, 'running');
  assert.is(s.machines.boot.value, 'waitingForProgram');
  assert.equal(Object.keys(s.machines.monitor.value), ['running'], JSON.stringify(s.machines.monitor));
  assert.ok(Array.isArray(s.machines.emulator.value), 'emulator: the states some emulator is in');
  const emulators = s.machines.emulator.emulators as Array<{ kind: string; value: string; tid: number }>;
  assert.is(emulators.filter((e) => e.kind === 'core').length, 2, JSON.stringify(s.machines.emulator));
  for (const e of emulators) {
    assert.ok(s.machines.emulator.value.includes(e.value));
    assert.ok(e.tid > 0);
  }
  assert.equal(Object.keys(s.pool).sort(), ['busy', 'capacityAlerts', 'core', 'curr', 'deaths', 'helpers', 'max', 'retirements', 'spawns']);
  assert.is(s.pool.core, 2);
  assert.is(s.pool.curr, emulators.length);
  assert.is(s.pool.helpers, emulators.length - 2);
  assert.is(s.pool.max, 128);
  assert.is(s.pool.spawns, emulators.length);
  assert.is(s.violations, 1);
  assert.equal(
    s.denials.map((d: Record<string, unknown>) => [d.cap, d.path, d.sys]),
    [['read', `${dir}/secret`, 'openat']],
  );
  assert.is(s.program.running, true);
  assert.ok(s.program.pid > 0);
  assert.equal(s.program.command, ['sh', '-c', `cat ${dir}/secret; echo read; read line; exit 3`]);
  assert.ok(s.policy.includes(`deny/read+${dir}/secret`), s.policy.join('\n'));

  const forbidden: Array<[string, string, Record<string, string>]> = [
    ['no token', '/state', {}],
    ['no token, the page', '/', {}],
    ['no token, events', '/events', {}],
    ['a wrong token of the same length', `/state?token=${'A'.repeat(t.token.length)}`, {}],
    ['the token with one more character', `/state?token=${t.token}x`, {}],
    ['another Host (DNS rebinding)', `/state?token=${t.token}`, { Host: `evil.example:${t.port}` }],
    ['another port in Host', `/state?token=${t.token}`, { Host: `127.0.0.1:${t.port + 1}` }],
    ['another Origin', `/state?token=${t.token}`, { Origin: 'http://evil.example' }],
  ];
  for (const [what, path, headers] of forbidden) {
    const a = await request(t.base, path, headers);
    assert.is(a.status, 403, `${what}: ${a.status} ${a.body}`);
    assert.not.match(a.body, /"machines"/, `${what}: no state in the answer`);
  }
  const local = await request(t.base, `/state?token=${t.token}`, { Host: `localhost:${t.port}` });
  assert.is(local.status, 200, 'localhost names this server too');
  assert.is((await request(t.base, `/nothing?token=${t.token}`)).status, 404);
  const page = await request(t.base, `/?token=${t.token}`);
  assert.is(page.status, 200);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.match(page.body, /data-state="running\.graceWait"/);
  assert.not.match(page.body, /(src|href)="(https?:)?\/\//, 'no asset from elsewhere');

  t.child.stdin!.end('go\n');
  const r = await t.result;
  assert.is(r.code, 3, `the program's exit status: ${describe(r)}`);
});

test('/events: the state first, then changes, the end with the exit status; the stream closes when tsyd exits', async () => {
  const t = await startInspected(['run', '--inspect=127.0.0.1:0', ...DENY, '-m', 'deny/read+/etc/hostname', '--', 'sh', '-c', 'read line; cat /etc/hostname; read line'], {
    keepStdinOpen: true,
  });
  const es = await openEvents(t.base, `/events?token=${t.token}`);
  assert.is(es.status, 200);
  const first = es.events[0] ?? (await es.until(() => true, 'any'));
  assert.is(first.event, 'state');
  assert.is((first.data as { program: { running: boolean } }).program.running, true);
  t.child.stdin!.write('one\n');
  const denied = await es.until((e) => e.event === 'denials', 'denials');
  assert.equal((denied.data as { items: Array<{ path: string }> }).items.map((d) => d.path), ['/etc/hostname']);
  assert.is((denied.data as { violations: number }).violations, 1);
  t.child.stdin!.end('two\n');
  const machine = (name: string, value: unknown) => (e: SseEvent) => {
    const d = e.data as { machine?: string; value?: unknown };
    return e.event === 'machine' && d.machine === name && JSON.stringify(d.value) === JSON.stringify(value);
  };
  await es.until(machine('sandbox', 'ended'), 'sandbox ended');
  const program = await es.until((e) => e.event === 'program', 'program');
  assert.equal(program.data, { pid: (first.data as { program: { pid: number } }).program.pid, running: false, exitCode: 0, signal: null, command: ['sh', '-c', 'read line; cat /etc/hostname; read line'] });
  const pool = es.events.filter((e) => e.event === 'pool').at(-1)!.data as { curr: number };
  assert.is(pool.curr, 0, 'every emulator ended');
  await es.until((e) => e.event === 'end', 'end');
  await es.ended;
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
});

test('--inspect-wait: the program starts only once a page is connected to /events', async () => {
  const t = await startInspected(['run', '--inspect-wait', '--', 'sh', '-c', 'echo started'], { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 1000));
  const s = JSON.parse((await request(t.base, `/state?token=${t.token}`)).body);
  assert.is(s.program.pid, null, 'no program yet');
  assert.equal(s.machines, {});
  assert.is(t.child.exitCode, null, 'tsyd waits');
  // A page without the token is not a page.
  const refused = await openEvents(t.base, '/events');
  assert.is(refused.status, 403);
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await request(t.base, `/state?token=${t.token}`)).body.includes('"pid":null'), true, 'still no program');
  const es = await openEvents(t.base, `/events?token=${t.token}`);
  await t.waitForStdout(/started/);
  const end = await es.until((e) => e.event === 'program', 'the program ended');
  assert.is((end.data as { exitCode: number }).exitCode, 0);
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
});

test('--inspect: a bad address is a usage error (125) that says what and why; a port in use too', async () => {
  const cases: Array<[string, RegExp]> = [
    ['--inspect=', /--inspect=: needs \[HOST:\]PORT/],
    ['--inspect=http', /PORT must be a number from 0 to 65535/],
    ['--inspect=70000', /PORT must be a number from 0 to 65535 .* got '70000'/],
    ['--inspect=example.com:80', /HOST must be an IPv4 address, an IPv6 address in brackets or localhost, got 'example\.com'/],
    ['--inspect=::1:80', /an IPv6 HOST goes in brackets/],
    ['--inspect=[127.0.0.1]:80', /HOST must be/],
  ];
  for (const [arg, why] of cases) {
    const r = await runTsyd(['run', arg, '--', 'true']);
    assert.is(r.code, 125, `${arg}: ${describe(r)}`);
    assert.match(r.stderr, why, arg);
    assert.match(r.stderr, /^tsyd: /);
    // The value is said once (it was twice: `--inspect=70000: PORT ..., got '70000'`).
    const value = arg.slice('--inspect='.length);
    if (value !== '') assert.ok(r.stderr.split(value).length - 1 <= 1, `${arg}: ${r.stderr}`);
  }
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  try {
    const r = await runTsyd(['run', `--inspect=${port}`, '--', 'sh', '-c', 'echo ran']);
    assert.is(r.code, 125, describe(r));
    assert.match(r.stderr, new RegExp(`tsyd: --inspect: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    assert.is(r.stdout, '', 'nothing ran');
  } finally {
    busy.close();
  }
});

test('--inspect: at most 8 pages at once (the next gets 503), and the run is unchanged for them', async () => {
  const t = await startInspected(['run', '--inspect', '--', 'sh', '-c', 'read line'], { keepStdinOpen: true });
  const pages = await Promise.all(Array.from({ length: 8 }, () => openEvents(t.base, `/events?token=${t.token}`)));
  for (const p of pages) assert.is(p.status, 200);
  const ninth = await request(t.base, `/events?token=${t.token}`);
  assert.is(ninth.status, 503, ninth.body);
  assert.match(ninth.body, /too many inspector pages open \(8\)/);
  pages[0]!.close();
  await new Promise((r) => setTimeout(r, 200));
  const again = await openEvents(t.base, `/events?token=${t.token}`);
  assert.is(again.status, 200, 'a closed page frees its place');
  t.child.stdin!.end('x\n');
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
});

/** Sends `raw` on a new connection to PORT; resolves with what came back and whether the server closed it. */
function rawExchange(port: number, raw: string, waitMs: number): Promise<{ answer: string; closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let answer = '';
    let closed: number | null = null;
    const sock = connect(port, '127.0.0.1', () => sock.write(raw));
    sock.on('data', (b) => (answer += b.toString('latin1')));
    sock.on('close', () => (closed = Date.now() - start));
    sock.on('error', () => {});
    setTimeout(() => {
      sock.destroy();
      resolve({ answer, closedAfterMs: closed });
    }, waitMs);
  });
}

test('a request no URL parser takes is a 400, not the end of tsyd (review: one tokenless request killed it)', async () => {
  const t = await startInspected(['run', '--inspect=0', '--', 'sh', '-c', 'sleep 2; exit 4'], { timeoutMs: 30_000 });
  const bad = await rawExchange(t.port, 'GET http://a:99999/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 500);
  assert.match(bad.answer, /^HTTP\/1\.1 400 /);
  const ok = await request(t.base, `/state?token=${t.token}`);
  assert.is(ok.status, 200, 'still serving');
  const r = await t.result;
  assert.is(r.code, 4, `the program's status, tsyd alive to the end: ${describe(r)}`);
});

test('an idle or half-sent connection is closed within seconds (the program may connect: loopback), the page still served', async () => {
  const t = await startInspected(['run', '--inspect=0', '--', 'sh', '-c', 'sleep 6'], { timeoutMs: 30_000 });
  const hogs = await Promise.all(Array.from({ length: 40 }, (_, i) => rawExchange(t.port, i % 2 ? '' : 'GET / HTTP/1.1\r\nHost: 127', 4000)));
  for (const h of hogs) assert.ok(h.closedAfterMs !== null && h.closedAfterMs < 3500, `closed after ${h.closedAfterMs} ms`);
  assert.is((await request(t.base, `/state?token=${t.token}`)).status, 200);
  const r = await t.result;
  assert.is(r.code, 0, describe(r));
});

test('--inspect-wait: a bad rule or a missing program fails at once (125, 127), before any URL', async () => {
  const bad = await runTsyd(['run', '--inspect-wait', '-m', 'sandbox/nope:on', '--', 'true'], { timeoutMs: 10_000 });
  assert.is(bad.code, 125, describe(bad));
  assert.not.match(bad.stderr, 'inspector at');
  const missing = await runTsyd(['run', '--inspect-wait', '--', '/no/such/program'], { timeoutMs: 10_000 });
  assert.is(missing.code, 127, describe(missing));
  assert.match(missing.stderr, 'command not found');
});

test.run();
