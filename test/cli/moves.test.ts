// A new name may not widen what the program may do with an object: a UNIX socket that the
// default profile keeps out of reach (an ssh-agent) cannot be linked or renamed into reach.
// A directory moves when every path below it is decided alike under the new name, else EXDEV.
// Also: O_PATH opens are decided (checked, then continued: ADDFD cannot send O_PATH files).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('an ssh-agent socket cannot be linked, renamed or moved with its directory into reach', async () => {
  const agentDir = `/tmp/ssh-tsydtest${process.pid}`;
  const work = tempTree('moves');
  mkdirSync(agentDir, { mode: 0o700 });
  let connections = 0;
  const server: Server = createServer((s) => {
    connections++;
    s.end('AGENT');
  });
  await new Promise<void>((r) => server.listen(`${agentDir}/agent.1`, r));
  try {
    const r = await runTsyd(['run', '--log-fd', '3', '--', '/usr/bin/python3', '-c', `import os, socket, errno
def tryit(what, f):
    try:
        f(); print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
def conn(p):
    s = socket.socket(socket.AF_UNIX); s.connect(p); s.close()
tryit("connect", lambda: conn("${agentDir}/agent.1"))
tryit("link", lambda: os.link("${agentDir}/agent.1", "${work}/hl"))
tryit("rename", lambda: os.rename("${agentDir}/agent.1", "${work}/mv"))
tryit("rename-dir", lambda: os.rename("${agentDir}", "${work}/dir"))`], { logFd: 3, cwd: work, env: { HOME: work } });
    assert.is(r.stdout, 'connect EACCES\nlink EACCES\nrename EACCES\nrename-dir EACCES\n', describe(r));
    assert.is(connections, 0, 'nothing reached the agent');
  } finally {
    server.close();
    rmSync(agentDir, { recursive: true, force: true });
  }
});

/** A directory `d` (with a file and a subdirectory) in a fresh working directory, and a free name in /tmp. */
function directoryToMove(): { work: string; target: string; inode: number } {
  const work = tempTree('exdev', { 'd/f': 'data', 'd/sub/g': 'more' });
  const target = `/tmp/tsyd-exdev-target-${process.pid}`;
  rmSync(target, { recursive: true, force: true });
  return { work, target, inode: statSync(`${work}/d`).ino };
}

const renameScript = (target: string) => `import os, errno
try:
    os.rename("d", "${target}"); print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])`;

test('the default profile: a directory of the working directory moves to /tmp (the same decisions below)', async () => {
  const { work, target, inode } = directoryToMove();
  try {
    const r = await runTsyd(['run', '--', '/usr/bin/python3', '-c', renameScript(target)], { cwd: work });
    assert.is(r.stdout, 'ok\n', describe(r));
    assert.not.ok(existsSync(`${work}/d`), 'gone from the working directory');
    assert.is(statSync(target).ino, inode, 'renamed, not copied');
    assert.ok(existsSync(`${target}/f`) && existsSync(`${target}/sub/g`));
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});

test('a rule that decides a name below differently under the new name: EXDEV, nothing moved', async () => {
  const { work, target, inode } = directoryToMove();
  try {
    // /tmp/*/secret: TARGET/secret, not WORK/d/secret.
    const r = await runTsyd(['run', '-p', 'user', '-m', 'deny/read+/tmp/*/secret', '--', '/usr/bin/python3', '-c', renameScript(target)], { cwd: work });
    assert.is(r.stdout, 'EXDEV\n', describe(r));
    assert.is(statSync(`${work}/d`).ino, inode, 'still in place');
    assert.ok(existsSync(`${work}/d/sub/g`));
    assert.not.ok(existsSync(target), 'nothing at the new name');
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});

test('O_PATH opens: allowed ones give an fd, denied ones EACCES', async () => {
  const r = await runTsyd(['run', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'deny/read+/etc/hostname', '--',
    '/usr/bin/python3', '-c', `import os, errno
for p in ("/etc", "/etc/hosts", "/etc/hostname"):
    try:
        fd = os.open(p, os.O_PATH); print(p, "ok"); os.close(fd)
    except OSError as e:
        print(p, errno.errorcode[e.errno])`]);
  assert.is(r.stdout, '/etc ok\n/etc/hosts ok\n/etc/hostname EACCES\n', describe(r));
});

test.run();
