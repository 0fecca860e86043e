// SafeSetID: the cost of an emulated openat when tsyd acts with the caller's credentials
// (addon/act-as.cc: /proc/<tid>/status read, setgroups/setresgid/setresuid/capset to the
// caller's, the open, and back) against tsyd acting with its own, side by side. Three variants,
// one policy (read on, every path allowed: each openat is emulated): no transit declared (tsyd
// reads nothing), transits declared with a root caller (the status read alone: the ids are
// tsyd's), and a caller that moved to nobody along the transit (setpriv): the full switch.
import { join } from 'node:path';
import { fmtNs, fmtRatio, median, parseNs, sideBySide, timed } from './lib/measure.js';
import type { Section } from './lib/report.js';
import { cprog, tsydBin } from './lib/tools.js';

const ITERATIONS = 4000;
const INNER = 5;
const POLICY = ['-p', 'off', '-m', 'sandbox/read:on', '-m', 'allow/read+/***'];
const TRANSITS = ['-m', 'setuid+root:nobody', '-m', 'setgid+root:nogroup'];
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

export async function setid(rounds: number): Promise<Section> {
  const loop = cprog('callloop');
  const call = ['openat', '/etc/hostname', '1', String(ITERATIONS), String(INNER)];
  const variants = [
    { name: 'no transit (tsyd\'s credentials)', argv: [...POLICY, '--', loop, ...call] },
    { name: 'transits, root caller (status read)', argv: [...POLICY, ...TRANSITS, '--', loop, ...call] },
    { name: 'transits, caller nobody (switch + back)', argv: [...POLICY, ...TRANSITS, '--', ...AS_NOBODY, loop, ...call] },
  ];
  const results = await sideBySide(variants, rounds, (v) => parseNs(timed([process.execPath, tsydBin, 'run', ...v.argv]).stdout));
  const base = median(results.get(variants[0]!.name)!.samples);
  const rows = variants.map((v) => {
    const cell = results.get(v.name)!;
    const ns = median(cell.samples);
    return [v.name, cell.skipped ?? fmtNs(ns), fmtRatio(ns / base), Number.isFinite(ns - base) ? `${((ns - base) / 1000).toFixed(1)} µs` : '—'];
  });
  return {
    id: 'setid',
    title: 'SafeSetID: an emulated openat acting with the caller\'s credentials',
    method: [
      `\`bench/callloop.c openat /etc/hostname 1 ${ITERATIONS} ${INNER}\` (one thread: openat + close; the median over ${INNER} inner rounds of wall time / calls) under \`tsyd run ${POLICY.join(' ')}\`, ${rounds} rounds, the variants in turn within each round.`,
      `Transits: \`${TRANSITS.join(' ')}\`; the nobody caller is started by \`${AS_NOBODY.join(' ')}\` inside the sandbox (a transit root → nobody).`,
    ],
    tables: [{ headers: ['variant', 'per openat', '× no transit', 'extra per openat'], rows }],
    notes: ['Without transits the emulators read no /proc status and switch nothing: the first row is tsyd\'s emulated openat as before SafeSetID.'],
    data: Object.fromEntries([...results].map(([n, c]) => [n, { ns: median(c.samples), samples: c.samples, skipped: c.skipped }])),
  };
}
