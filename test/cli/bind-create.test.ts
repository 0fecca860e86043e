// Binding a UNIX socket path creates a file: the create capability decides it as well as net/bind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

test('bind(AF_UNIX) of a path is refused where create is denied, and leaves no file', async () => {
  const dir = tempTree('bindcreate');
  mkdirSync(`${dir}/ok`);
  mkdirSync(`${dir}/no`);
  const r = await runTsyd(['run', '-p', 'none', '-m', 'sandbox/create:on', '-m', `allow/create+${dir}/ok/***`, '--log-fd', '3', '--',
    '/usr/bin/python3', '-c', `import socket, errno
for p in ["${dir}/ok/s", "${dir}/no/s"]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(p); print("bound")
    except OSError as e:
        print(errno.errorcode[e.errno])`], { logFd: 3 });
  assert.is(r.stdout, 'bound\nEACCES\n', describe(r));
  assert.ok(existsSync(`${dir}/ok/s`));
  assert.not.ok(existsSync(`${dir}/no/s`));
  const recs = r.records.filter((x) => x['ctx'] === 'access');
  assert.equal(recs.map((x) => [x['cap'], x['path'], x['sys']]), [['create', `${dir}/no/s`, 'bind']]);
});

test.run();
