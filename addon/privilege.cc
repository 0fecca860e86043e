// Never lend a privilege: an emulator thread acts for the program with the program's
// capabilities, not tsyd's. Capabilities are per thread in Linux (capset with pid 0 changes the
// calling thread only), so each emulator lowers its own effective set to what the program was
// started with; tsyd's other threads keep theirs.
// The one exception, taken only on demand and only towards the caller itself: reading and
// writing the caller's memory, taking its fds and reading its cwd need ptrace access to it,
// which a program that made itself non-dumpable refuses to a thread without CAP_SYS_PTRACE.
// Then CAP_SYS_PTRACE is raised for that one operation on that one process, and lowered again.
#include "common.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsyd {

static bool Caps(__user_cap_data_struct data[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &hdr, data) == 0;
}

static bool SetCaps(__user_cap_data_struct data[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &hdr, data) == 0;
}

static bool SetEffective(int cap, bool on) {
  __user_cap_data_struct data[2];
  if (!Caps(data)) return false;
  const uint32_t bit = 1u << (cap % 32);
  if (on && !(data[cap / 32].permitted & bit)) return false;
  if (on) data[cap / 32].effective |= bit;
  else data[cap / 32].effective &= ~bit;
  return SetCaps(data);
}

bool RaiseCallerAccess() { return SetEffective(CAP_SYS_PTRACE, true); }
void LowerCallerAccess() { SetEffective(CAP_SYS_PTRACE, false); }
bool RaiseCapability(int cap) { return SetEffective(cap, true); }
bool MayRaiseCapability(int cap) {
  __user_cap_data_struct data[2];
  return Caps(data) && (data[cap / 32].permitted >> (cap % 32)) & 1;
}
void LowerCapability(int cap) { SetEffective(cap, false); }
bool IsEffectiveCapability(int cap) {
  __user_cap_data_struct data[2];
  return Caps(data) && (data[cap / 32].effective >> (cap % 32)) & 1;
}

// lowerThreadCapabilities(caps: number[]): removes `caps` from this thread's effective set (the
// permitted set keeps CAP_SYS_PTRACE for RaiseCallerAccess). Throws when capset fails.
static Napi::Value LowerThreadCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array caps = info[0].As<Napi::Array>();
  __user_cap_data_struct data[2];
  if (!Caps(data)) return ThrowErrno(env, "capget", errno);
  for (uint32_t i = 0; i < caps.Length(); i++) {
    int cap = caps.Get(i).As<Napi::Number>().Int32Value();
    if (cap < 0 || cap >= 64) continue;
    data[cap / 32].effective &= ~(1u << (cap % 32));
  }
  if (!SetCaps(data)) return ThrowErrno(env, "capset", errno);
  return env.Undefined();
}

void InitPrivilege(Napi::Env env, Napi::Object exports) {
  exports.Set("lowerThreadCapabilities", Napi::Function::New(env, LowerThreadCapabilities, "lowerThreadCapabilities"));
}

}  // namespace tsyd
