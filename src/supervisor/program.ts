// The program's process: started under its filter (addon/spawn.cc: fork, confine, hand the
// listener over, execve), watched through the reaper's reports (which feed the sandbox
// machine), and, once it has ended, what it left behind killed.
import { openSync } from 'node:fs';
import type { TsydLogger } from '../log.js';
import { ChildEvent, native, sys } from '../native/addon.js';
import type { Reaped, SandboxEvent } from '../machines/sandbox.machine.js';
import { droppedCapabilities } from '../confine/capabilities.js';
import { REAPER_PID_PLACEHOLDER } from '../confine/program-filter.js';
import { buildChildFilter } from '../syscalls/index.js';
import { UsageError } from '../errors.js';
import { descendants, killLeftovers } from './leftovers.js';
import type { SandboxConfig, StdioOption } from './options.js';
import { mark } from '../shared/timeline.js';

/** What native.spawn gives: the program, its reaper, and the supervisor's fds for them. */
export interface SpawnedProgram {
  pid: number;
  pidfd: number;
  notifyFd: number;
  reaperPid: number;
  reaperPidfd: number;
  statusFd: number;
  controlFd: number;
  /** tsyd's ends of the 'pipe' stdio (stdin, stdout, stderr). */
  parentEnds: Array<number | undefined>;
}

const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1;

/**
 * The child's three fds (-1 = inherit), tsyd's ends of 'pipe's, and the fds opened here
 * for the child only (closed in tsyd once the child has them).
 */
function openStdio(opt: SandboxConfig['stdio']): [[number, number, number], Array<number | undefined>, number[]] {
  const each: StdioOption[] = Array.isArray(opt) ? opt : [opt, opt, opt];
  const child: [number, number, number] = [-1, -1, -1];
  const parent: Array<number | undefined> = [undefined, undefined, undefined];
  const opened: number[] = [];
  each.forEach((o, i) => {
    if (o === 'inherit' || o === undefined) return;
    if (o === 'ignore') {
      child[i] = openSync('/dev/null', i === 0 ? 'r' : 'w');
      opened.push(child[i]);
    } else if (o === 'pipe') {
      const [r, w] = native.pipe2();
      child[i] = i === 0 ? r : w;
      parent[i] = i === 0 ? w : r;
      opened.push(child[i]);
    } else if (typeof o === 'number' && Number.isInteger(o) && o >= 0) child[i] = o;
    else throw new UsageError(`stdio[${i}] must be 'inherit', 'pipe', 'ignore' or an fd, got ${String(o)}`);
  });
  return [child, parent, opened];
}

function envList(env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out.push(`${k}=${v}`);
  return out;
}

/** Starts the program under its filter; throws (nothing left open) when it cannot. */
export function spawnProgram(config: SandboxConfig, logger: TsydLogger): SpawnedProgram {
  const [stdio, parentEnds, opened] = openStdio(config.stdio);
  // SAFETY: a program running as the same user must not be able to ptrace tsyd, take its
  // fds with pidfd_getfd or open its /proc/<pid>/mem; the program itself gets a fresh
  // dumpable flag at execve. (Also in library use: the host process is what is protected.)
  // An unprivileged tsyd binds UNIX sockets under the program's own name in a user namespace
  // of its own, whose id map it can write only while dumpable (addon/unixbind.cc). Without
  // one (user namespaces off), those binds keep a /proc name (README).
  native.makeBindUserNs();
  native.setDumpable(false);
  let spawned;
  try {
    spawned = sys(() =>
      native.spawn({
        file: config.path,
        argv: config.argv,
        env: envList(config.env),
        cwd: config.cwd,
        stdio,
        filter: buildChildFilter(config.policy),
        dropCapabilities: droppedCapabilities(config.policy),
        foreground: config.foreground,
        reaperPlaceholder: REAPER_PID_PLACEHOLDER,
      }),
    );
  } catch (err) {
    for (const fd of [...opened, ...parentEnds]) if (fd !== undefined) native.close(fd);
    throw err;
  }
  for (const fd of opened) native.close(fd);
  // Measured (bench/micro.ts): synchronous wake-up lets the kernel switch straight to the
  // emulator, halving a CONTINUE answer on this 2-CPU machine kind (25 → 13 µs) with no loss
  // for emulated opens. TSYD_SYNC_WAKEUP=0 turns it off.
  if (config.syncWakeup) {
    try {
      native.setNotifyFlags(spawned.notifyFd, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    } catch (err) {
      logger.info({ ctx: 'spawn', op: 'sync_wake_up', err: (err as { errno?: number }).errno }, 'synchronous wake-up unavailable (Linux < 6.6)');
    }
  }
  return { ...spawned, parentEnds };
}

export interface ProgramWatch {
  /** The program's life, as the sandbox machine takes it. */
  send(event: SandboxEvent): void;
  stopped(signal: number): void;
  continued(): void;
  /** The reaper ended (after the program, or — never expected — before it). */
  reaperEnded(code: number, signal: number): void;
}

/** Feeds the reaper's reports (addon/spawn.cc ChildEvent) to `watch`. */
export function watchProgram(program: SpawnedProgram, watch: ProgramWatch, logger: TsydLogger): void {
  let ended = false;
  native.watchChild(program.reaperPidfd, program.statusFd, program.controlFd, (kind, a, b, syscall) => {
    switch (kind) {
      case ChildEvent.exec:
        watch.send(a !== 0 ? { type: 'child.exec_failed', syscall, errno: a } : { type: 'child.exec_ok' });
        return;
      case ChildEvent.ended:
        ended = true;
        // The terminal comes back to tsyd's group (if the program's group still has it).
        native.terminalForeground(program.pid, 0);
        watch.send(b !== 0 ? { type: 'child.signaled', signal: b } : { type: 'child.exited', code: a });
        return;
      case ChildEvent.stopped:
        watch.stopped(a);
        return;
      case ChildEvent.continued:
        watch.continued();
        return;
      case ChildEvent.reaperEnded:
        if (!ended) {
          // SAFETY: the reaper died while the program ran (it is protected from the program's
          // signals; this should not happen): the program died with it (PDEATHSIG).
          ended = true;
          logger.alert({ ctx: 'spawn', op: 'reaper_died', code: a, signal: b }, 'the reaper ended before the program');
          watch.send({ type: 'reaper.died' });
        }
        watch.reaperEnded(a, b);
    }
  });
}

/**
 * After the program: SAFETY: its orphans (now the reaper's children) ran under the same filter:
 * they must not run on once tsyd stops answering (their decided calls would fail with ENOSYS,
 * the rest would go on, holding our stdout). Killed before the supervisor stops, whatever
 * state they are in. Released, the reaper kills its children until it has none (a chain that
 * changes pid faster than /proc can be listed comes to it, the subreaper), then exits.
 */
export async function reapLeftovers(program: SpawnedProgram, reaperEnded: Promise<unknown>, logger: TsydLogger): Promise<Reaped> {
  const { killed, left } = await killLeftovers(program.reaperPid, 1000);
  if (killed > 0) logger.info({ ctx: 'spawn', op: 'kill_leftovers', count: killed }, `killed ${killed} processes the program left behind`);
  native.releaseReaper(program.controlFd);
  const gone = await Promise.race([reaperEnded.then(() => true), new Promise<false>((r) => setTimeout(r, 5000, false).unref())]);
  if (gone) {
    mark('reaper.ended');
    return 'reaped';
  }
  // SAFETY: processes of the sandbox did not end (a process in uninterruptible sleep): a
  // critical failure. The reaper is never killed for it: it goes on killing them, after tsyd
  // too; killed, it would hand them to init.
  logger.alert(
    { ctx: 'spawn', op: 'kill_leftovers', count: Math.max(left, descendants(program.reaperPid).size) },
    `processes the program left behind did not end: the reaper (pid ${program.reaperPid}) goes on killing them`,
  );
  return 'stuck';
}
