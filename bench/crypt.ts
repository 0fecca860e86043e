// Crypt: encrypting and decrypting a 256 MiB file with tsyd's cipher (addon/crypt.cc: the
// crypt file format, AES-256-CTR + HMAC-SHA256) against `openssl enc -aes-256-ctr` on the same
// file, side by side (goal: within 2×). tsyd is measured twice: the cipher alone (one native call,
// file to file, in this process) and the whole `tsyd crypt` command (Node start-up, stdin/stdout
// through memfds). openssl computes no MAC: the HMAC pass is part of what tsyd's figure pays.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../src/native/addon.js';
import { fmtMs, fmtRatio, median, sideBySide, Skipped } from './lib/measure.js';
import type { Section } from './lib/report.js';
import { cprog, tsydBin, work } from './lib/tools.js';

const SIZE_MIB = 256;
const KEY = randomBytes(32).toString('hex');
const IV = randomBytes(16).toString('hex');
const TIME = '/usr/bin/time';

const plain = join(work, 'crypt-plain');
const file = (name: string) => join(work, `crypt-${name}`);

interface Variant {
  name: string;
  op: 'encrypt' | 'decrypt';
  run: () => { ms: number; kib?: number };
}

/**
 * `path` opened anew for writing: the last round's output is removed first and every dirty page
 * written out (sync), so that no variant pays inside its timing for freeing or writing back
 * another's 256 MiB (an O_TRUNC of it; the kernel throttling writers once dirty pages pile up).
 */
function fresh(path: string): number {
  rmSync(path, { force: true });
  spawnSync('sync');
  return openSync(path, 'w+');
}

/** Runs argv with stdin/stdout on files under /usr/bin/time: wall ms and peak RSS KiB. */
function timedCommand(argv: string[], stdin?: string, stdout?: string, env: NodeJS.ProcessEnv = process.env): { ms: number; kib?: number } {
  const inFd = stdin ? openSync(stdin, 'r') : 'ignore';
  const outFd = stdout ? fresh(stdout) : 'ignore';
  const timeIt = existsSync(TIME);
  try {
    const t0 = performance.now();
    const r = spawnSync(timeIt ? TIME : argv[0]!, timeIt ? ['-f', '%M', ...argv] : argv.slice(1), { stdio: [inFd, outFd, 'pipe'], env, timeout: 300_000 });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status ?? r.signal}: ${String(r.stderr).trim().slice(-200)}`);
    const kib = timeIt ? Number(String(r.stderr).trim().split('\n').pop()) : undefined;
    return { ms, kib };
  } finally {
    if (typeof inFd === 'number') closeSync(inFd);
    if (typeof outFd === 'number') closeSync(outFd);
  }
}

/** One native call from file to file (the cipher alone: no process start, no stdio copy). */
function timedCall(op: 'encrypt' | 'decrypt', src: string, dst: string): { ms: number } {
  const key = Buffer.from(KEY, 'hex');
  const handle = native.cryptKeyLoad(key);
  const s = openSync(src, 'r');
  const d = fresh(dst);
  try {
    const t0 = performance.now();
    const rc = op === 'encrypt' ? native.cryptEncrypt(handle, s, d) : native.cryptDecrypt(handle, s, d);
    const ms = performance.now() - t0;
    if (rc < 0) throw new Error(`crypt${op}: errno ${-rc}`);
    return { ms };
  } finally {
    closeSync(s);
    closeSync(d);
    native.cryptKeyDrop(handle);
  }
}

function openssl(op: 'encrypt' | 'decrypt'): () => { ms: number; kib?: number } {
  return () => {
    if (spawnSync('openssl', ['version']).status !== 0) throw new Skipped('no openssl on this machine');
    const [src, dst] = op === 'encrypt' ? [plain, file('openssl.enc')] : [file('openssl.enc'), file('openssl.dec')];
    closeSync(fresh(dst));
    return timedCommand(['openssl', 'enc', ...(op === 'decrypt' ? ['-d'] : []), '-aes-256-ctr', '-K', KEY, '-iv', IV, '-in', src, '-out', dst]);
  };
}

const VARIANTS: Variant[] = [
  { name: 'openssl enc -aes-256-ctr', op: 'encrypt', run: openssl('encrypt') },
  { name: 'tsyd cipher (native call)', op: 'encrypt', run: () => timedCall('encrypt', plain, file('call.enc')) },
  { name: '`tsyd crypt encrypt`', op: 'encrypt', run: () => timedCommand([process.execPath, tsydBin, 'crypt', 'encrypt', '--key-env', 'TSYD_BENCH_KEY'], plain, file('cli.enc'), { ...process.env, TSYD_BENCH_KEY: KEY }) },
  { name: 'openssl enc -aes-256-ctr', op: 'decrypt', run: openssl('decrypt') },
  { name: 'tsyd cipher (native call)', op: 'decrypt', run: () => timedCall('decrypt', file('call.enc'), file('call.dec')) },
  { name: '`tsyd crypt decrypt`', op: 'decrypt', run: () => timedCommand([process.execPath, tsydBin, 'crypt', 'decrypt', '--key-env', 'TSYD_BENCH_KEY'], file('cli.enc'), file('cli.dec'), { ...process.env, TSYD_BENCH_KEY: KEY }) },
];

/** Opens of a small file per run of the open-cost variants. */
const OPENS = 20_000;

/**
 * The extra cost of opening a small crypt file: `cryptio readloop FILE N` (open, read 200 bytes,
 * close, N times) under one tsyd policy with Crypt on, on a crypt file and on a plain file beside
 * it (both opens emulated: read is on). Wall time of the whole run; the difference per open is the
 * crypt path's cost (the registry lookup, a reopen of the snapshot; the decryption once).
 */
async function openCost(rounds: number): Promise<{ row: string[]; data: Record<string, unknown> }> {
  const dir = join(work, 'crypt-open');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'c'), { recursive: true });
  const bin = cprog('cryptio');
  const policy = ['-p', 'off', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'sandbox/crypt:on', '-m', `crypt+${dir}/c/**`, '-m', `crypt/key:\${TSYD_BENCH_KEY}`];
  const env = { ...process.env, TSYD_BENCH_KEY: KEY };
  const content = 'a'.repeat(200);
  // The crypt file is written through tsyd (encrypted at its close), the plain one directly.
  const w = spawnSync(process.execPath, [tsydBin, 'run', ...policy, '--', 'sh', '-c', `printf '%s' '${content}' > ${dir}/c/small`], { env, encoding: 'utf8' });
  if (w.status !== 0) throw new Error(`writing the crypt file: ${w.stderr}`);
  writeFileSync(join(dir, 'plain'), content);
  const variants = [
    { name: 'plain file', path: join(dir, 'plain') },
    { name: 'crypt file', path: join(dir, 'c', 'small') },
  ];
  const results = await sideBySide(variants, rounds, (v) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [tsydBin, 'run', ...policy, '--', bin, 'readloop', v.path, String(OPENS)], { env, encoding: 'utf8' });
    const ms = performance.now() - t0;
    if (r.status !== 0 || r.stdout.trim() !== 'whole') throw new Error(`readloop ${v.name}: exit ${r.status}: ${r.stdout}${r.stderr}`);
    return ms;
  });
  rmSync(dir, { recursive: true, force: true });
  const plainMs = median(results.get('plain file')!.samples);
  const cryptMs = median(results.get('crypt file')!.samples);
  const perOpen = (ms: number) => `${((ms * 1000) / OPENS).toFixed(1)} µs`;
  return {
    row: [perOpen(plainMs), perOpen(cryptMs), `${(((cryptMs - plainMs) * 1000) / OPENS).toFixed(1)} µs`, fmtRatio(cryptMs / plainMs)],
    data: Object.fromEntries([...results].map(([n, c]) => [n, { ms: median(c.samples), samples: c.samples }])),
  };
}

export async function crypt(rounds: number): Promise<Section> {
  const chunk = randomBytes(1 << 20);
  writeFileSync(plain, Buffer.alloc(0));
  const fd = openSync(plain, 'w');
  for (let i = 0; i < SIZE_MIB; i++) writeFileSync(fd, chunk);
  closeSync(fd);
  const kib = new Map<string, number[]>();
  const results = new Map<string, Map<string, { samples: number[]; skipped?: string }>>();
  for (const op of ['encrypt', 'decrypt'] as const) {
    const variants = VARIANTS.filter((v) => v.op === op);
    results.set(
      op,
      await sideBySide(variants, rounds, (v) => {
        const r = v.run();
        if (r.kib !== undefined) kib.set(`${op}/${v.name}`, [...(kib.get(`${op}/${v.name}`) ?? []), r.kib]);
        return r.ms;
      }),
    );
  }
  for (const f of ['openssl.enc', 'openssl.dec', 'call.enc', 'call.dec', 'cli.enc', 'cli.dec']) rmSync(file(f), { force: true });
  rmSync(plain, { force: true });
  const cell = (op: string, name: string) => results.get(op)!.get(name)!;
  const ms = (op: string, name: string) => median(cell(op, name).samples);
  const rows = (['encrypt', 'decrypt'] as const).map((op) => {
    const base = ms(op, 'openssl enc -aes-256-ctr');
    const call = ms(op, 'tsyd cipher (native call)');
    const cli = ms(op, `\`tsyd crypt ${op}\``);
    const rss = (name: string) => {
      const k = median(kib.get(`${op}/${name}`) ?? []);
      return Number.isFinite(k) ? `${(k / 1024).toFixed(0)} MiB` : '—';
    };
    return [op, fmtMs(base), fmtMs(call), fmtRatio(call / base), fmtMs(cli), fmtRatio(cli / base), rss('openssl enc -aes-256-ctr'), rss(`\`tsyd crypt ${op}\``)];
  });
  const open = await openCost(rounds);
  const skipped = [...results.values()].flatMap((m) => [...m].filter(([, c]) => c.skipped).map(([n, c]) => `${n}: ${c.skipped}`));
  return {
    id: 'crypt',
    title: `Crypt: ${SIZE_MIB} MiB through tsyd's cipher and through openssl enc -aes-256-ctr`,
    method: [
      `One ${SIZE_MIB} MiB file of random bytes (in the page cache), ${rounds} rounds, openssl / tsyd cipher / \`tsyd crypt\` in turn within each round.`,
      '**tsyd cipher**: one `cryptEncrypt`/`cryptDecrypt` call of the addon, file to file (what the AES worker and an open of a crypt file pay). **`tsyd crypt`**: the command, `< IN > OUT` on files (Node start-up, the output through a memfd). Peak RSS by `/usr/bin/time -f %M`.',
    ],
    tables: [
      { headers: ['', 'openssl enc', 'tsyd cipher', 'cipher / openssl', '`tsyd crypt`', 'command / openssl', 'openssl peak RSS', '`tsyd crypt` peak RSS'], rows },
      { caption: `Opening a small crypt file under tsyd (open + read 200 bytes + close, ${OPENS}× per run, whole run / ${OPENS})`, headers: ['plain file', 'crypt file', 'extra per open', 'crypt / plain'], rows: [open.row] },
    ],
    notes: [
      'Goal: within 2× of openssl enc. tsyd does more work than openssl enc: an HMAC-SHA256 pass over the ciphertext (the tag) besides AES-256-CTR; decrypt checks the tag.',
      'The cipher is OpenSSL libcrypto as linked into Node (AES-NI, SHA extensions); this kernel has no AF_ALG (docs/crypt-format.md).',
      ...skipped,
    ],
    data: { open: open.data, ...Object.fromEntries([...results].map(([op, m]) => [op, Object.fromEntries([...m].map(([n, c]) => [n, { ms: median(c.samples), samples: c.samples, kib: kib.get(`${op}/${n}`), skipped: c.skipped }]))])) },
  };
}
