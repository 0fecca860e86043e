// Micro: the cost of one intercepted call (openat, stat, connect to a loopback port) and of a
// call the filter lets through (getppid), from 1 and 4 program threads, under every supervisor
// side by side: natively, strace -f (and in its fastest form: a seccomp filter stops only the
// calls tsyd stops), proot, the C limit (CONTINUE and emulated) and tsyd (CONTINUE and emulated).
import { cprog, straceSeccomp, tsyd, type Peers } from './lib/tools.js';
import { notifiedCalls } from './lib/notified.js';
import { fmtNs, fmtRatio, median, parseNs, sideBySide, Skipped, timed } from './lib/measure.js';
import type { Section } from './lib/report.js';

type Op = 'openat' | 'stat' | 'connect' | 'getppid';
const OPS: Op[] = ['openat', 'stat', 'connect', 'getppid'];
const THREADS = [1, 4];
/** Calls per inner round (split over the threads), and inner rounds per run. */
const CALLS: Record<Op, number> = { openat: 4000, stat: 4000, connect: 1000, getppid: 20000 };
const INNER = 5;
const TARGET: Record<Op, string> = { openat: '/etc/hostname', stat: '/etc/hostname', connect: 'listen', getppid: '-' };

/** The rules under which tsyd performs the call itself, those alone (-p none; getppid: never notified). */
const EMULATED: Record<Op, string[]> = {
  openat: ['-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***'],
  stat: ['-p', 'none', '-m', 'sandbox/stat:on', '-m', 'allow/stat+/***'],
  connect: ['-p', 'none', '-m', 'sandbox/net/connect:on', '-m', 'allow/net/connect+127.0.0.1!1-65535'],
  getppid: ['-p', 'user'],
};

interface Variant {
  name: string;
  prefix: (op: Op) => string[] | undefined;
  why?: string;
}

export const STRACE_FAST = 'strace -f --seccomp-bpf';

export async function micro(rounds: number, p: Peers): Promise<Section> {
  const loop = cprog('callloop');
  const csuper = cprog('csuper');
  // strace stops what tsyd stops under the emulated variant's policy.
  const fast = Object.fromEntries(OPS.map((op) => [op, straceSeccomp(p.strace, notifiedCalls(EMULATED[op]))]));
  const variants: Variant[] = [
    { name: 'native', prefix: () => [] },
    { name: 'strace -f', prefix: () => p.strace.prefix, why: p.strace.why },
    { name: STRACE_FAST, prefix: (op) => fast[op]!.prefix, why: p.strace.why },
    { name: 'proot', prefix: () => p.proot.prefix, why: p.proot.why },
    { name: 'C limit, CONTINUE', prefix: () => [csuper, '-s', 'continue', '--'] },
    { name: 'C limit, emulated', prefix: () => [csuper, '-s', 'emulate', '--'] },
    // lock:off makes every handled call stop in the kernel; with no capability on tsyd answers CONTINUE.
    { name: 'tsyd, CONTINUE', prefix: () => tsyd('-p', 'none', '-m', 'lock:off') },
    { name: 'tsyd, emulated', prefix: (op) => tsyd(...EMULATED[op]) },
  ];
  const results: Record<string, Record<string, { ns: number; samples: number[]; skipped?: string }>> = {};
  for (const op of OPS) {
    for (const threads of THREADS) {
      const key = `${op}/${threads}`;
      const per = Math.max(1, Math.floor(CALLS[op] / threads));
      const cells = await sideBySide(
        variants.map((v) => ({ ...v, name: v.name })),
        rounds,
        (v) => {
          const prefix = v.prefix(op);
          if (!prefix) throw new Skipped(v.why ?? 'not available');
          return parseNs(timed([...prefix, loop, op, TARGET[op], String(threads), String(per), String(INNER)]).stdout);
        },
      );
      results[key] = {};
      for (const [name, c] of cells) results[key]![name] = { ns: median(c.samples), samples: c.samples, skipped: c.skipped };
      process.stderr.write(`bench: micro ${key} done\n`);
    }
  }

  const cell = (key: string, name: string) => results[key]![name]!;
  const tables = OPS.map((op) => {
    const headers = ['variant'];
    for (const t of THREADS) headers.push(`${t} thread${t > 1 ? 's' : ''}: per call`, '× native', '× C limit');
    const rows = variants.map((v) => {
      const row = [v.name];
      for (const t of THREADS) {
        const key = `${op}/${t}`;
        const c = cell(key, v.name);
        if (c.skipped !== undefined) {
          row.push(`skipped: ${c.skipped}`, '', '');
          continue;
        }
        // The C limit a variant is compared with: emulated with emulated, the rest with CONTINUE.
        const limit = cell(key, v.name.endsWith('emulated') ? 'C limit, emulated' : 'C limit, CONTINUE').ns;
        row.push(fmtNs(c.ns), fmtRatio(c.ns / cell(key, 'native').ns), v.name === 'native' ? '' : fmtRatio(c.ns / limit));
      }
      return row;
    });
    const what = {
      openat: 'openat + close of /etc/hostname',
      stat: 'stat (newfstatat) of /etc/hostname',
      connect: 'socket + connect to a loopback TCP listener in the program + close',
      getppid: 'getppid: no supervisor stops it (strace -f and proot still trace it)',
    }[op];
    return { caption: `**${op}**: ${what}`, headers, rows };
  });

  const headline = {
    caption: '**Headline**: tsyd / C limit per call (same answer, same threads)',
    headers: ['call', 'threads', 'tsyd CONTINUE / C CONTINUE', 'tsyd emulated / C emulated', 'tsyd emulated / strace -f', `tsyd emulated / ${STRACE_FAST}`],
    rows: OPS.filter((op) => op !== 'getppid').flatMap((op) =>
      THREADS.map((t) => {
        const k = `${op}/${t}`;
        const perStrace = (name: string) => {
          const s = cell(k, name);
          return s.skipped !== undefined ? '—' : fmtRatio(cell(k, 'tsyd, emulated').ns / s.ns);
        };
        return [
          op,
          String(t),
          fmtRatio(cell(k, 'tsyd, CONTINUE').ns / cell(k, 'C limit, CONTINUE').ns),
          fmtRatio(cell(k, 'tsyd, emulated').ns / cell(k, 'C limit, emulated').ns),
          perStrace('strace -f'),
          perStrace(STRACE_FAST),
        ];
      }),
    ),
  };
  return {
    id: 'micro',
    title: 'Micro: one system call',
    method: [
      `\`bench/callloop.c\`: THREADS threads make the call between two barriers; a run's figure is the median over ${INNER} inner rounds of wall time / calls (${Object.entries(CALLS).map(([o, n]) => `${o} ${n}`).join(', ')} calls per round).`,
      `Every variant runs once per round, in turn, ${rounds} rounds; the table shows the median run. ` +
        '`C limit` is `bench/csuper.c` (one thread per CPU, poll + NOTIF_RECV, synchronous wake-up, as tsyd): CONTINUE, or the call performed as tsyd does it (realpath, openat2 + ADDFD; fstatat + process_vm_writev; pidfd_getfd + connect) without any policy. ' +
        '`tsyd, CONTINUE` is `-m lock:off` (every handled call stops, no capability on); `tsyd, emulated` turns on the one capability with one allow rule. ' +
        `\`${STRACE_FAST}\` traces only the calls tsyd's filter may stop under the emulated variant's policy (names from \`tsyd export syscalls\`; strace cannot test arguments, so a call stopped for some arguments is traced whole): the others run at native speed.`,
    ],
    tables: [headline, ...tables],
    notes: [
      '`tsyd, CONTINUE` of stat is not a bare CONTINUE: under lock:off tsyd reads the path of every stat-family call to see whether it is the `/dev/tsyd/…` control route.',
      `\`${STRACE_FAST}\` on getppid is no cheaper than \`strace -f\`: strace resumes a new thread with a stop at every call until its first seccomp stop, and callloop's threads make none in that loop (a getppid loop in the main thread, measured apart: 1.0 µs per call under it, 23 µs under \`strace -f\`, 0.6 µs native).`,
      'The C limit canonicalises with glibc realpath() (a readlink per component), tsyd with its own walk (the same readlinks, plus /proc/self mapping and mount checks); tsyd answers with two core emulators like the C limit\'s two threads.',
    ],
    data: results,
  };
}
