// Controls tsyd performs for the program on its copy of one of the program's fds (takeFd) or
// on a process, with arguments tsyd read and checked: pidfd signals, SIGIO owners, inode
// flags, the core-dump limit. Each answers the current request itself.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

namespace tsyd {

static int Arg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// takenFdPid() → the pid that tsyd's copy of the program's fd (takeFd) signals: a pidfd's
// process ("Pid:" of its fdinfo; -1 once it ended), a /proc/<pid> directory's pid, or -EBADF
// for any other file.
static Napi::Value TakenFdPid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "takenFdPid");
  if (!st) return env.Undefined();
  if (st->taken_fd < 0) return Napi::Number::New(env, -EBADF);
  char p[64], link[PATH_MAX];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", st->taken_fd);
  ssize_t n = readlink(p, link, sizeof link - 1);
  if (n < 0) return Napi::Number::New(env, -errno);
  link[n] = 0;
  if (strcmp(link, "anon_inode:[pidfd]") == 0 || strncmp(link, "pidfd:", 6) == 0) {
    snprintf(p, sizeof p, "/proc/thread-self/fdinfo/%d", st->taken_fd);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Napi::Number::New(env, -errno);
    char buf[1024];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return Napi::Number::New(env, -EBADF);
    buf[r] = 0;
    const char* pid = strstr(buf, "\nPid:");
    return Napi::Number::New(env, pid ? static_cast<double>(strtol(pid + 5, nullptr, 10)) : -EBADF);
  }
  // A /proc/<pid> directory (of the /proc tsyd sees) is a pidfd for pidfd_send_signal too.
  if (strncmp(link, "/proc/", 6) == 0) {
    char* end = nullptr;
    long pid = strtol(link + 6, &end, 10);
    if (end != link + 6 && *end == 0) return Napi::Number::New(env, static_cast<double>(pid));
  }
  return Napi::Number::New(env, -EBADF);
}

// pidfdSignalTaken(sig, infoArg, flags) → result: pidfd_send_signal on tsyd's copy, with the
// siginfo the program passed (read once, if any).
static Napi::Value PidfdSignalTaken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "pidfdSignalTaken");
  if (!st) return env.Undefined();
  int sig = Arg(info, 0);
  int info_arg = Arg(info, 1);
  unsigned flags = info[2].As<Napi::Number>().Uint32Value();
  if (st->taken_fd < 0 || info_arg < 0 || info_arg > 5) return Napi::Number::New(env, -EINVAL);
  siginfo_t si;
  siginfo_t* sip = nullptr;
  uint64_t addr = st->req->data.args[info_arg];
  if (addr != 0) {
    int r = ReadRemote(static_cast<pid_t>(st->req->pid), addr, &si, sizeof si);
    if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
    if (r < 0) return AnswerResult(env, st, r);
    sip = &si;
  }
  long r = syscall(SYS_pidfd_send_signal, st->taken_fd, sig, sip, flags);
  return AnswerResult(env, st, r < 0 ? -errno : r);
}

// fcntlOwnerTaken(type, pid) → result: F_SETOWN_EX on tsyd's copy with the owner tsyd checked.
static Napi::Value FcntlOwnerTaken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "fcntlOwnerTaken");
  if (!st) return env.Undefined();
  if (st->taken_fd < 0) return Napi::Number::New(env, -EINVAL);
  f_owner_ex owner{static_cast<__pid_type>(Arg(info, 0)), Arg(info, 1)};
  long r = fcntl(st->taken_fd, F_SETOWN_EX, &owner);
  return AnswerResult(env, st, r < 0 ? -errno : r);
}

// ioctlTaken(request, data: Buffer) → result: the ioctl on tsyd's copy, with tsyd's copy of
// the argument the program passed (read and checked once).
static Napi::Value IoctlTaken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "ioctlTaken");
  if (!st) return env.Undefined();
  if (st->taken_fd < 0 || !info[1].IsBuffer()) return Napi::Number::New(env, -EINVAL);
  unsigned long request = info[0].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> data = info[1].As<Napi::Buffer<uint8_t>>();
  std::string copy(reinterpret_cast<const char*>(data.Data()), data.Length());
  long r = ioctl(st->taken_fd, request, copy.data());
  return AnswerResult(env, st, r < 0 ? -errno : r);
}

// noCoreLimit(pid, oldArg) → result: sets RLIMIT_CORE of `pid` to 0/0 (the only value a
// program under tsyd may set), writing the previous limit to the program's oldArg pointer.
static Napi::Value NoCoreLimit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "noCoreLimit");
  if (!st) return env.Undefined();
  pid_t pid = Arg(info, 0);
  int old_arg = Arg(info, 1);
  if (old_arg > 5) return Napi::Number::New(env, -EINVAL);
  struct rlimit zero = {0, 0}, old;
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  if (syscall(SYS_prlimit64, pid, RLIMIT_CORE, &zero, &old) < 0) return AnswerResult(env, st, -errno);
  if (old_arg >= 0 && st->req->data.args[old_arg] != 0) {
    if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
    int w = WriteRemote(static_cast<pid_t>(st->req->pid), st->req->data.args[old_arg], &old, sizeof old);
    if (w == -ESRCH) return Napi::Number::New(env, -ESRCH);
    if (w < 0) return AnswerResult(env, st, w);
  }
  return AnswerResult(env, st, 0);
}

void InitControl(Napi::Env env, Napi::Object exports) {
  exports.Set("takenFdPid", Napi::Function::New(env, TakenFdPid, "takenFdPid"));
  exports.Set("pidfdSignalTaken", Napi::Function::New(env, PidfdSignalTaken, "pidfdSignalTaken"));
  exports.Set("fcntlOwnerTaken", Napi::Function::New(env, FcntlOwnerTaken, "fcntlOwnerTaken"));
  exports.Set("ioctlTaken", Napi::Function::New(env, IoctlTaken, "ioctlTaken"));
  exports.Set("noCoreLimit", Napi::Function::New(env, NoCoreLimit, "noCoreLimit"));
}

}  // namespace tsyd
