// IPC: does run-time control slow the program down? The program's opens per second under an IPC
// socket (ipc:@NAME) with no client, and with 100 clients connected at once plus one that asks and
// never reads (tsyd drops it once 64 KiB of answers wait for it), side by side. The clients live
// in this process: what they cost the 2 CPUs is part of the figure.
import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { fmtNs, fmtRatio, median, parseNs, sideBySide } from './lib/measure.js';
import type { Section } from './lib/report.js';
import { cprog, tsydBin } from './lib/tools.js';

const CLIENTS = 100;
const CALLS = 4000;
const INNER = 5;

interface Variant {
  name: string;
  /** The 100 clients: none, connected and silent, or each pinging with one command in flight. */
  clients: 'none' | 'idle' | 'busy';
}

const VARIANTS: Variant[] = [
  { name: 'no client', clients: 'none' },
  { name: `${CLIENTS} idle clients + 1 that never reads`, clients: 'idle' },
  { name: `${CLIENTS} clients pinging + 1 that never reads`, clients: 'busy' },
];

let serial = 0;

/** A client of the abstract socket `name`, once connected (undefined while nothing listens yet). */
function connect(name: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const c = createConnection({ path: `\0${name}` });
    c.once('connect', () => resolve(c));
    c.once('error', () => resolve(undefined));
  });
}

async function connectWhenUp(name: string): Promise<Socket> {
  for (const t0 = Date.now(); Date.now() - t0 < 10_000; ) {
    const c = await connect(name);
    if (c) return c;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('the IPC socket did not come up');
}

/** Keeps `c` busy: a ping, and the next once its pong came. */
function pingLoop(c: Socket): void {
  c.on('data', () => c.write('ping\n'));
  c.on('error', () => {});
  c.write('ping\n');
}

/** One run of `variant`: ns per openat of the program (callloop's median of INNER rounds). */
async function runOnce(variant: Variant): Promise<number> {
  const name = `tsyd-bench-ipc-${process.pid}-${++serial}`;
  const loop = cprog('callloop');
  const child = spawn(process.execPath, [tsydBin, 'run', '-p', 'none', '-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', `ipc:@${name}`, '-m', 'lock:ipc', '--', 'sh', '-c', `read x; exec ${loop} openat /etc/hostname 1 ${CALLS} ${INNER}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const first = await connectWhenUp(name);
  const clients: Socket[] = [first];
  if (variant.clients !== 'none') {
    for (let i = 1; i < CLIENTS; i++) clients.push((await connect(name))!);
    if (variant.clients === 'busy') for (const c of clients) pingLoop(c);
    const greedy = (await connect(name))!;
    greedy.pause();
    greedy.on('error', () => {});
    const flood = () => greedy.write('stat\n'.repeat(200), (err) => (err ? greedy.destroy() : setImmediate(flood)));
    flood();
    clients.push(greedy);
  } else first.end();
  child.stdin!.end('\n');
  const code = await exited;
  for (const c of clients) c.destroy();
  if (code !== 0) throw new Error(`tsyd run exited ${code}: ${stdout}`);
  return parseNs(stdout);
}

export async function ipc(rounds: number): Promise<Section> {
  const results = await sideBySide(VARIANTS, rounds, runOnce);
  const base = median(results.get(VARIANTS[0]!.name)!.samples);
  const rows = VARIANTS.map((v) => {
    const cell = results.get(v.name)!;
    const ns = median(cell.samples);
    return cell.skipped ? [v.name, cell.skipped, '', ''] : [v.name, fmtNs(ns), `${Math.round(1e9 / ns).toLocaleString('en-US')}`, fmtRatio(ns / base)];
  });
  return {
    id: 'ipc',
    title: 'IPC: the program’s opens while clients use the control socket',
    method: [
      `\`tsyd run -p none -m sandbox/read:on -m allow/read+/*** -m ipc:@NAME -m lock:ipc -- callloop openat /etc/hostname 1 ${CALLS} ${INNER}\` (every open emulated), ${rounds} rounds, the variants in turn within each round.`,
      `The clients connect once the socket is up and before the program starts its loop. **idle**: ${CLIENTS} connections that send nothing; **pinging**: each of the ${CLIENTS} sends \`ping\` again as soon as its \`pong\` came (one command in flight per client); in both, one more client sends \`stat\` lines without ever reading (tsyd_ipc drops it once 64 KiB of answers wait). The clients run in the bench process: on 2 CPUs, their CPU time and tsyd_ipc's are shared with the program and its emulator.`,
    ],
    tables: [{ headers: ['clients', 'per openat', 'opens per second', '× no client'], rows }],
    notes: [],
    data: Object.fromEntries([...results].map(([n, c]) => [n, { ns: median(c.samples), samples: c.samples, skipped: c.skipped }])),
  };
}
