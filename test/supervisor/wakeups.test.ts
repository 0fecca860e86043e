// Regression: supervisor threads used to have a private fd table. Node wakes a worker thread's
// event loop by writing to an eventfd by number, and V8's platform threads (in the main fd
// table) do that for emulator isolates too (garbage collection tasks): the number was closed
// there, libuv aborted and tsyd died with SIGABRT mid-build (`make -j2 -B` of 40 files under
// `-p off` from a shell: 6 of 7 runs; this test: 1 of 3, when the number happens to be closed
// in the main table — otherwise 8 bytes went into whatever file had it). The structural check
// is in confine.test.ts (the tables are shared); this is the scenario a user hit.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tempTree } from '../helpers/tmp.js';
import { describe, runTsyd } from '../helpers/tsyd.js';

const UNITS = 60;

test(`make -j2 of ${UNITS} C files under -p off completes: tsyd outlives its emulators' garbage collection`, async () => {
  const files: Record<string, string> = {
    Makefile: 'all: $(patsubst %.c,%.o,$(wildcard *.c))\n%.o: %.c\n\t$(CC) -O1 -c -o $@ $<\n',
  };
  for (let i = 0; i < UNITS; i++) {
    files[`u${i}.c`] = `#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n` +
      `double u${i}(int n) { double s = 0; char b[64]; for (int k = 0; k < n; k++) { snprintf(b, 64, "%d", k); s += sqrt(strlen(b) + k); } return s; }\n`;
  }
  const dir = tempTree('wakeups', files);
  const r = await runTsyd(['run', '-p', 'off', '--', 'make', '-s', '-j2'], { cwd: dir, timeoutMs: 120_000 });
  assert.is(r.signal, null, describe(r));
  assert.is(r.code, 0, describe(r));
  for (let i = 0; i < UNITS; i++) assert.ok(existsSync(join(dir, `u${i}.o`)), `u${i}.o was built`);
});

test.run();
