// The scene of test/fixtures/soak.c, shared by the soak and fault tests: a tree with allowed,
// read-denied and hidden files, a binary the policy may not run, a real listener on a port the
// policy denies (a connect that got through would be accepted and counted), and the policy.
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';

export interface SoakSetup {
  dir: string;
  /** The soak program and its arguments. */
  args: string[];
  /** -m rules (without the -m). */
  rules: string[];
  denied: Server;
  deniedPort: number;
  /** Connections the denied listener accepted so far. */
  deniedAccepted: () => number;
}

export async function soakSetup(prefix: string, seconds: number, seed: number, extra: string[] = []): Promise<SoakSetup> {
  const dir = tempTree(prefix, { 'ok/file': 'ok', 'denied/file': 'no', 'hidden/file': 'hidden' });
  mkdirSync(`${dir}/fifo`);
  mkdirSync(`${dir}/bin`);
  // A binary that would run and exit 0 if the exec rule let it: a denial is not a failure to run.
  copyFileSync('/usr/bin/true', `${dir}/bin/denied`);
  chmodSync(`${dir}/bin/denied`, 0o755);
  let accepted = 0;
  const denied = createServer((c) => {
    accepted++;
    c.destroy();
  });
  await new Promise<void>((resolve) => denied.listen(0, '127.0.0.1', resolve));
  const deniedPort = (denied.address() as { port: number }).port;
  const soak = fixture('soak');
  const rules = [
    'sandbox/read,stat,exec,net/connect,net/bind:on',
    'allow/read+/***',
    `deny/read+${dir}/denied/***`,
    'allow/stat+/***',
    `deny/stat+${dir}/hidden/***`,
    'allow/exec+/usr/***',
    `allow/exec+${soak}`,
    'allow/net/connect+127.0.0.1!1024-65535',
    `deny/net/connect+127.0.0.1!${deniedPort}`,
    'allow/net/bind+127.0.0.1!0',
  ];
  const args = [soak, String(seed), String(seconds), dir, String(deniedPort), '/bin/true', `${dir}/bin/denied`, ...extra];
  return { dir, args, rules, denied, deniedPort, deniedAccepted: () => accepted };
}
