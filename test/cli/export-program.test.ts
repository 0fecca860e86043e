// `tsyd export program`: the program's filter for a policy, the bytes tsyd loads, for another
// supervisor to load (bench/csuper.c -f); and the count of notifications tsyd logs at the end of
// a run (the benchmarks' notifications column).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchProgram } from '../helpers/fixtures.js';
import { describe, runNative, runTsyd, tsydBin } from '../helpers/tsyd.js';

const TSYD_PID_PLACEHOLDER = 0x7ffffffd;
const REAPER_PID_PLACEHOLDER = 0x7ffffffe;
const BPF_JMP = 0x05;
const dir = mkdtempSync(join(tmpdir(), 'export-program-'));

function exportProgram(...policy: string[]): Buffer {
  const r = spawnSync(process.execPath, [tsydBin, 'export', 'program', ...policy]);
  assert.is(r.status, 0, String(r.stderr));
  return r.stdout;
}

/** The k of every jump instruction (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k). */
function jumpConstants(bpf: Buffer): number[] {
  const ks: number[] = [];
  for (let i = 0; i < bpf.length; i += 8) if ((bpf.readUInt16LE(i) & 0x07) === BPF_JMP) ks.push(bpf.readUInt32LE(i + 4));
  return ks;
}

test('export program writes the struct sock_filter[] of the policy, with pid stand-ins', () => {
  const user = exportProgram('-p', 'user');
  assert.ok(user.length > 0 && user.length % 8 === 0, `whole instructions: ${user.length} bytes`);
  const ks = jumpConstants(user);
  assert.ok(ks.includes(TSYD_PID_PLACEHOLDER), "tsyd's pid is the stand-in, not the exporting process's pid");
  assert.ok(ks.includes(REAPER_PID_PLACEHOLDER), "the reaper's pid is the stand-in");
  const readOnly = exportProgram('-p', 'none', '-m', 'sandbox/read:on');
  assert.not.equal(readOnly, user, 'another policy, another filter');
  assert.equal(exportProgram('-p', 'user'), user, 'the same policy, the same bytes');
});

test('the C limit loads the exported filter and counts the notifications it answers', async () => {
  const file = join(dir, 'read.bpf');
  writeFileSync(file, exportProgram('-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***'));
  const r = await runNative(benchProgram('csuper'), ['-n', '-f', file, 'emulate', '--', benchProgram('callloop'), 'openat', '/etc/hostname', '1', '100', '1']);
  assert.is(r.code, 0, describe(r));
  const m = /^csuper: notifications (\d+)$/m.exec(r.stderr);
  assert.ok(m, describe(r));
  assert.ok(Number(m[1]) >= 100, `every openat stopped: ${m[1]}`);
});

test('a run logs how many notifications tsyd received (info)', async () => {
  const r = await runTsyd(['run', '--log-level', 'info', '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '--', benchProgram('callloop'), 'openat', '/etc/hostname', '1', '100', '1']);
  assert.is(r.code, 0, describe(r));
  const rec = r.records.find((x) => x.op === 'notifications');
  assert.ok(rec, `a notifications record: ${describe(r)}`);
  assert.ok(typeof rec.count === 'number' && rec.count >= 100, `every openat counted: ${String(rec.count)}`);
});

test.run();
