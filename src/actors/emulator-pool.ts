// A fixed set of emulator threads sharing the notify fd. (The self-growing pool driven by
// the monitor machine replaces this in the supervisor issue.)
import { Worker } from 'node:worker_threads';
import { native } from '../native/addon.js';
import type { TsydLogger } from '../log.js';
import type { EmulatorData, Violation } from './emulator-context.js';

/** Ids are never reused; this bounds the control words (and restarts after crashes). */
const MAX_EMULATOR_IDS = 4096;
const SIGALRM = 14;
/** How often a blocked emulator is interrupted while the pool stops. */
const INTERRUPT_EVERY_MS = 50;

export interface EmulatorPoolOptions {
  size: number;
  notifyFd: number;
  policy: unknown;
  log: { level: string; fd: number };
  logger: TsydLogger;
  onViolation: (v: Violation) => void;
}

export class EmulatorPool {
  private readonly workers = new Set<Worker>();
  private readonly control = new SharedArrayBuffer(4 * (1 + MAX_EMULATOR_IDS));
  private readonly wakeFd: number;
  private stopping = false;
  private nextId = 0;
  private restarts = 0;

  constructor(private readonly opts: EmulatorPoolOptions) {
    if (opts.size + 64 >= MAX_EMULATOR_IDS) throw new RangeError(`at most ${MAX_EMULATOR_IDS - 65} emulators`);
    native.installInterruptHandler();
    this.wakeFd = native.eventfd();
    for (let i = 0; i < opts.size; i++) this.startOne();
  }

  get size(): number {
    return this.workers.size;
  }

  private startOne(): void {
    const data: EmulatorData = {
      id: this.nextId++,
      notifyFd: this.opts.notifyFd,
      wakeFd: this.wakeFd,
      control: this.control,
      policy: this.opts.policy,
      log: this.opts.log,
    };
    const w = new Worker(new URL('./emulator.worker.js', import.meta.url), {
      workerData: data,
      name: 'tsyd_emu',
      stdout: false,
      stderr: false,
    });
    this.workers.add(w);
    w.on('message', (m: { type: string; violation?: Violation }) => {
      if (m.type === 'violation' && m.violation) this.opts.onViolation(m.violation);
    });
    w.on('error', (err) => {
      this.opts.logger.alert({ ctx: 'emulator', op: 'emulator_failed', id: data.id, err: String(err) }, 'emulator thread failed');
    });
    w.on('exit', () => {
      this.workers.delete(w);
      // An emulator that died while the sandbox runs is replaced, so requests keep being
      // answered. A bounded number of restarts keeps a crash loop from spinning.
      if (!this.stopping && this.restarts < 64) {
        this.restarts++;
        this.opts.logger.error({ ctx: 'emulator', op: 'replace_emulator', id: data.id }, 'replacing a dead emulator');
        this.startOne();
      }
    });
  }

  /**
   * Sets should_exit, wakes every emulator, interrupts the ones blocked in a call they make
   * for the program (SIGALRM → EINTR), and waits until all have ended. Resolves false if some
   * emulator is still alive after `timeoutMs`.
   */
  async stop(timeoutMs = 5000): Promise<boolean> {
    this.stopping = true;
    const control = new Int32Array(this.control);
    Atomics.store(control, 0, 1);
    native.eventfdWrite(this.wakeFd);
    const pending = [...this.workers].map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    const all = Promise.all(pending).then(() => true);
    const deadline = Date.now() + timeoutMs;
    const interrupt = setInterval(() => {
      for (let id = 0; id < this.nextId; id++) {
        const tid = Atomics.load(control, 1 + id);
        if (tid > 0) native.tgkill(process.pid, tid, SIGALRM);
      }
    }, INTERRUPT_EVERY_MS);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
    });
    const done = await Promise.race([all, timeout]);
    clearInterval(interrupt);
    clearTimeout(timer);
    if (done) native.close(this.wakeFd);
    else this.opts.logger.alert({ ctx: 'emulator', op: 'stop_emulators', alive: this.workers.size }, 'emulators did not stop');
    return done;
  }
}
