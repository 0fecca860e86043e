// Processes, threads and fds: pidfds, the exit watcher, signals, unshare, small syscalls.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace tsyd {

static int Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// A child event delivered to JS: kind 0 = exec status (a = errno or 0, b = stage);
// kind 1 = the program ended (a = exit code or -1, b = signal or 0); 2 = it stopped (a =
// signal); 3 = it continued; 4 = the reaper ended (a = exit code or -1, b = signal or 0).
struct ChildEvent {
  int kind;
  int a;
  int b;
};

// What the reaper sends (addon/spawn.cc ReaperMsg).
struct ReaperReport {
  int32_t kind;
  int32_t a;
  int32_t b;
};

// watchChild(reaperPidfd, statusFd, controlFd, cb(kind, a, b, syscall)): a native thread reads
// the exec status, then the reaper's reports, then waits for the reaper's end. Events reach JS
// through a thread-safe function, so the main thread never blocks on the child.
static Napi::Value WatchChild(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int reaper_pidfd = Int(info, 0);
  int status_fd = Int(info, 1);
  int control_fd = Int(info, 2);
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[3].As<Napi::Function>(), "tsyd_wait", 0, 1);
  auto deliver = [](Napi::Env env, Napi::Function cb, ChildEvent* ev) {
    if (env != nullptr && cb != nullptr) {
      const char* syscall = ev->kind == 0 && ev->a ? SpawnStageSyscall(ev->b) : "";
      cb.Call({Napi::Number::New(env, ev->kind), Napi::Number::New(env, ev->a), Napi::Number::New(env, ev->b),
               Napi::String::New(env, syscall)});
    }
    delete ev;
  };
  std::thread([tsfn, reaper_pidfd, status_fd, control_fd, deliver]() mutable {
    int buf[2] = {0, 0};
    ssize_t n;
    do {
      n = read(status_fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    close(status_fd);
    tsfn.BlockingCall(new ChildEvent{0, n == sizeof buf ? buf[1] : 0, n == sizeof buf ? buf[0] : 0}, deliver);
    for (;;) {
      ReaperReport m;
      do {
        n = read(control_fd, &m, sizeof m);
      } while (n < 0 && errno == EINTR);
      if (n != static_cast<ssize_t>(sizeof m)) break;  // the reaper is gone
      // ReaperEvent: 3 ended, 4 stopped, 5 continued → kinds 1, 2, 3.
      if (m.kind >= 3 && m.kind <= 5) tsfn.BlockingCall(new ChildEvent{m.kind - 2, m.a, m.b}, deliver);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r;
    do {
      r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(reaper_pidfd), &si, WEXITED);
    } while (r < 0 && errno == EINTR);
    ChildEvent* ev = new ChildEvent{4, -1, 0};
    if (r == 0) {
      if (si.si_code == CLD_EXITED) ev->a = si.si_status;
      else ev->b = si.si_status;
    } else {
      ev->a = -errno;
    }
    tsfn.BlockingCall(ev, deliver);
    tsfn.Release();
  }).detach();
  return env.Undefined();
}


// terminalForeground(from, to) → 1 when the controlling terminal's foreground group was `from`
// and is now `to` (0 = this process's group), 0 when it was not `from` (or there is no
// terminal), -errno on failure. SIGTTOU is blocked in this thread around it: a background
// group may take the terminal back.
static Napi::Value TerminalForeground(const Napi::CallbackInfo& info) {
  pid_t from = Int(info, 0);
  pid_t to = Int(info, 1);
  if (from == 0) from = getpgrp();
  if (to == 0) to = getpgrp();
  int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Napi::Number::New(info.Env(), 0);
  int result = 0;
  if (tcgetpgrp(fd) == from) {
    sigset_t ttou, old;
    sigemptyset(&ttou);
    sigaddset(&ttou, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &ttou, &old);
    result = tcsetpgrp(fd, to) == 0 ? 1 : -errno;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  close(fd);
  return Napi::Number::New(info.Env(), result);
}

static Napi::Value PidfdSendSignal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (syscall(SYS_pidfd_send_signal, Int(info, 0), Int(info, 1), nullptr, 0) < 0) {
    return Napi::Number::New(env, -errno);
  }
  return Napi::Number::New(env, 0);
}

static Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, Int(info, 0), 0));
  if (fd < 0) return ThrowErrno(info.Env(), "pidfd_open", errno);
  return Napi::Number::New(info.Env(), fd);
}

// eventfd() → fd (non-blocking, close-on-exec). Used as the emulators' wake-up fd.
static Napi::Value Eventfd(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return ThrowErrno(info.Env(), "eventfd", errno);
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value EventfdWrite(const Napi::CallbackInfo& info) {
  uint64_t one = 1;
  ssize_t n = write(Int(info, 0), &one, sizeof one);
  return Napi::Number::New(info.Env(), n < 0 ? -errno : 0);
}

static Napi::Value Close(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), close(Int(info, 0)) < 0 ? -errno : 0);
}

static Napi::Value Gettid(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

static Napi::Value Tgkill(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_tgkill, Int(info, 0), Int(info, 1), Int(info, 2));
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

// unshare(flags): for the calling thread only when flags are CLONE_FS/CLONE_FILES.
static Napi::Value Unshare(const Napi::CallbackInfo& info) {
  if (unshare(Int(info, 0)) < 0) return ThrowErrno(info.Env(), "unshare", errno);
  return info.Env().Undefined();
}

static Napi::Value Umask(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), umask(static_cast<mode_t>(Int(info, 0))));
}

// setDumpable(bool): PR_SET_DUMPABLE. tsyd makes itself non-dumpable so that a program
// running as the same user cannot ptrace it or open its /proc/<pid>/mem.
static Napi::Value SetDumpable(const Napi::CallbackInfo& info) {
  if (prctl(PR_SET_DUMPABLE, info[0].ToBoolean().Value() ? 1 : 0, 0, 0, 0) < 0)
    return ThrowErrno(info.Env(), "prctl", errno);
  return info.Env().Undefined();
}

static Napi::Value CloseRange(const Napi::CallbackInfo& info) {
  unsigned first = info[0].As<Napi::Number>().Uint32Value();
  unsigned last = info[1].As<Napi::Number>().Uint32Value();
  unsigned flags = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  if (syscall(SYS_close_range, first, last, flags) < 0) return ThrowErrno(info.Env(), "close_range", errno);
  return info.Env().Undefined();
}

// pipe2() → [readFd, writeFd], close-on-exec.
static Napi::Value Pipe2(const Napi::CallbackInfo& info) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return ThrowErrno(info.Env(), "pipe2", errno);
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, Napi::Number::New(info.Env(), p[0]));
  a.Set(1u, Napi::Number::New(info.Env(), p[1]));
  return a;
}

static void OnSigalrm(int) {}

// installInterruptHandler(): a no-op SIGALRM handler without SA_RESTART, so a SIGALRM sent
// with tgkill to an emulator thread makes its blocking system call (a FIFO open, say) return
// EINTR. Process-wide; never register process.on('SIGALRM'), which would replace it.
static Napi::Value InstallInterruptHandler(const Napi::CallbackInfo& info) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSigalrm;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: that is the point
  if (sigaction(SIGALRM, &sa, nullptr) < 0) return ThrowErrno(info.Env(), "sigaction", errno);
  return info.Env().Undefined();
}

// exitNow(code): _exit(2) without running Node's shutdown, the last resort when a thread
// cannot be stopped (Node would wait for it forever). Logs are written synchronously, so
// nothing is lost.
static Napi::Value ExitNow(const Napi::CallbackInfo& info) {
  _exit(Int(info, 0));
}

// setThreadName(name): PR_SET_NAME for the calling thread (what ps -T and top -H show).
static Napi::Value SetThreadName(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  prctl(PR_SET_NAME, name.c_str(), 0, 0, 0);
  return info.Env().Undefined();
}

// threadSignalMask(how, signals[]): pthread_sigmask for the calling thread only.
// how: 0 block, 1 unblock. Threads created afterwards inherit the mask.
static Napi::Value ThreadSignalMask(const Napi::CallbackInfo& info) {
  int how = Int(info, 0) == 0 ? SIG_BLOCK : SIG_UNBLOCK;
  Napi::Array sigs = info[1].As<Napi::Array>();
  sigset_t set;
  sigemptyset(&set);
  for (uint32_t i = 0; i < sigs.Length(); i++) sigaddset(&set, sigs.Get(i).As<Napi::Number>().Int32Value());
  int r = pthread_sigmask(how, &set, nullptr);
  if (r != 0) return ThrowErrno(info.Env(), "pthread_sigmask", r);
  return info.Env().Undefined();
}

// loadThreadFilter(bpf): no_new_privs + seccomp(SET_MODE_FILTER) for the calling thread only
// (no TSYNC): the supervisor thread confines itself; threads it creates later inherit it.
static Napi::Value LoadThreadFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
  if (buf.ByteLength() == 0 || buf.ByteLength() % sizeof(sock_filter) != 0 ||
      buf.ByteLength() / sizeof(sock_filter) > 4096) {
    Napi::TypeError::New(env, "loadThreadFilter: not a BPF program").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(buf.ByteLength() / sizeof(sock_filter));
  prog.filter = reinterpret_cast<sock_filter*>(buf.Data());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return ThrowErrno(env, "prctl", errno);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return ThrowErrno(env, "seccomp", errno);
  // SAFETY: job threads this thread created before are not confined: they take no more jobs.
  RetireIdleJobThreads(State(env), false);
  return env.Undefined();
}

// waitReadable(fd, timeoutMs) → 1 readable (or hung up), 0 timeout, -errno.
static Napi::Value WaitReadable(const Napi::CallbackInfo& info) {
  pollfd p = {Int(info, 0), POLLIN, 0};
  int n = poll(&p, 1, Int(info, 1));
  return Napi::Number::New(info.Env(), n < 0 ? -errno : n);
}

// writeByte(fd, byte) → 0 or -errno.
static Napi::Value WriteByte(const Napi::CallbackInfo& info) {
  unsigned char b = static_cast<unsigned char>(Int(info, 1));
  ssize_t n;
  do {
    n = write(Int(info, 0), &b, 1);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n == 1 ? 0 : -errno);
}

// readByte(fd) → the byte, -1 at EOF, or -errno-1000.
static Napi::Value ReadByte(const Napi::CallbackInfo& info) {
  unsigned char b;
  ssize_t n;
  do {
    n = read(Int(info, 0), &b, 1);
  } while (n < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), n == 1 ? b : n == 0 ? -1 : -1000 - errno);
}

// probeExecve() → -errno of execve("", NULL, NULL): ENOENT when execve is allowed (nothing can
// run: the path is empty), EPERM when this thread's seccomp filter refuses it. For tests.
static Napi::Value ProbeExecve(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_execve, "", nullptr, nullptr);
  return Napi::Number::New(info.Env(), r < 0 ? -errno : 0);
}

void InitProcess(Napi::Env env, Napi::Object exports) {
  exports.Set("probeExecve", Napi::Function::New(env, ProbeExecve, "probeExecve"));
  exports.Set("writeByte", Napi::Function::New(env, WriteByte, "writeByte"));
  exports.Set("readByte", Napi::Function::New(env, ReadByte, "readByte"));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable, "waitReadable"));
  exports.Set("setThreadName", Napi::Function::New(env, SetThreadName, "setThreadName"));
  exports.Set("threadSignalMask", Napi::Function::New(env, ThreadSignalMask, "threadSignalMask"));
  exports.Set("loadThreadFilter", Napi::Function::New(env, LoadThreadFilter, "loadThreadFilter"));
  exports.Set("installInterruptHandler", Napi::Function::New(env, InstallInterruptHandler, "installInterruptHandler"));
  exports.Set("exitNow", Napi::Function::New(env, ExitNow, "exitNow"));
  exports.Set("watchChild", Napi::Function::New(env, WatchChild, "watchChild"));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal, "pidfdSendSignal"));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen, "pidfdOpen"));
  exports.Set("terminalForeground", Napi::Function::New(env, TerminalForeground, "terminalForeground"));
  exports.Set("eventfd", Napi::Function::New(env, Eventfd, "eventfd"));
  exports.Set("eventfdWrite", Napi::Function::New(env, EventfdWrite, "eventfdWrite"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("gettid", Napi::Function::New(env, Gettid, "gettid"));
  exports.Set("tgkill", Napi::Function::New(env, Tgkill, "tgkill"));
  exports.Set("unshare", Napi::Function::New(env, Unshare, "unshare"));
  exports.Set("umask", Napi::Function::New(env, Umask, "umask"));
  exports.Set("setDumpable", Napi::Function::New(env, SetDumpable, "setDumpable"));
  exports.Set("closeRange", Napi::Function::New(env, CloseRange, "closeRange"));
  exports.Set("pipe2", Napi::Function::New(env, Pipe2, "pipe2"));
}

}  // namespace tsyd
