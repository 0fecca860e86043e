// Which ABI a notified call was made through. tsyd's handlers are keyed by the native ABI's
// call numbers; a call of another ABI has other numbers (i386 `int $0x80`: link is 9, x86_64's
// mmap), so it must never reach a handler. tsyd run's filter never notifies one (addon/filter.cc:
// foreign arch or x32 → ENOSYS); a runtime's filter (tsyd agent) may: a profile that names
// SCMP_ARCH_X86 notifies i386 calls with the same listener.
import { native } from '../native/addon.js';

/** x86_64: the bit that marks an x32 call (same arch value, other numbers). */
const X32_SYSCALL_BIT = 0x40000000;

/**
 * Whether the call (seccomp_data's `arch` and `nr`) is of the native ABI: tsyd run's filter's own
 * rule (addon/filter.cc's first instructions), with the arch value the addon compiled it with.
 */
export function isNativeCall(arch: number, nr: number): boolean {
  if (arch >>> 0 !== native.auditArch) return false;
  return native.arch !== 'x86_64' || nr >>> 0 < X32_SYSCALL_BIT;
}
