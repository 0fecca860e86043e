// SafeSetID: an emulator thread acts with the credentials of the program thread it serves, when
// they are not tsyd's own (the program moved along a declared transit: setuid+SRC:DST). The
// kernel then checks every act tsyd performs for the program (opens, creates, chown, connect's
// peer credentials, ...) as the program's own, with the program's effective capabilities
// (none once it left uid 0; never more than tsyd's thread had for it: the program's at start).
// Raw system calls only: Linux credentials are per thread, and glibc's set*id wrappers change
// every thread of tsyd (they broadcast with a signal). The saved uid and gid stay tsyd's, so
// that the thread can return; its permitted capabilities stay too (the kernel keeps them while
// one of the uids is 0), raised only for this switch and for AsCaller's access to the caller.
// SAFETY (fail closed): a thread that cannot return to tsyd's credentials must never serve
// another request: tsyd stops at once (exit 101, as for any critical supervisor failure).
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <string>

namespace tsyd {

static bool CapsOf(__user_cap_data_struct data[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capget, &hdr, data) == 0;
}

static bool SetEffectiveSet(const uint32_t effective[2], const uint32_t within[2]) {
  __user_cap_data_struct data[2];
  if (!CapsOf(data)) return false;
  const uint32_t e0 = effective[0] & within[0] & data[0].permitted;
  const uint32_t e1 = effective[1] & within[1] & data[1].permitted;
  if (data[0].effective == e0 && data[1].effective == e1) return true;  // a capset costs a new struct cred
  data[0].effective = e0;
  data[1].effective = e1;
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &hdr, data) == 0;
}

// This thread's ids, as the kernel has them.
static bool IdsOfThread(Ids* ids) {
  uid_t u[3];
  gid_t g[3];
  if (syscall(SYS_getresuid, &u[0], &u[1], &u[2]) != 0 || syscall(SYS_getresgid, &g[0], &g[1], &g[2]) != 0) return false;
  ids->uid = {u[0], u[1], u[2], static_cast<uid_t>(syscall(SYS_setfsuid, -1))};
  ids->gid = {g[0], g[1], g[2], static_cast<gid_t>(syscall(SYS_setfsgid, -1))};
  long n = syscall(SYS_getgroups, 0, nullptr);
  if (n < 0) return false;
  ids->groups.resize(static_cast<size_t>(n));
  if (n > 0 && syscall(SYS_getgroups, n, ids->groups.data()) != n) return false;
  std::sort(ids->groups.begin(), ids->groups.end());
  __user_cap_data_struct data[2];
  if (!CapsOf(data)) return false;
  ids->eff[0] = data[0].effective;
  ids->eff[1] = data[1].effective;
  return true;
}

// SAFETY: the most supplementary groups of a caller tsyd acts as. Each call it makes for such a
// caller costs the kernel a setgroups sort of them twice (there and back) and a rendering of its
// status: ~34 ms of tsyd's CPU per call at 65536 groups (a container with CAP_SETGID, atkagent5),
// charged to no cgroup of the caller's. A caller with more is refused (E2BIG: EPERM to it).
static constexpr size_t kMaxCallerGroups = 1024;
// The largest /proc/<tid>/status read: kMaxCallerGroups groups of up to 11 bytes, and the other
// lines; a longer one (more groups) is refused unread.
static constexpr size_t kMaxStatusBytes = 64 << 10;

// Parses "Uid:\tR\tE\tS\tFS" style lines and "Groups:\tA B C" of /proc/<tid>/status: 0, -EINVAL
// (not a status), -E2BIG (more than kMaxCallerGroups groups).
static int ParseStatus(const char* text, Ids* ids) {
  const char* u = strstr(text, "\nUid:");
  const char* g = strstr(text, "\nGid:");
  const char* gr = strstr(text, "\nGroups:");
  const char* ce = strstr(text, "\nCapEff:");
  if (!u || !g || !gr || !ce) return -EINVAL;
  unsigned long long eff;
  if (sscanf(ce + 8, "%llx", &eff) != 1) return -EINVAL;
  ids->eff[0] = static_cast<uint32_t>(eff);
  ids->eff[1] = static_cast<uint32_t>(eff >> 32);
  unsigned a[4], b[4];
  if (sscanf(u + 5, "%u %u %u %u", &a[0], &a[1], &a[2], &a[3]) != 4) return -EINVAL;
  if (sscanf(g + 5, "%u %u %u %u", &b[0], &b[1], &b[2], &b[3]) != 4) return -EINVAL;
  ids->uid = {a[0], a[1], a[2], a[3]};
  ids->gid = {b[0], b[1], b[2], b[3]};
  ids->groups.clear();
  const char* p = gr + 8;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p < '0' || *p > '9') break;
    char* end;
    ids->groups.push_back(static_cast<gid_t>(strtoul(p, &end, 10)));
    p = end;
  }
  std::sort(ids->groups.begin(), ids->groups.end());
  return ids->groups.size() <= kMaxCallerGroups ? 0 : -E2BIG;
}


// `text` holds the line that starts with `label` up to its newline.
static bool HasWholeLine(const std::string& text, const char* label) {
  const size_t at = text.find(label);
  return at != std::string::npos && text.find('\n', at + 1) != std::string::npos;
}

// The whole of a /proc/<tid>/status fd from offset 0 (pread: a seq_file renders it anew at 0),
// or -ESRCH (its task has ended) / -E2BIG (its CapEff line does not end within kMaxStatusBytes:
// more groups than tsyd acts with).
static int ReadStatus(int fd, std::string* text) {
  // One read of the most tsyd takes, into this thread's buffer: the kernel renders the whole file
  // at each read from a new offset, so reads in steps cost a rendering each (at 65536 groups,
  // ~3 ms apiece).
  static thread_local char buf[kMaxStatusBytes];
  ssize_t n;
  do n = pread(fd, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n <= 0) {
    text->clear();
    return -ESRCH;
  }
  text->assign(buf, static_cast<size_t>(n));
  // The last line read (CapEff, after Uid, Gid and Groups) must be whole within the bound.
  return HasWholeLine(*text, "\nCapEff:") ? 0 : -E2BIG;
}

// The credentials of program thread `tid`; -errno (ESRCH: gone). Opened by path once per
// caller thread, then read again on the kept fd (st->status_fds).
// SAFETY: a kept fd names the task, never the number: /proc/<tid> holds the struct pid it was
// looked up on, and a read once that task has ended fails (ESRCH), also when the number is
// another task's by then (a reused tid is a new struct pid; the old number is free only once no
// task holds the old one). Then the path is opened anew, as before the cache. The uids are shown
// in the user namespace of the opener (f_cred: tsyd's, opened at home), the same for every read.
static int ReadIds(ThreadState* st, pid_t tid, Ids* ids) {
  std::string text;
  ThreadState::CachedPidfd* slot = nullptr;
  for (auto& e : st->status_fds) {
    if (e.fd >= 0 && e.tid == tid) slot = &e;
  }
  if (slot) {
    const int r = ReadStatus(slot->fd, &text);
    // Too many groups: refused, the fd kept (the kernel keeps its grown buffer with it: a
    // rendering each, not one per buffer size tried on a new open).
    if (r == -E2BIG) return r;
    if (r == 0) return ParseStatus(text.c_str(), ids);
    close(slot->fd);
    *slot = ThreadState::CachedPidfd{};
    slot = nullptr;
  }
  char path[48];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? -ESRCH : -errno;
  const int r = ReadStatus(fd, &text);
  if (r < 0 && r != -E2BIG) {
    close(fd);
    return r;
  }
  slot = &st->status_fds[st->status_next++ % (sizeof st->status_fds / sizeof st->status_fds[0])];
  if (slot->fd >= 0) close(slot->fd);
  *slot = ThreadState::CachedPidfd{tid, fd};
  return r < 0 ? r : ParseStatus(text.c_str(), ids);
}

// Same ids as the kernel compares them (the saved ids of tsyd's thread stay tsyd's).
static bool SameIds(const Ids& a, const Ids& b) {
  return a.uid == b.uid && a.gid == b.gid && a.groups == b.groups && a.eff[0] == b.eff[0] && a.eff[1] == b.eff[1];
}

// The ids Become(to, home) leaves this thread with.
static Ids Wanted(const Ids& to, const Ids& home) {
  Ids want = to;
  want.uid[2] = home.uid[2];
  want.gid[2] = home.gid[2];
  want.eff[0] &= home.eff[0];
  want.eff[1] &= home.eff[1];
  std::sort(want.groups.begin(), want.groups.end());
  return want;
}

// Each credential change costs the kernel a new struct cred (~2-3 µs here): only the steps
// that change something are made, and CAP_SETUID|CAP_SETGID are raised in one capset.
bool Become(const Ids& to, const Ids& home, const Ids* known) {
  const Ids want = Wanted(to, home);
  // `known` only chooses the steps: the result is read back and compared below all the same,
  // so a stale one fails closed (a step refused, or the last check).
  Ids now;
  if (known != nullptr) now = *known;
  else if (!IdsOfThread(&now)) return false;
  if (SameIds(now, want)) return known == nullptr || (IdsOfThread(&now) && SameIds(now, want));
  const bool groups = now.groups != want.groups;
  const bool gids = now.gid != want.gid;
  const bool uids = now.uid != want.uid;
  if (groups || gids || uids) {
    // CAP_SETUID and CAP_SETGID from the permitted set (the effective one is the program's).
    const uint32_t need = (1u << CAP_SETUID) | (1u << CAP_SETGID);
    if ((now.eff[0] & need) != need) {
      // With the effective set wanted at the end raised too: on the way home (tsyd's set holds
      // both), the last capset below then has nothing left to do.
      const uint32_t raised[2] = {now.eff[0] | need | want.eff[0], now.eff[1] | want.eff[1]};
      const uint32_t all[2] = {~0u, ~0u};
      if (!SetEffectiveSet(raised, all)) return false;
    }
    if (groups && syscall(SYS_setgroups, want.groups.size(), want.groups.data()) != 0) return false;
    if (gids) {
      if (syscall(SYS_setresgid, want.gid[0], want.gid[1], want.gid[2]) != 0) return false;
      if (static_cast<gid_t>(syscall(SYS_setfsgid, -1)) != want.gid[3]) syscall(SYS_setfsgid, want.gid[3]);
    }
    if (uids) {
      if (syscall(SYS_setresuid, want.uid[0], want.uid[1], want.uid[2]) != 0) return false;
      if (static_cast<uid_t>(syscall(SYS_setfsuid, -1)) != want.uid[3]) syscall(SYS_setfsuid, want.uid[3]);
    }
  }
  // Last: the uid changes above cleared or refilled the effective set. The caller's effective
  // capabilities, never more than tsyd's thread has at rest (the program's at start).
  if (!SetEffectiveSet(want.eff, home.eff)) return false;
  return IdsOfThread(&now) && SameIds(now, want);
}

void ReturnHomeOrDie(const Ids& home, bool fault) {
  if (!fault && Become(home, home)) return;
  // SAFETY: never serve a later request with the program's credentials (or a mix).
  static const char msg[] = "{\"level\":\"alert\",\"ctx\":\"setid\",\"op\":\"restore_credentials\",\"msg\":\"a supervisor thread could not return to tsyd's credentials: tsyd stops\"}\n";
  ssize_t ignored = write(2, msg, sizeof msg - 1);
  (void)ignored;
  _exit(101);
}

void ReturnHome(ThreadState* st) {
  if (!st->acting_as) return;
  ActForOwnProc(0);
  // The ids the last followCaller verified this thread at.
  const Ids acting = Wanted(st->acting, st->home);
  if (st->fail_return || !Become(st->home, st->home, &acting)) ReturnHomeOrDie(st->home, st->fail_return);
  st->acting_as = false;
}

// followCaller(tid): this thread takes the credentials of program thread `tid` when they are
// not tsyd's: 1 (switched; endRequest returns), 0 (the same: nothing to do), or -errno (ESRCH:
// the thread is gone; EPERM: this thread cannot take them: the request must be refused).
static Napi::Value FollowCaller(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  ReturnHome(st);
  ActForOwnProc(0);
  if (!st->home_known) {
    if (!IdsOfThread(&st->home)) return Napi::Number::New(env, -EPERM);
    st->home_known = true;
  }
  Ids caller;
  int r = ReadIds(st, tid, &caller);
  if (r < 0) return Napi::Number::New(env, r);
  // SAFETY: never more capabilities than this thread has at rest (the program's at start).
  caller.eff[0] &= st->home.eff[0];
  caller.eff[1] &= st->home.eff[1];
  if (SameIds(caller, st->home)) {
    // tsyd agent: this thread's rest is the container's credentials less the policy's drops
    // (CAP_MKNOD, CAP_SYS_PTRACE, ...): a caller holding one of those is refused its own /proc
    // entries by the kernel (ptrace access: its capabilities are not within this thread's)
    // unless own-proc.cc keeps the same-process exemption for it, as for a caller acted as.
    if (t_view.fd >= 0) ActForOwnProc(tid);
    return Napi::Number::New(env, 0);
  }
  st->acting_as = true;
  st->acting = caller;
  // At home here (ReturnHome, or the first request: home read just now).
  if (!Become(caller, st->home, &st->home)) {
    // In between: home from the ids the thread holds (read again, not assumed), or tsyd stops.
    st->acting_as = false;
    ReturnHomeOrDie(st->home, st->fail_return);
    return Napi::Number::New(env, -EPERM);
  }
  ActForOwnProc(tid);
  return Napi::Number::New(env, 1);
}

// setFailCredentialReturn(on): test only (TSYD_FAULT=setid-return-fails): returning to tsyd's
// credentials after a request served as the caller counts as failed (tsyd exits 101).
static Napi::Value SetFailCredentialReturn(const Napi::CallbackInfo& info) {
  State(info.Env())->fail_return = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

void InitActAs(Napi::Env env, Napi::Object exports) {
  exports.Set("followCaller", Napi::Function::New(env, FollowCaller, "followCaller"));
  exports.Set("setFailCredentialReturn", Napi::Function::New(env, SetFailCredentialReturn, "setFailCredentialReturn"));
}

}  // namespace tsyd
