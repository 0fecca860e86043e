// Helpers for supervisor tests that run the library in this process.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { spawn } from '../../src/index.js';
import { fixture } from '../helpers/fixtures.js';
import { tempTree } from '../helpers/tmp.js';

/** Collects a stream into a string that tests can poll. */
export function collect(stream: Readable | null): { text: () => string } {
  let text = '';
  stream?.on('data', (c) => (text += String(c)));
  return { text: () => text };
}

/** Polls `pred` every 10 ms; rejects with `what` after `ms`. */
export async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function makeFifos(dir: string, prefix: string, n: number): string[] {
  const paths = Array.from({ length: n }, (_, i) => join(dir, `${prefix}${i}`));
  execFileSync('mkfifo', paths);
  return paths;
}

/** Opening a FIFO for writing completes a reader blocked in open; then close it. */
export function releaseFifo(path: string): void {
  closeSync(openSync(path, 'w'));
}

/** spawn() with FIFO opens blocking their emulator (TSYD_FAULT=inline-blocking), so that the pool must grow. */
export function spawnBlocking(...args: Parameters<typeof spawn>): ReturnType<typeof spawn> {
  process.env.TSYD_FAULT = 'inline-blocking';
  try {
    return spawn(...args);
  } finally {
    delete process.env.TSYD_FAULT;
  }
}

/**
 * The FIFO flood (fixtures/fifoflood): `count` threads of the program block in FIFO opens that
 * hold their emulator (spawnBlocking), read rules on, one core emulator; `extra` adds options.
 * The program prints "started", joins its threads on "join" and exits on "exit".
 */
export function spawnFifoFlood(name: string, count: number, extra: Parameters<typeof spawn>[2] = {}) {
  const dir = tempTree(name, { regular: 'R' });
  const fifos = makeFifos(dir, 'f', count);
  const child = spawnBlocking(fixture('fifoflood'), [String(count), `${dir}/f`, `${dir}/regular`], {
    policy: [{ rule: 'sandbox/read:on' }, { rule: 'allow/read+/***' }],
    stdio: ['pipe', 'pipe', 'inherit'],
    emulators: 1,
    logLevel: 'silent',
    ...extra,
  });
  return { dir, fifos, child };
}
