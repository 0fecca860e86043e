// Ctrl-C reaches the program once whatever runs tsyd on the terminal (issue 13, point 3): npm
// (which forwards the signals it gets to its script), make, and a library host with
// foreground: 'stdin' that forwards SIGINT itself. The program's group has the terminal, so the
// wrappers get no SIGINT of their own to forward. Driven through a real pseudo-terminal.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';
import { tsydBin } from '../helpers/tsyd.js';

function session(command: string, ...steps: string[]): string {
  const r = spawnSync('python3', [join(repoRoot, 'test', 'helpers', 'pty-session.py'), command, ...steps], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.replace(/\r/g, '');
}

// Counts the SIGINTs it gets in 4 s (wrappers start slower than tsyd alone: npm takes ~0.5 s).
const counter = `import signal, time
n = [0]
signal.signal(signal.SIGINT, lambda *a: n.__setitem__(0, n[0] + 1))
print("ready", flush=True)
time.sleep(4)
print("ints", n[0])
`;
const run = `${process.execPath} ${tsydBin} run -- python3 counter.py`;
const dir = tempTree('wrappers', {
  'counter.py': counter,
  'package.json': JSON.stringify({ name: 'scratch', version: '1.0.0', private: true, scripts: { count: run } }),
  Makefile: `count:\n\t${run}\n`,
  // A host that forwards SIGINT to the program 300 ms later, as a careful host would.
  'host.mjs': `import { spawn } from ${JSON.stringify(join(repoRoot, 'dist', 'src', 'index.js'))};
const child = spawn('python3', ['counter.py'], { stdio: 'inherit', foreground: 'stdin' });
process.on('SIGINT', () => setTimeout(() => child.kill('SIGINT'), 300));
const r = await child.result;
console.log('host exit', r.exitCode);
`,
});

const wrappers: Array<[string, string]> = [
  ['npm run', 'npm run --silent count'],
  ['make', 'make -s count'],
  ['a library host (foreground: stdin)', `${process.execPath} host.mjs`],
];

for (const [name, command] of wrappers) {
  test(`${name}: one Ctrl-C is one SIGINT for the program`, () => {
    const out = session(`cd ${dir} && ${command}; echo rc=$?`, '3:^C', '5:echo done');
    assert.match(out, /^ready$/m, `${name}: the program ran: ${out}`);
    assert.match(out, /^(\^C)?ints 1$/m, `${name}: ${out}`);
    assert.match(out, /rc=0/, `${name}: the wrapper was not interrupted: ${out}`);
  });
}

test.run();
