// rt_sigaction: checked and continued. tsyd only records which handlers are installed with
// SA_RESTART. (The interrupter no longer reads the record: it answers a blocking call a signal
// cut short -ERESTARTSYS, and the kernel applies SA_RESTART itself; see interrupter.worker.ts.)
// SAFETY: no policy decision depends on this: a program that races the struct only changes
// how its own blocked calls are interrupted.
import { existsSync } from 'node:fs';
import { Answer, native, Slot } from '../../native/addon.js';
import type { EmulatorContext, HandlerSpec } from '../emulator-context.js';
import { tgidOf } from '../proc-status.js';

const SA_RESTART = 0x10000000;
const SIG_DFL = 0;
const SIG_IGN = 1;

export function sigactionHandlers(record: (tgid: number, sig: number, restart: boolean, gone: (t: number) => boolean) => void): Map<string, HandlerSpec> {
  const h = new Map<string, HandlerSpec>();
  h.set('rt_sigaction', { caps: [], handle: (ctx: EmulatorContext) => {
    const s = ctx.slots;
    const sig = s[Slot.args]!;
    const actLo = s[Slot.args + 2]! >>> 0;
    const actHi = s[Slot.args + 3]! >>> 0;
    const tid = s[Slot.pid]!;
    if ((actLo !== 0 || actHi !== 0) && sig > 0 && sig <= 64) {
      // struct kernel_sigaction { handler; flags; restorer; mask } on 64-bit.
      const raw = native.readMemory(tid, actHi * 2 ** 32 + actLo, 16);
      if (raw !== null && native.idValid()) {
        const handler = raw.readBigUInt64LE(0);
        const flags = Number(raw.readBigUInt64LE(8) & 0xffffffffn);
        const restart = (flags & SA_RESTART) !== 0 && handler !== BigInt(SIG_DFL) && handler !== BigInt(SIG_IGN);
        const tgid = tgidOf(tid);
        if (tgid > 0) record(tgid, sig, restart, (t) => !existsSync(`/proc/${t}`));
      }
    }
    native.respond(Answer.continue);
  } });
  return h;
}
