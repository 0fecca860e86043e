// `tsyd agent`'s command line: what it refuses before it listens (exit 125, a line that says why),
// and its help.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tsydBin } from '../helpers/tsyd.js';
import { scratch } from './container.js';
import { startAgent } from './agent-process.js';

const tmp = scratch('cli');
const agent = (...args: string[]) => spawnSync(process.execPath, [tsydBin, 'agent', ...args], { encoding: 'utf8', timeout: 20_000 });

test.after(() => tmp.remove());

test('no --listen, a policy it cannot serve, a path that is not a socket: 125 and why', () => {
  const none = agent('-p', 'none');
  assert.is(none.status, 125);
  assert.match(none.stderr, /--listen/);
  const ipc = agent('--listen', join(tmp.dir, 'a.sock'), '-m', 'ipc:@tsyd-agent-test');
  assert.is(ipc.status, 125);
  assert.match(ipc.stderr, /ipc: is not served/);
  const file = join(tmp.dir, 'file');
  writeFileSync(file, 'not a socket');
  const taken = agent('--listen', file, '-p', 'none');
  assert.is(taken.status, 125);
  assert.match(taken.stderr, /is not a socket/);
  const badRule = agent('--listen', join(tmp.dir, 'b.sock'), '-m', 'allow/nosuch+/x');
  assert.is(badRule.status, 125);
});

test('--policies DIR that is missing or not a directory: 125 at start, saying which and why', () => {
  const missing = agent('--listen', join(tmp.dir, 'p.sock'), '-p', 'none', '--policies', join(tmp.dir, 'nosuch'));
  assert.is(missing.status, 125);
  assert.match(missing.stderr, /--policies .*nosuch does not exist/);
  const file = join(tmp.dir, 'policies-file');
  writeFileSync(file, '');
  const notDir = agent('--listen', join(tmp.dir, 'p.sock'), '-p', 'none', '--policies', file);
  assert.is(notDir.status, 125);
  assert.match(notDir.stderr, /--policies .*policies-file is not a directory/);
});

test('--listen: a relative path refused as export oci-seccomp refuses it, a missing directory named: 125', () => {
  const relative = agent('--listen', 'agent.sock', '-p', 'none');
  assert.is(relative.status, 125);
  assert.match(relative.stderr, /--listen must be an absolute path \(the runtime connects to it from its own directory\), got 'agent.sock'/);
  const noDir = agent('--listen', join(tmp.dir, 'nosuch', 'a.sock'), '-p', 'none');
  assert.is(noDir.status, 125);
  assert.match(noDir.stderr, /cannot listen on .*nosuch\/a\.sock: directory .*nosuch does not exist/);
});

test('errors in the policy options name the command typed and its help, never check', () => {
  const sock = join(tmp.dir, 'n.sock');
  const program = agent('--listen', sock, '-p', 'none', 'prog');
  assert.is(program.status, 125);
  assert.match(program.stderr, /agent takes no program, got 'prog' \(see tsyd agent --help\)/);
  const typo = agent('--listen', sock, '--polices', tmp.dir);
  assert.is(typo.status, 125);
  assert.match(typo.stderr, /unknown option '--polices'; did you mean '--policies'\? \(see tsyd agent --help\)/);
  const exported = spawnSync(process.execPath, [tsydBin, 'export', 'oci-seccomp', '--listener', sock, '-p', 'none', 'prog'], { encoding: 'utf8' });
  assert.is(exported.status, 125);
  assert.match(exported.stderr, /export oci-seccomp takes no program, got 'prog' \(see tsyd export --help\)/);
  for (const r of [program, typo, exported]) assert.not.match(r.stderr, /check/);
});

test('agent --help and tsyd help agent print its usage', () => {
  for (const r of [agent('--help'), spawnSync(process.execPath, [tsydBin, 'help', 'agent'], { encoding: 'utf8' })]) {
    assert.is(r.status, 0, r.stderr);
    assert.match(r.stdout, /tsyd agent --listen SOCK/);
    assert.match(r.stdout, /--policies DIR/);
  }
  assert.match(spawnSync(process.execPath, [tsydBin, '--help'], { encoding: 'utf8' }).stdout, /tsyd agent --listen SOCK \[--policies DIR\] \[--allow-uid UID,\.\.\.\]/);
});

test('a second agent on the socket of a running agent: 125, the first keeps its socket', async () => {
  const first = await startAgent(tmp.dir, 'taken', ['-p', 'none']);
  try {
    const second = spawnSync(process.execPath, [tsydBin, 'agent', '--listen', first.socket, '-p', 'none'], { encoding: 'utf8', timeout: 20_000 });
    assert.is(second.status, 125, second.stderr);
    assert.match(second.stderr, new RegExp(`another agent listens on ${first.socket} \\(pid ${first.child.pid}\\)`));
    assert.ok(existsSync(first.socket));
    assert.is(first.child.exitCode, null);
  } finally {
    await first.stop();
  }
});

test('a socket nobody listens on is stale: replaced; at the default log level, a line at start and a record at the signal', async () => {
  const stale = join(tmp.dir, 'stale.sock');
  // Left as an agent killed with SIGKILL leaves it (libuv unlinks it on a close).
  const listenAndDie = `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', listenAndDie]);
  assert.ok(existsSync(stale));
  const agent = spawn(process.execPath, [tsydBin, 'agent', '--listen', stale, '-p', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  agent.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => agent.once('exit', (code) => r(code)));
  for (const deadline = Date.now() + 20_000; !err.includes('listening on') && agent.exitCode === null && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  agent.kill('SIGTERM');
  assert.is(await exited, 0, err);
  assert.match(err, new RegExp(`^tsyd: agent listening on ${stale} \\(pid ${agent.pid}\\)`, 'm'));
  const exit = err.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.op === 'exit');
  assert.equal([exit?.level, exit?.signal, exit?.containers], ['warn', 'SIGTERM', 0], err);
});

test.run();
