// What a supervisor thread's isolate holds, for bench/memory.ts: with TSYD_DEBUG_MEMORY set, each
// thread logs one `info` record {ctx:"memory", op:"thread_memory", thread, ...} once it is ready
// (sizes in KiB). Without it, nothing is loaded, read or written.
import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import type { TsydLogger } from '../log.js';

const kib = (bytes: number) => Math.round(bytes / 1024);

export function reportThreadMemory(log: TsydLogger, thread: string): void {
  if (process.env.TSYD_DEBUG_MEMORY === undefined) return;
  // Loaded here, not imported: node:v8 would cost every thread ~0.2 MiB (measured) for nothing.
  const { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics } = createRequire(import.meta.url)('node:v8') as typeof V8;
  const heap = getHeapStatistics();
  const code = getHeapCodeStatistics();
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, kib(s.physical_space_size)]));
  log.info(
    {
      ctx: 'memory',
      op: 'thread_memory',
      thread,
      heap_used: kib(heap.used_heap_size),
      heap_total: kib(heap.total_heap_size),
      heap_physical: kib(heap.total_physical_size),
      malloced: kib(heap.malloced_memory),
      peak_malloced: kib(heap.peak_malloced_memory),
      external: kib(heap.external_memory),
      array_buffers: kib(process.memoryUsage().arrayBuffers),
      code: kib(code.code_and_metadata_size),
      bytecode: kib(code.bytecode_and_metadata_size),
      new_space: spaces.new_space ?? 0,
      old_space: spaces.old_space ?? 0,
      code_space: spaces.code_space ?? 0,
      large_object_space: spaces.large_object_space ?? 0,
    },
    `${thread} thread memory`,
  );
}
