// Run-time control through the IPC socket (ipc:PATH / ipc:@NAME, `tsyd ctl`): real sockets, real
// sandboxed programs. The program waits on its stdin between its accesses, so each test changes
// the policy at a known point, without sleeps.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, linkSync, mkdirSync, readdirSync, readlinkSync, renameSync, statSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { fixture } from '../helpers/fixtures.js';
import { rules } from '../helpers/fsops.js';
import { tempTree } from '../helpers/tmp.js';
import { describe, NOBODY, runNative, runTsyd, spawnProgram, spawnTsyd, type RunningProcess } from '../helpers/tsyd.js';

const dir = tempTree('ipc', { f: 'CONTENT' });
const f = `${dir}/f`;
let n = 0;
/** A fresh socket path (and abstract name) per sandbox. */
const sockPath = () => `${dir}/ctl${++n}.sock`;
const abstractName = () => `tsyd-ipc-test-${process.pid}-${++n}`;

/** `sh -c SCRIPT` under tsyd with `policy`, stdin kept open (each `read x` waits for a line). */
function sandboxed(policy: string[], script: string, env: Record<string, string> = {}, user?: number): RunningProcess {
  return spawnTsyd(['run', '-p', 'none', ...policy, '--', '/bin/sh', '-c', script], { keepStdinOpen: true, env, user });
}

const ctl = (socket: string, ...commands: string[]) => runTsyd(['ctl', socket, ...commands]);

async function finish(p: RunningProcess) {
  p.child.stdin!.end();
  return p.result;
}

test('a client changes the policy of a running program: its next access is decided by the new rule; under lock:ipc /dev/tsyd is closed to the program', async () => {
  const sock = sockPath();
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `deny/read+${f}`, `ipc:${sock}`, 'lock:ipc'), [
    `cat ${f} 2>/dev/null || echo denied1`,
    `test -e /dev/tsyd/allow/read+${f} && echo route-open || echo route-closed`,
    `cat ${f} 2>/dev/null || echo denied2`,
    'echo waiting; read x',
    `cat ${f} 2>/dev/null || echo denied3`,
  ].join('; '));
  await p.waitForStdout(/waiting/);
  const r = await ctl(sock, 'ping', 'sandbox/read?', `allow/read+${f}`);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout, 'pong\non\nok\n');
  p.child.stdin!.write('\n');
  const out = await finish(p);
  assert.is(out.code, 0, describe(out));
  assert.is(out.stdout, 'denied1\nroute-closed\ndenied2\nwaiting\nCONTENT');
  assert.not.ok(existsSync(sock), 'the socket path is removed at exit');
});

test('lock:on over IPC: every further change is refused (ok, then error), the program keeps the old rule', async () => {
  const sock = sockPath();
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `deny/read+${f}`, `ipc:${sock}`, 'lock:ipc'), `echo waiting; read x; cat ${f} 2>/dev/null || echo denied`);
  await p.waitForStdout(/waiting/);
  const r = await ctl(sock, 'lock:on', `allow/read+${f}`, 'ping');
  assert.is(r.code, 1, describe(r));
  const lines = r.stdout.split('\n');
  assert.is(lines[0], 'ok');
  assert.match(lines[1]!, /^error: bad rule 'allow\/read\+.*' \(from the IPC socket\): the policy is locked \(lock:on\)/);
  assert.is(lines[2], 'pong', 'a refused change leaves the connection open');
  p.child.stdin!.write('\n');
  const out = await finish(p);
  assert.is(out.stdout, 'waiting\ndenied\n');
});

test('a bad rule gets the very message of a bad -m', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`, 'lock:ipc'), 'echo waiting; read x');
  await p.waitForStdout(/waiting/);
  const r = await ctl(sock, 'allow/read+relative', 'sandbox/sideways?', 'crypt+/x', 'setuid+root:nobody', 'setgid+0:65534');
  const m = await runTsyd(['check', '-m', 'allow/read+relative']);
  await finish(p);
  assert.is(r.code, 1);
  const lines = r.stdout.split('\n');
  // The very text of -m's, but for where the rule came from.
  assert.is(`tsyd: ${lines[0]!.slice('error: '.length)}\n`, m.stderr.replace('(from -m)', '(from the IPC socket)'));
  assert.match(lines[1]!, /^error: unknown capability 'sideways'/);
  assert.match(lines[2]!, /^error: bad rule 'crypt\+\/x' \(from the IPC socket\): crypt rules cannot be changed at run time/);
  // SAFETY: the emulators' confinement allows the transits declared at start, and no others.
  assert.match(lines[3]!, /^error: bad rule 'setuid\+root:nobody' \(from the IPC socket\): setid rules cannot be changed at run time/);
  assert.match(lines[4]!, /^error: bad rule 'setgid\+0:65534' \(from the IPC socket\): setid rules cannot be changed at run time/);
});

test('stat: one line of JSON with every key', async () => {
  const sock = sockPath();
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `deny/read+${f}`, `ipc:${sock}`, 'lock:ipc'), `cat ${f} 2>/dev/null; echo waiting; read x`);
  await p.waitForStdout(/waiting/);
  const r = await ctl(sock, 'stat');
  await finish(p);
  assert.is(r.code, 0, describe(r));
  assert.is(r.stdout.split('\n').length, 2, 'one line');
  const s = JSON.parse(r.stdout) as Record<string, any>;
  assert.equal(Object.keys(s).sort(), ['lock', 'machines', 'policy', 'pool', 'program', 'violations']);
  assert.ok(s.policy.includes(`deny/read+${f}`) && s.policy.includes('sandbox/read:on'), r.stdout);
  assert.is(s.lock, 'ipc');
  assert.equal(Object.keys(s.pool).sort(), ['busy', 'curr', 'max']);
  assert.ok(s.pool.curr >= 1 && s.pool.max >= s.pool.curr);
  assert.is(s.machines.sandbox, 'running');
  assert.ok(s.machines.monitor === 'grace' || 'running' in s.machines.monitor, r.stdout);
  assert.ok(typeof s.machines.boot === 'string');
  assert.ok(Object.keys(s.machines).some((k) => k.startsWith('emulator/')));
  assert.is(s.violations, 1);
  assert.is(s.program.running, true);
  assert.ok(s.program.pid > 0);
});

test('a peer with another uid is refused (permission denied, closed); ipc/uid:N serves that uid', async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc'), 'echo waiting; read x');
  await p.waitForStdout(/waiting/);
  const refused = await runTsyd(['ctl', `@${name}`, 'ping', 'lock:on'], { user: NOBODY });
  const own = await ctl(`@${name}`, 'ping');
  await finish(p);
  assert.is(refused.code, 1, describe(refused));
  assert.is(refused.stdout, 'error: permission denied\n');
  assert.is(own.stdout, 'pong\n');

  const other = abstractName();
  const q = sandboxed(rules(`ipc:@${other}`, `ipc/uid:${NOBODY}`), 'echo waiting; read x');
  await q.waitForStdout(/waiting/);
  const served = await runTsyd(['ctl', `@${other}`, 'ping'], { user: NOBODY });
  await finish(q);
  assert.is(served.code, 0, describe(served));
  assert.is(served.stdout, 'pong\n');
});

test('an unprivileged tsyd serves its own uid and refuses root', async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc', 'sandbox/read:on', 'allow/read+/***'), 'echo waiting; read x', {}, NOBODY);
  await p.waitForStdout(/waiting/);
  const own = await runTsyd(['ctl', `@${name}`, 'ping', `deny/read+${f}`], { user: NOBODY });
  const root = await ctl(`@${name}`, 'ping');
  await finish(p);
  assert.is(own.stdout, 'pong\nok\n', describe(own));
  assert.is(root.stdout, 'error: permission denied\n');
  assert.is(root.code, 1);
});

test('the program never reaches the socket, whatever its rules: its path, a hard link, a renamed link; nor can it delete or rename the path', async () => {
  const sock = sockPath();
  const link = `${dir}/hard${n}.sock`;
  const moved = `${dir}/moved${n}.sock`;
  // Control: another UNIX socket the same rules let it reach.
  const other = `${dir}/other${n}.sock`;
  const server = createServer((c) => c.end()).listen(other);
  await new Promise((r) => server.once('listening', r));
  const netcall = fixture('netcall');
  const p = sandboxed(rules('sandbox/net/connect:on', 'allow/net/connect+/***', `ipc:${sock}`, 'lock:ipc'), [
    'echo waiting; read x',
    `${netcall} connect u:${other}`,
    `${netcall} connect u:${sock}`,
    `${netcall} connect u:${link}`,
    `${netcall} connect u:${moved}`,
    `${netcall} bind u:${sock}`,
    `rm -f ${sock} 2>/dev/null || echo rm-refused`,
    `mv ${sock} ${dir}/away 2>/dev/null || echo mv-refused`,
  ].join('; '));
  await p.waitForStdout(/waiting/);
  linkSync(sock, link);
  linkSync(sock, moved + '.tmp');
  renameSync(moved + '.tmp', moved);
  p.child.stdin!.write('\n');
  const out = await finish(p);
  server.close();
  assert.is(out.stdout, ['waiting', 'connect OK', 'connect EACCES', 'connect EACCES', 'connect EACCES', 'bind EACCES', 'rm-refused', 'mv-refused', ''].join('\n'), describe(out));
  const refusals = out.records.filter((r) => r.ctx === 'access' && r.cap === 'containment' && r.sys === 'connect');
  assert.is(refusals.length, 3, describe(out));
});

test('the program cannot lock the operator out through the directory that holds the socket: no chmod, chown or rename of it', async () => {
  chmodSync(dir, 0o755);
  const sub = `${dir}/sub${++n}`;
  mkdirSync(sub, { mode: 0o755 });
  const sock = `${sub}/ctl.sock`;
  const p = sandboxed(rules('sandbox/write:on', 'allow/write+/***', 'sandbox/delete:on', 'allow/delete+/***', 'sandbox/create:on', 'allow/create+/***', `ipc:${sock}`, `ipc/uid:${NOBODY}`, 'lock:ipc'), [
    'echo waiting; read x',
    `chmod 000 ${sub} 2>/dev/null || echo chmod-refused`,
    `chown ${NOBODY} ${sub} 2>/dev/null || echo chown-refused`,
    `mv ${sub} ${sub}.away 2>/dev/null || echo mv-refused`,
    `chmod 755 ${dir}/other${n} && echo chmod-elsewhere`,
    'echo done; read x',
  ].join('; '));
  mkdirSync(`${dir}/other${n}`);
  await p.waitForStdout(/waiting/);
  p.child.stdin!.write('\n');
  await p.waitForStdout(/done/);
  const served = await runTsyd(['ctl', sock, 'ping'], { user: NOBODY });
  const st = statSync(sub);
  const out = await finish(p);
  assert.is(out.stdout, 'waiting\nchmod-refused\nchown-refused\nmv-refused\nchmod-elsewhere\ndone\n', describe(out));
  assert.is(st.mode & 0o7777, 0o755);
  assert.is(st.uid, 0);
  assert.is(served.stdout, 'pong\n', describe(served));
});

test('the program never reaches the socket through /proc/self/fd/N of an O_PATH fd to it', async () => {
  const sock = sockPath();
  const p = sandboxed(rules('sandbox/net/connect:on', 'allow/net/connect+/***', `ipc:${sock}`), `echo waiting; read x; ${fixture('opathconnect')} ${sock}`);
  await p.waitForStdout(/waiting/);
  p.child.stdin!.write('\n');
  const out = await finish(p);
  assert.is(out.stdout, 'waiting\nconnect EACCES\n', describe(out));
});

test('the program never reaches an abstract IPC socket, even with allow/net/connect+@*, nor binds its name, padded or not', async () => {
  const name = abstractName();
  const netcall = fixture('netcall');
  // Without the padding it is another address: before, the program bound it (with no capability
  // on, or allow/net/bind+@**), and a client that passes the exact length (socat) talked to it.
  for (const caps of [[], ['sandbox/net/bind:on', 'allow/net/bind+@**']]) {
    const out = await runTsyd(['run', '-p', 'none', ...rules('sandbox/net/connect:on', 'allow/net/connect+@**', ...caps, `ipc:@${name}`), '--', '/bin/sh', '-c', `${netcall} connect a:${name}; ${netcall} bind a:${name}; ${netcall} bind A:${name}; ${netcall} bind A:${name}-other`]);
    assert.is(out.stdout, 'connect EACCES\nbind EACCES\nbind EACCES\nbind OK\n', `${caps.join(' ')}: ${describe(out)}`);
  }
});

test("the IPC thread's filter refuses an open and an exec", async () => {
  const sock = sockPath();
  const out = await runTsyd(['run', '-p', 'none', ...rules(`ipc:${sock}`), '--', '/bin/true'], { env: { TSYD_FAULT: 'ipc-probe' } });
  assert.is(out.code, 0, describe(out));
  const probe = out.records.find((r) => r.ctx === 'ipc' && r.op === 'probe');
  assert.ok(probe, describe(out));
  assert.is(probe!.open_errno, 1, 'open: EPERM');
  assert.is(probe!.exec_errno, 1, 'exec: EPERM');
  // The filter it loads is the one `tsyd export` shows as tsyd_ipc.bpf (confinementFilter('ipc')).
  const pfc = await runTsyd(['export', 'pfc']);
  const ipcRules = pfc.stdout.slice(pfc.stdout.indexOf('tsyd ipc thread rules (tsyd_ipc.bpf)'));
  for (const call of ['openat', 'execve', 'socket', 'connect']) assert.match(ipcRules.slice(0, ipcRules.indexOf('pseudo filter code end')), new RegExp(`/\\* ${call} \\*/\\) action ERRNO\\(1\\)`), call);
});

test('limits: a line longer than 4096 bytes is refused and the connection closed; a missing socket is a clear error', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`), 'echo waiting; read x');
  await p.waitForStdout(/waiting/);
  const long = await ctl(sock, `allow/read+/${'a'.repeat(4096)}`, 'ping');
  const fits = await ctl(sock, `allow/read+/${'a'.repeat(4083)}`);
  await finish(p);
  assert.is(long.code, 1);
  assert.is(long.stdout, 'error: line too long\n');
  // lock:exec (the default) once the program runs: a change that fits is refused as locked.
  assert.match(fits.stdout, /^error: bad rule .*the policy is locked \(lock:exec\)/);
  const missing = await ctl(`${dir}/none.sock`, 'ping');
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /cannot connect to .*none\.sock: ENOENT/);
});

/** A connected client of `sock` (no data read unless asked). */
async function client(sock: string): Promise<Socket> {
  const c = createConnection({ path: sock });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  c.on('error', () => {});
  return c;
}

test('limits: a client that never reads is dropped once its answers pile up; 128 clients are served, the next is told too many', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`, 'lock:ipc'), 'echo waiting; read x');
  await p.waitForStdout(/waiting/);
  const greedy = await client(sock);
  greedy.pause();
  // It asks and never reads (each stat answer is ~1 KiB): once tsyd drops it, its next write fails.
  await new Promise<void>((resolve) => {
    greedy.once('close', () => resolve());
    const flood = () => greedy.write('stat\n'.repeat(1000), (err) => (err ? greedy.destroy() : setImmediate(flood)));
    flood();
  });
  const clients: Socket[] = [];
  for (let i = 0; i < 128; i++) clients.push(await client(sock));
  const extra = await client(sock);
  extra.setEncoding('utf8');
  let told = '';
  extra.on('data', (d: string) => (told += d));
  await new Promise((resolve) => extra.once('close', resolve));
  const last = clients[127]!;
  last.setEncoding('utf8');
  last.write('ping\n');
  const pong = await new Promise<string>((resolve) => last.once('data', resolve));
  for (const c of clients) c.destroy();
  const out = await finish(p);
  assert.is(told, 'error: too many clients\n');
  assert.is(pong, 'pong\n');
  assert.ok(out.records.some((r) => r.ctx === 'ipc' && r.op === 'drop_client'), describe(out));
});

test('limits: a silent client is closed after the idle bound (TSYD_FAULT=ipc-short-idle: 300 ms)', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`), 'echo waiting; read x; true', { TSYD_FAULT: 'ipc-short-idle' });
  await p.waitForStdout(/waiting/);
  const silent = await client(sock);
  // Without the bound it stays open for 60 s: the 10 s fallback fails the test.
  const how = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('still open'), 10_000);
    silent.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
  silent.destroy();
  const out = await finish(p);
  assert.is(how, 'closed');
  assert.is(out.code, 0, describe(out));
});

/** Runs `script` (node, CommonJS; `ADDR` is the socket as libuv takes it) as uid `user`. */
function peerScript(address: string, script: string, user = NOBODY) {
  const path = address.startsWith('@') ? `\0${address.slice(1)}` : address;
  return runNative(process.execPath, ['-e', `const net = require('node:net'); const ADDR = ${JSON.stringify(path)};\n${script}`], { user });
}

/** Connects `count` times and closes each connection at once, before tsyd answers. */
const CONNECT_AND_CLOSE = (count: number) => `let left = ${count};
const next = () => { if (left-- <= 0) return; const c = net.createConnection({ path: ADDR }); c.on('connect', () => { c.destroy(); next(); }); c.on('error', () => next()); };
next();`;

test('a refused peer that connects and closes at once does not kill the IPC worker; the program\'s exit status passes through', async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc'), 'echo waiting; read x; exit 7');
  await p.waitForStdout(/waiting/);
  const attack = await peerScript(`@${name}`, CONNECT_AND_CLOSE(200));
  assert.is(attack.code, 0, describe(attack));
  const own = await ctl(`@${name}`, 'ping');
  const out = await finish(p);
  assert.is(own.stdout, 'pong\n', describe(own));
  assert.is(out.code, 7, describe(out));
  // One warn record per uid per second, not one per peer.
  const refusals = out.records.filter((r) => r.op === 'refuse_peer').length;
  assert.ok(refusals >= 1 && refusals <= 10, `${refusals} refuse_peer records for 200 peers`);
});

test('a refused peer is closed within its bound even when it keeps sending (the bound counts from the refusal)', async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc'), 'echo waiting; read x; exit 0');
  await p.waitForStdout(/waiting/);
  // A byte every 200 ms for up to 6 s; prints how long tsyd kept the connection.
  const peer = await peerScript(`@${name}`, `const t0 = Date.now(); const c = net.createConnection({ path: ADDR });
const tick = setInterval(() => c.write('x'), 200); c.on('error', () => {});
c.on('close', () => { clearInterval(tick); console.log('closed after ' + (Date.now() - t0)); process.exit(0); });
setTimeout(() => { console.log('still open after 6000'); process.exit(0); }, 6000);`);
  await finish(p);
  const held = Number(/(?:closed|still open) after (\d+)/.exec(peer.stdout)?.[1] ?? NaN);
  assert.ok(held < 4000, `tsyd held the refused peer for ${held} ms: ${describe(peer)}`);
});

test('an IPC worker that dies (TSYD_FAULT=ipc-die) is logged once; the program runs on and its exit status passes through', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`, 'lock:ipc'), 'echo waiting; read x; exit 7', { TSYD_FAULT: 'ipc-die' });
  await p.waitForStdout(/waiting/);
  await new Promise((r) => setTimeout(r, 600));
  const gone = await ctl(sock, 'ping');
  const out = await finish(p);
  assert.is(gone.code, 1, describe(gone));
  assert.is(out.code, 7, describe(out));
  assert.is(out.records.filter((r) => r.ctx === 'ipc' && r.op === 'ipc_died').length, 1, describe(out));
  assert.not.ok(out.records.some((r) => r.op === 'exit_ipc_thread' && r.level === 'warn'), describe(out));
  assert.not.ok(existsSync(sock), 'the socket path is removed at exit');
});

/** The sockets open in process `pid`. */
function socketsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false;
    }
  }).length;
}

test('another uid that holds refused connections open costs tsyd a bounded number of fds; the operator is still served', async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc'), 'echo waiting; read x; exit 0');
  await p.waitForStdout(/waiting/);
  const before = socketsOf(p.pid);
  // 400 connections, never read, never closed, held until stdin ends (the poc held 24k).
  const path = `\0${name}`;
  const flood = spawnProgram(process.execPath, ['-e', `const net = require('node:net'); const all = []; let left = 400;
for (let i = 0; i < 400; i++) { const c = net.createConnection({ path: ${JSON.stringify(path)} }); c.pause(); c.on('error', () => {}); c.on('connect', () => { if (--left === 0) console.log('held'); }); c.on('error', () => { if (--left === 0) console.log('held'); }); all.push(c); }
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`], { user: NOBODY, keepStdinOpen: true });
  await flood.waitForStdout(/held/);
  await new Promise((r) => setTimeout(r, 300));
  const during = socketsOf(p.pid);
  const own = await ctl(`@${name}`, 'ping');
  flood.child.stdin!.end();
  await flood.result;
  const out = await finish(p);
  assert.ok(during - before <= 160, `tsyd held ${during - before} more sockets`);
  assert.is(own.stdout, 'pong\n', describe(own));
  assert.is(out.code, 0, describe(out));
});

test("another uid that connects and closes in a tight loop (the kernel's queue kept full) does not lock the operator out of an abstract socket", async () => {
  const name = abstractName();
  const p = sandboxed(rules(`ipc:@${name}`, 'lock:ipc'), 'echo waiting; read x; exit 0');
  await p.waitForStdout(/waiting/);
  // Before: 13 of 20 pings failed with EAGAIN (a non-blocking connect on a full queue).
  const flood = spawnProgram(fixture('ipcflood'), ['connect', name, '4'], { user: NOBODY, keepStdinOpen: true });
  await flood.waitForStdout(/flooding/);
  const pings: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await ctl(`@${name}`, 'ping');
    pings.push(r.code === 0 ? r.stdout.trim() : r.stderr.trim());
  }
  flood.child.stdin!.end();
  await flood.result;
  const out = await finish(p);
  assert.equal(pings, Array(10).fill('pong'));
  assert.is(out.code, 0, describe(out));
});

test('tsyd ctl gives up on a queue that stays full, and says so', async () => {
  const name = abstractName();
  const full = spawnProgram(fixture('ipcflood'), ['hold', name], { keepStdinOpen: true });
  await full.waitForStdout(/full/);
  const r = await ctl(`@${name}`, 'ping');
  full.child.stdin!.end();
  await full.result;
  assert.is(r.code, 1, describe(r));
  assert.match(r.stderr, /cannot connect to @.*: EAGAIN \(its queue stayed full for 5 s: another process may be flooding it/);
});

test('a path socket is created 0600 (no other uid may connect); ipc/uid:N is given the file', async () => {
  chmodSync(dir, 0o755);
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`, 'lock:ipc'), 'echo waiting; read x');
  await p.waitForStdout(/waiting/);
  const mode = statSync(sock).mode & 0o7777;
  const other = await runTsyd(['ctl', sock, 'ping'], { user: NOBODY });
  await finish(p);
  assert.is(mode, 0o600);
  assert.is(other.code, 1);
  assert.match(other.stderr, /EACCES/, describe(other));

  const given = sockPath();
  const q = sandboxed(rules(`ipc:${given}`, `ipc/uid:${NOBODY}`, 'lock:ipc'), 'echo waiting; read x');
  await q.waitForStdout(/waiting/);
  const st = statSync(given);
  const served = await runTsyd(['ctl', given, 'ping'], { user: NOBODY });
  const own = await ctl(given, 'ping');
  await finish(q);
  assert.is(st.mode & 0o7777, 0o600);
  assert.is(st.uid, NOBODY);
  assert.is(served.stdout, 'pong\n', describe(served));
  assert.is(own.stdout, 'pong\n', describe(own));
});

test('a non-ASCII name is bound, guarded and reached as the very bytes given: abstract (connect, bind) and path', async () => {
  const netcall = fixture('netcall');
  const name = `ctl-é-${process.pid}-${++n}`;
  const sock = `${dir}/ctl-é-${++n}.sock`;
  const p = sandboxed(rules('sandbox/net/connect:on', 'allow/net/connect+@**', 'allow/net/connect+/***', `ipc:@${name}`, 'lock:ipc'), [
    'echo waiting; read x',
    `${netcall} connect a:${name}`,
    `${netcall} bind a:${name}`,
  ].join('; '));
  await p.waitForStdout(/waiting/);
  const own = await ctl(`@${name}`, 'ping');
  p.child.stdin!.write('\n');
  const out = await finish(p);
  assert.is(own.stdout, 'pong\n', `tsyd ctl reaches the name typed: ${describe(own)}`);
  assert.is(out.stdout, 'waiting\nconnect EACCES\nbind EACCES\n', describe(out));

  const q = sandboxed(rules('sandbox/net/connect:on', 'allow/net/connect+/***', `ipc:${sock}`, 'lock:ipc'), `echo waiting; read x; ${netcall} connect u:${sock}`);
  await q.waitForStdout(/waiting/);
  const there = existsSync(sock);
  const byPath = await ctl(sock, 'ping');
  q.child.stdin!.write('\n');
  const qout = await finish(q);
  assert.ok(there, 'the socket file has the name given');
  assert.is(byPath.stdout, 'pong\n', describe(byPath));
  assert.is(qout.stdout, 'waiting\nconnect EACCES\n', describe(qout));
});

test('a program that fills the run-time rules under lock:off leaves the operator room to deny and lock; lock:on needs no room at all', async () => {
  const sock = sockPath();
  // Rules of ~200 bytes through /dev/tsyd until refused (the program's 64 KiB of rules in a run).
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `ipc:${sock}`, 'lock:off'), [
    `r=allow/read+/$(head -c 180 /dev/zero | tr '\\0' a)`,
    'i=0; while test -e "/dev/tsyd/$r/$i"; do i=$((i+1)); done',
    'echo full; read x',
    `cat ${f} 2>/dev/null || echo denied`,
  ].join('; '), {}, undefined);
  await p.waitForStdout(/full/);
  // The operator: rules of ~4000 bytes until the log is full, then lock:on.
  const big = Array.from({ length: 20 }, (_, i) => `allow/read+/${String(i).padEnd(4000, 'b')}`);
  const r = await ctl(sock, `deny/read+${f}`, ...big, 'lock:on', `allow/read+${f}`, 'sandbox/read?');
  p.child.stdin!.write('\n');
  const out = await finish(p);
  const lines = r.stdout.trimEnd().split('\n');
  assert.is(lines[0], 'ok', `the operator's deny fits: ${r.stdout.slice(0, 300)}`);
  assert.ok(lines.slice(1, 21).some((l) => l === 'ok'), `the operator's room holds rules of 4000 bytes: ${lines[1]!.slice(0, 200)}`);
  assert.ok(lines.slice(1, 21).some((l) => /too many rules/.test(l)), 'the operator filled the log');
  assert.is(lines[21], 'ok', 'lock:on with a full log');
  assert.match(lines[22]!, /the policy is locked \(lock:on\)/);
  assert.is(lines[23], 'on');
  assert.is(out.stdout, 'full\ndenied\n', describe(out));
});

test('limits: a line must end within its bound (TSYD_FAULT=ipc-short-idle: 1 s): a byte every 100 ms does not hold a slot', async () => {
  const sock = sockPath();
  const p = sandboxed(rules(`ipc:${sock}`, 'lock:ipc'), 'echo waiting; read x; true', { TSYD_FAULT: 'ipc-short-idle', TSYD_LOG: 'info' });
  await p.waitForStdout(/waiting/);
  const slow = await client(sock);
  const drip = setInterval(() => slow.write(' '), 100);
  // Never silent for the 300 ms idle bound: without the line bound it stays open.
  const how = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('still open'), 5_000);
    slow.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
  clearInterval(drip);
  slow.destroy();
  const out = await finish(p);
  assert.is(how, 'closed');
  assert.ok(out.records.some((r) => r.ctx === 'ipc' && r.op === 'slow_line'), describe(out));
});

test("limits: rules from the socket are bounded in wildcards, bytes and automaton steps per run, so the emulators' heap is never exceeded nor a decision slow", async () => {
  const sock = sockPath();
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `ipc:${sock}`, 'lock:ipc'), `echo waiting; read x; cat ${f}`);
  await p.waitForStdout(/waiting/);
  // The attack: 258 rules of ~4 KB of `*a` (every emulator died of heap OOM catching up).
  const heavy = Array.from({ length: 258 }, (_, i) => `allow/read+/${'*a'.repeat(2030)}${i}`);
  const r = await ctl(sock, ...heavy);
  // 591 rules of 65 automaton steps made one decision on a 4 KB path take 1-3 s: the second is over the 128.
  const slow = await ctl(sock, ...[0, 1].map((i) => `allow/read+${'/**/a'.repeat(16)}/${i}`));
  // Plain rules of 4000 bytes: the budget (64 KiB in a run) ends them.
  const plain = Array.from({ length: 20 }, (_, i) => `allow/read+/${String(i).padEnd(4000, 'b')}`);
  const q = await ctl(sock, ...plain);
  p.child.stdin!.write('\n');
  const out = await finish(p);
  const answers = r.stdout.trimEnd().split('\n');
  assert.is(answers.length, 258);
  assert.ok(answers.every((l) => /the rule has 2030 wildcards/.test(l)), answers[0]);
  assert.equal(slow.stdout.trimEnd().split('\n').map((l) => l.replace(/^error: bad rule .* \(from the IPC socket\): /, '')), [
    'ok',
    "the rule's globs need 65 automaton steps, and the socket used 65 of its 128 in a run; expected globs with fewer wildcards after their literal prefix (a literal path, /DIR/*** and /DIR/** cost none)",
  ]);
  const qa = q.stdout.trimEnd().split('\n');
  assert.ok(qa.filter((l) => l === 'ok').length >= 10, q.stdout.slice(0, 200));
  assert.match(qa[19]!, /too many rules added through the socket/);
  assert.is(out.stdout, 'waiting\nCONTENT', describe(out));
  assert.not.ok(out.records.some((r) => r.op === 'emulator_died'), describe(out));
});

test("the rule budget is shared by the uids served: ipc/uid:N spending all of its share leaves tsyd's own uid its own", async () => {
  const name = abstractName();
  const p = sandboxed(rules('sandbox/read:on', 'allow/read+/***', `ipc:@${name}`, `ipc/uid:${NOBODY}`, 'lock:ipc'), `echo waiting; read x; cat ${f} 2>/dev/null || echo denied`);
  await p.waitForStdout(/waiting/);
  // Before: uid N's 16 rules of 4000 bytes took the whole 64 KiB; then only lock:on worked.
  const plain = Array.from({ length: 20 }, (_, i) => `allow/read+/${String(i).padEnd(4000, 'b')}`);
  const other = await runTsyd(['ctl', `@${name}`, ...plain], { user: NOBODY });
  const own = await ctl(`@${name}`, `deny/read+${f}`);
  p.child.stdin!.write('\n');
  const out = await finish(p);
  const answers = other.stdout.trimEnd().split('\n');
  assert.match(answers[19]!, new RegExp(`too many rules added through the socket \\(\\d+ of uid ${NOBODY}'s 32768 bytes in a run\\)`));
  assert.is(own.stdout, 'ok\n', describe(own));
  assert.is(out.stdout, 'waiting\ndenied\n', describe(out));
});

test("a program never reaches another sandbox's IPC socket of the same process (library: path and abstract)", async () => {
  const b = sockPath();
  const c = abstractName();
  const index = new URL('../../src/index.js', import.meta.url).href;
  const netcall = fixture('netcall');
  const script = `import { spawn } from ${JSON.stringify(index)};
import { existsSync } from 'node:fs';
const r = (...xs) => [{ profile: 'none' }, ...xs.map((rule) => ({ rule }))];
const others = [spawn('/bin/sleep', ['4'], { policy: r('ipc:${b}', 'lock:ipc'), stdio: 'ignore' }), spawn('/bin/sleep', ['4'], { policy: r('ipc:@${c}', 'lock:ipc'), stdio: 'ignore' })];
while (!existsSync(${JSON.stringify(b)})) await new Promise((res) => setTimeout(res, 20));
await new Promise((res) => setTimeout(res, 300));
const a = spawn('/bin/sh', ['-c', '${netcall} connect u:${b}; ${netcall} connect a:${c}'], { policy: r('sandbox/net/connect:on', 'allow/net/connect+/***', 'allow/net/connect+@**'), stdio: 'inherit' });
await a.result;
for (const o of others) o.kill();
await Promise.all(others.map((o) => o.result));`;
  const out = await runNative(process.execPath, ['--input-type=module', '-e', script]);
  assert.is(out.stdout, 'connect EACCES\nconnect EACCES\n', describe(out));
});

test('bad ipc rules are policy errors (125) in the style of the other rules', async () => {
  for (const [rule, what] of [
    ['ipc:relative.sock', /bad rule 'ipc:relative\.sock' \(from -m\): 'relative\.sock' is neither an absolute path nor an abstract @name; expected ipc:/],
    ['ipc:', /the socket address is empty/],
    [`ipc:/${'x'.repeat(120)}`, /the socket address is 121 bytes long/],
    ['ipc:/a/../b', /is not canonical/],
    ['ipc/uid:nobody', /'nobody' is not a uid; expected ipc\/uid:N/],
    ['lock:sideways', /lock must be on, off, exec or ipc, got 'sideways'/],
  ] as const) {
    const r = await runTsyd(['run', '-m', rule, '--', '/bin/true']);
    assert.is(r.code, 125, `${rule}: ${describe(r)}`);
    assert.match(r.stderr, what);
  }
  const ok = await runTsyd(['check', '-p', 'none', '-m', 'ipc:@ctl', '-m', 'ipc/uid:1000', '-m', 'lock:ipc']);
  assert.ok(ok.stdout.endsWith('ipc:@ctl\nipc/uid:1000\nlock:ipc\n'), ok.stdout);
});

test.run();
