// Macro: real work under every supervisor, side by side: a C build, a metadata walk, a Python
// start-up, tar of a tree, git status — natively, under strace -f, proot, and tsyd with the
// `off` profile (every capability on, everything allowed: each access decided) and the default
// `user` profile.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cprog, tsyd, work, type Peer } from './lib/tools.js';
import { fmtMs, fmtRatio, median, sideBySide, Skipped, timed } from './lib/measure.js';
import type { Section } from './lib/report.js';

const C_FILES = 100;
const GIT_FILES = 5000;

/** A C project of C_FILES translation units and a Makefile; `make -j2 -B` rebuilds it all. */
function cProject(): string {
  const dir = join(work, 'cproject');
  mkdirSync(dir, { recursive: true });
  const objs: string[] = [];
  for (let i = 0; i < C_FILES; i++) {
    writeFileSync(
      join(dir, `unit${i}.c`),
      `#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n#include "common.h"\n` +
        `double unit${i}(int n) {\n  double s = 0; char buf[64];\n  for (int k = 0; k < n; k++) { snprintf(buf, sizeof buf, "%d", k); s += sqrt((double)strlen(buf) + k * ${i}); }\n  return s;\n}\n`,
    );
    objs.push(`unit${i}.o`);
  }
  writeFileSync(join(dir, 'common.h'), Array.from({ length: C_FILES }, (_, i) => `double unit${i}(int n);`).join('\n') + '\n');
  writeFileSync(
    join(dir, 'main.c'),
    `#include <stdio.h>\n#include "common.h"\nint main(void) { double s = 0;\n${Array.from({ length: C_FILES }, (_, i) => `  s += unit${i}(3);`).join('\n')}\n  printf("%f\\n", s); return 0; }\n`,
  );
  writeFileSync(join(dir, 'Makefile'), `CFLAGS = -O1\nOBJS = main.o ${objs.join(' ')}\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS) -lm\n%.o: %.c common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n`);
  return dir;
}

/** A git repository of GIT_FILES committed files in 50 directories, and a few changes. */
function gitRepo(): string {
  const dir = join(work, 'gitrepo');
  for (let d = 0; d < 50; d++) {
    mkdirSync(join(dir, `dir${d}`), { recursive: true });
    for (let f = 0; f < GIT_FILES / 50; f++) writeFileSync(join(dir, `dir${d}`, `file${f}.txt`), `${d} ${f}\n`);
  }
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('add', '.');
  git('commit', '-q', '-m', 'files');
  writeFileSync(join(dir, 'dir0', 'file0.txt'), 'changed\n');
  writeFileSync(join(dir, 'untracked.txt'), 'new\n');
  return dir;
}

const PY_IMPORTS = 'json, email.mime.multipart, http.client, asyncio, decimal, argparse, logging, xml.etree.ElementTree, sqlite3, unittest, urllib.request, csv, zipfile, tarfile, subprocess, concurrent.futures, dataclasses, typing, pathlib, statistics';

interface Workload {
  name: string;
  argv: string[];
  cwd: string;
  why?: string;
}

function python(): string | undefined {
  // The interpreter itself, not a version manager's shim (pyenv's is a shell script).
  const r = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export async function macro(rounds: number, p: { strace: Peer; proot: Peer }): Promise<Section> {
  const py = python();
  const workloads: Workload[] = [
    { name: 'start-up: `true`', argv: ['true'], cwd: work },
    { name: `C build: \`make -j2 -B\`, ${C_FILES + 1} files`, argv: ['make', '-s', '-j2', '-B'], cwd: cProject() },
    { name: "metadata walk: `find /usr -type f -printf '%s\\n'`", argv: ['find', '/usr', '-type', 'f', '-printf', '%s\\n'], cwd: work },
    { name: 'Python start-up importing 20 modules', argv: py ? [py, '-c', `import ${PY_IMPORTS}`] : [], cwd: work, why: py ? undefined : 'python3 not found' },
    { name: 'tar: `tar cf` of /usr/include', argv: ['tar', 'cf', join(work, 'include.tar'), '-C', '/usr', 'include'], cwd: work },
    { name: `\`git status\`, ${GIT_FILES} files`, argv: ['git', 'status', '--porcelain'], cwd: gitRepo() },
  ];
  const variants: Array<{ name: string; prefix?: string[]; why?: string }> = [
    { name: 'native', prefix: [] },
    { name: 'strace -f', prefix: p.strace.prefix, why: p.strace.why },
    { name: 'proot', prefix: p.proot.prefix, why: p.proot.why },
    // What the mechanism costs for this work: opens and stats performed as tsyd does, no policy.
    { name: 'C limit, emulated', prefix: [cprog('csuper'), '-s', 'emulate', '--'] },
    { name: 'tsyd -p off', prefix: tsyd('-p', 'off') },
    { name: 'tsyd -p user', prefix: tsyd('-p', 'user') },
  ];
  const data: Record<string, Record<string, { ms: number; samples: number[]; skipped?: string; denials?: number }>> = {};
  for (const w of workloads) {
    const denials: Record<string, number> = {};
    const cells = await sideBySide(variants, rounds, (v) => {
      if (w.why) throw new Skipped(w.why);
      if (!v.prefix) throw new Skipped(v.why ?? 'not available');
      const r = timed([...v.prefix, ...w.argv], { cwd: w.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
      denials[v.name] = (r.stderr.match(/"ctx":"access"/g) ?? []).length;
      return r.ms;
    });
    data[w.name] = {};
    for (const [name, c] of cells) data[w.name]![name] = { ms: median(c.samples), samples: c.samples, skipped: c.skipped, denials: denials[name] };
    process.stderr.write(`bench: macro ${w.name} done\n`);
  }
  const at = (w: string, v: string) => data[w]![v]!;
  const startup = (v: string) => at(workloads[0]!.name, v).ms;
  const rows = workloads.map((w) => {
    const row = [w.name];
    for (const v of variants) {
      const c = at(w.name, v.name);
      row.push(c.skipped !== undefined ? `skipped: ${c.skipped}` : fmtMs(c.ms));
    }
    const n = at(w.name, 'native').ms;
    const off = at(w.name, 'tsyd -p off').ms;
    const user = at(w.name, 'tsyd -p user').ms;
    const s = at(w.name, 'strace -f');
    row.push(
      fmtRatio(off / n),
      fmtRatio(user / n),
      w === workloads[0] ? '' : fmtRatio((user - startup('tsyd -p user')) / (n - startup('native'))),
      s.skipped !== undefined ? '—' : fmtRatio(user / s.ms),
      String(at(w.name, 'tsyd -p user').denials ?? '—'),
    );
    return row;
  });
  return {
    id: 'macro',
    title: 'Macro: real work',
    method: [
      `Wall time of the whole command (tsyd's start-up included), median of ${rounds} rounds, the variants in turn in each round. ` +
        '`tsyd -p off`: every capability on, everything allowed (each access decided); `tsyd -p user`: the default profile (read/stat everywhere but ~90 secrets, write in cwd and temp, exec from system and toolchain dirs). ' +
        '`C limit, emulated`: bench/csuper.c performing opens, stats and connects as tsyd does, without a policy (it stops fewer calls than tsyd: not readlink, access, exec, …). ' +
        '`after start-up` subtracts each side\'s `true` time: the cost of the work alone.',
    ],
    tables: [
      {
        headers: ['workload', ...variants.map((v) => v.name), 'off / native', 'user / native', 'user / native after start-up', 'user / strace', 'denials (user)'],
        rows,
      },
    ],
    notes: [],
    data,
  };
}
