// What a plain `tsyd run` loads: the CLI's bundle does not load the inspector's HTTP server nor
// the visualizer (elkjs) until `--inspect` or `viz` asks for them (start-up time).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';

test('loading the CLI loads neither node:http nor elkjs', () => {
  const cli = join(repoRoot, 'dist', 'src', 'cli', 'cli.cjs');
  const probe = `require(${JSON.stringify(cli)}); const l = process.moduleLoadList; console.log(JSON.stringify({ http: l.includes('NativeModule http'), elk: Object.keys(require.cache).some((k) => k.includes('elkjs')) }));`;
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), { http: false, elk: false });
});

test.run();
