// Macro: real work under every supervisor, side by side: a C build, a metadata walk, a Python
// start-up, tar of a tree, git status — natively, under strace -f (and in its fastest form),
// proot, the C limit with tsyd's own filter (CONTINUE and emulated), and tsyd with the `off`
// profile (every capability on, everything allowed: each access decided) and the default `user`
// profile; and how many notifications each took.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cprog, programPath, straceSeccomp, tsyd, work, type Peers } from './lib/tools.js';
import { notifiedCalls, programFilterFile } from './lib/notified.js';
import { STRACE_FAST } from './micro.js';
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

/** The policy of the `tsyd -p user` variant: the C limit and fast strace stop what it stops. */
const USER = ['-p', 'user'];
const C_CONTINUE = 'C limit, CONTINUE';
const C_EMULATED = 'C limit, emulated';

/** The count `csuper -n` prints at exit, or the one tsyd logs (info, op 'notifications'). */
function notifications(stderr: string): number | undefined {
  const m = /^csuper: notifications (\d+)$/m.exec(stderr) ?? /"op":"notifications","count":(\d+)/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export async function macro(rounds: number, p: Peers): Promise<Section> {
  const py = python();
  // Every supervisor gets the program's absolute path, as tsyd execs it: the C limit's execvp
  // must not add an execve notification per PATH entry tried.
  const workloads: Workload[] = [
    { name: 'start-up: `true`', argv: [programPath('true')], cwd: work },
    { name: `C build: \`make -j2 -B\`, ${C_FILES + 1} files`, argv: [programPath('make'), '-s', '-j2', '-B'], cwd: cProject() },
    { name: "metadata walk: `find /usr -type f -printf '%s\\n'`", argv: [programPath('find'), '/usr', '-type', 'f', '-printf', '%s\\n'], cwd: work },
    { name: 'Python start-up importing 20 modules', argv: py ? [py, '-c', `import ${PY_IMPORTS}`] : [], cwd: work, why: py ? undefined : 'python3 not found' },
    { name: 'tar: `tar cf` of /usr/include', argv: [programPath('tar'), 'cf', join(work, 'include.tar'), '-C', '/usr', 'include'], cwd: work },
    { name: `\`git status\`, ${GIT_FILES} files`, argv: [programPath('git'), 'status', '--porcelain'], cwd: gitRepo() },
  ];
  const variants: Array<{ name: string; prefix?: string[]; why?: string }> = [
    { name: 'native', prefix: [] },
    { name: 'strace -f', prefix: p.strace.prefix, why: p.strace.why },
    { name: STRACE_FAST, ...straceSeccomp(p.strace, notifiedCalls(USER)) },
    { name: 'proot', prefix: p.proot.prefix, why: p.proot.why },
    // What the mechanism costs for this work: the same calls stop (tsyd's own filter for the
    // `user` policy), answered CONTINUE, or opens, stats and connects performed as tsyd does.
    { name: C_CONTINUE, prefix: [cprog('csuper'), '-s', '-n', '-f', programFilterFile(USER), 'continue', '--'] },
    { name: C_EMULATED, prefix: [cprog('csuper'), '-s', '-n', '-f', programFilterFile(USER), 'emulate', '--'] },
    { name: 'tsyd -p off', prefix: tsyd('-p', 'off') },
    { name: 'tsyd -p user', prefix: tsyd(...USER) },
  ];
  type Cell = { ms: number; samples: number[]; skipped?: string; denials?: number; notifications?: number[] };
  const data: Record<string, Record<string, Cell>> = {};
  for (const w of workloads) {
    const denials: Record<string, number> = {};
    const counts: Record<string, number[]> = {};
    const cells = await sideBySide(variants, rounds, (v) => {
      if (w.why) throw new Skipped(w.why);
      if (!v.prefix) throw new Skipped(v.why ?? 'not available');
      const r = timed([...v.prefix, ...w.argv], { cwd: w.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
      denials[v.name] = (r.stderr.match(/"ctx":"access"/g) ?? []).length;
      const n = notifications(r.stderr);
      if (n !== undefined) (counts[v.name] ??= []).push(n);
      return r.ms;
    });
    // tsyd's count, from one more run outside the timed ones (the count is an info record).
    if (!w.why) {
      const r = timed([...tsyd('--log-level', 'info', ...USER), ...w.argv], { cwd: w.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
      const n = notifications(r.stderr);
      if (n !== undefined) counts['tsyd -p user'] = [n];
    }
    data[w.name] = {};
    for (const [name, c] of cells) data[w.name]![name] = { ms: median(c.samples), samples: c.samples, skipped: c.skipped, denials: denials[name], notifications: counts[name] };
    process.stderr.write(`bench: macro ${w.name} done\n`);
  }
  const at = (w: string, v: string) => data[w]![v]!;
  const startup = (v: string) => at(workloads[0]!.name, v).ms;
  const times = workloads.map((w) => [
    w.name,
    ...variants.map((v) => {
      const c = at(w.name, v.name);
      return c.skipped !== undefined ? `skipped: ${c.skipped}` : fmtMs(c.ms);
    }),
  ]);
  const count = (w: string, v: string) => {
    const ns = at(w, v).notifications;
    return ns && ns.length > 0 ? String(median(ns)) : '—';
  };
  const ratios = workloads.map((w) => {
    const n = at(w.name, 'native').ms;
    const user = at(w.name, 'tsyd -p user').ms;
    const per = (v: string) => (at(w.name, v).skipped !== undefined ? '—' : fmtRatio(user / at(w.name, v).ms));
    return [
      w.name,
      fmtRatio(at(w.name, 'tsyd -p off').ms / n),
      fmtRatio(user / n),
      w === workloads[0] ? '' : fmtRatio((user - startup('tsyd -p user')) / (n - startup('native'))),
      per('strace -f'),
      per(STRACE_FAST),
      per(C_CONTINUE),
      per(C_EMULATED),
      count(w.name, 'tsyd -p user'),
      count(w.name, C_EMULATED),
      String(at(w.name, 'tsyd -p user').denials ?? '—'),
    ];
  });
  return {
    id: 'macro',
    title: 'Macro: real work',
    method: [
      `Wall time of the whole command (tsyd's start-up included), median of ${rounds} rounds, the variants in turn in each round. ` +
        '`tsyd -p off`: every capability on, everything allowed (each access decided); `tsyd -p user`: the default profile (read/stat everywhere but ~90 secrets, write in cwd and temp, exec from system and toolchain dirs). ' +
        '`C limit, CONTINUE` and `C limit, emulated`: bench/csuper.c loading the very filter tsyd loads for `-p user` (`tsyd export program -p user`): the same calls stop; it answers CONTINUE, or performs opens, stats and connects of absolute paths as tsyd does (everything else CONTINUE), without a policy. ' +
        `\`${STRACE_FAST}\`: strace tracing only the calls that filter may stop (\`tsyd export syscalls -p user\`). ` +
        '`after start-up` subtracts each side\'s `true` time: the cost of the work alone. ' +
        'Notifications: what tsyd received for the workload under `-p user` (its info record `notifications`, one untimed run) and what the C limit received with the same filter (`csuper -n`, median of the rounds): the same filter, so the two differ only where the work does (make -j2, or a call tsyd answers differently).',
    ],
    tables: [
      { caption: '**Wall time**', headers: ['workload', ...variants.map((v) => v.name)], rows: times },
      {
        caption: '**Ratios and notifications** (goal: user / C limit emulated ≤ 1.3×)',
        headers: ['workload', 'off / native', 'user / native', 'user / native after start-up', 'user / strace -f', `user / ${STRACE_FAST}`, 'user / C CONTINUE', 'user / C emulated', 'notifications: tsyd -p user', 'notifications: C limit', 'denials (user)'],
        rows: ratios,
      },
    ],
    notes: [],
    data,
  };
}
