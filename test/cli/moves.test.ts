// A new name may not widen what the program may do with an object: a UNIX socket that the
// default profile keeps out of reach (an ssh-agent) cannot be linked or renamed into reach.
// Also: O_PATH opens are decided (checked, then continued: ADDFD cannot send O_PATH files).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync } from 'node:fs';
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
