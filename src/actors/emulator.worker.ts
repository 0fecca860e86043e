// Emulator thread (tsyd_emu): waits on the notify fd, decides, emulates, answers.
// The whole hot path runs here: no hop through the main thread per request.
import { constants as os } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, type LogLevel } from '../log.js';
import { Answer, native, PATH_BUF_SIZE, Recv, Slot } from '../native/addon.js';
import { fromBytes } from '../sandbox/bytes.js';
import { Policy } from '../sandbox/policy.js';
import type { EmulatorContext, EmulatorData, Violation } from './emulator-context.js';
import { buildHandlerTable } from './handlers/index.js';

const CLONE_FS = 0x200;
const { EACCES, ENOSYS } = os.errno;

const data = workerData as EmulatorData;
const log = createLogger({ level: data.log.level as LogLevel, fd: data.log.fd }).child({ module: 'emulator' });
const control = new Int32Array(data.control);

// The emulator's own umask must not mask modes a second time: the program's umask is
// applied per request. Unsharing CLONE_FS makes umask(0) this thread's alone.
native.unshare(CLONE_FS);
native.umask(0);

const slots = new Int32Array(Slot.count);
const pathBuf = Buffer.alloc(PATH_BUF_SIZE);
native.bindBuffers(slots, pathBuf);

const ctx: EmulatorContext = {
  slots,
  pathBuf,
  policy: Policy.fromJSON(data.policy as ReturnType<Policy['toJSON']>),
  log,
  deny(v: Violation) {
    const path = fromBytes(v.path);
    log.warn({ ctx: 'access', cap: v.cap, path, sys: v.sys, pid: v.pid }, `denied ${v.cap} of ${path}`);
    parentPort?.postMessage({ type: 'violation', violation: { ...v, path } });
  },
};
const handlers = buildHandlerTable();

const tid = native.gettid();
Atomics.store(control, 1 + data.id, tid);
log.debug({ ctx: 'emulator', op: 'start_emulator', id: data.id, tid }, 'emulator started');

function handleOne(): void {
  const nr = slots[Slot.nr]!;
  const entry = handlers.get(nr);
  if (!entry) {
    // The filter only notifies handled calls; anything else is a mismatch: fail closed.
    log.error({ ctx: 'emulator', op: 'unknown_syscall', nr }, 'notification for a system call without handler');
    native.respond(Answer.error, ENOSYS);
    return;
  }
  try {
    entry.handle(ctx);
  } catch (err) {
    // SAFETY: a bug in a handler (or a log write that failed) must not leave the program
    // waiting, nor let the call through: answer EACCES first (a no-op if the handler already
    // answered), then try to tell.
    native.respond(Answer.error, EACCES);
    try {
      log.error({ ctx: 'emulator', op: 'handler_failed', sys: entry.name, err: String(err) }, 'handler threw');
    } catch {
      // the log itself is what failed
    }
  }
}

// After a hang-up (no task uses the filter any more: nothing can arrive again) the emulator
// only waits for should_exit, so that the pool does not take its end for a crash.
let notifyFd = data.notifyFd;
for (;;) {
  const r = native.recv(notifyFd, data.wakeFd, -1);
  if (r === Recv.got) {
    handleOne();
    continue;
  }
  if (Atomics.load(control, 0) !== 0) break;
  if (r === Recv.hangup) notifyFd = -1;
  else if (r < 0) {
    log.error({ ctx: 'emulator', op: 'recv_failed', err: -r }, 'receiving a notification failed');
    notifyFd = -1;
  }
}
Atomics.store(control, 1 + data.id, 0);
log.debug({ ctx: 'emulator', op: 'exit_emulator', id: data.id }, 'emulator exits');
