// A fixed set of emulator threads sharing the notify fd. (The self-growing pool driven by
// the monitor machine replaces this in the supervisor issue.)
import { Worker } from 'node:worker_threads';
import { native } from '../native/addon.js';
import type { TsydLogger } from '../log.js';
import type { EmulatorData, Violation } from './emulator-context.js';

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
  private readonly control = new SharedArrayBuffer(4 * 4);
  private readonly wakeFd: number;
  private stopping = false;
  private nextId = 0;
  private restarts = 0;

  constructor(private readonly opts: EmulatorPoolOptions) {
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

  /** Sets should_exit, wakes every emulator, and waits until all have ended. */
  async stop(): Promise<void> {
    this.stopping = true;
    Atomics.store(new Int32Array(this.control), 0, 1);
    native.eventfdWrite(this.wakeFd);
    const pending = [...this.workers].map((w) => new Promise<void>((resolve) => w.once('exit', () => resolve())));
    await Promise.all(pending);
    native.close(this.wakeFd);
  }
}
