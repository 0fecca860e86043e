// Starting the sandboxed program: fork, confine, hand the listener to tsyd, execve.
#include "common.h"

#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tsyd {

// Removes one capability from every set of the calling process (ignoring failures).
static void DropCapability(int cap) {
  prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &hdr, data) == 0) {
    const int word = cap / 32;
    const uint32_t bit = 1u << (cap % 32);
    data[word].effective &= ~bit;
    data[word].permitted &= ~bit;
    data[word].inheritable &= ~bit;
    syscall(SYS_capset, &hdr, data);
  }
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
}

// What the child reports through the error pipe when it cannot exec.
enum ChildStage : int { kStageStdio = 1, kStageChdir, kStageNoNewPrivs, kStageSeccomp, kStageSendFd, kStageExec };
static constexpr unsigned kWaitKillableRecv = 1U << 5;  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV

struct ChildError {
  int stage;
  int err;
};

const char* SpawnStageSyscall(int stage) {
  switch (stage) {
    case kStageStdio: return "dup2";
    case kStageChdir: return "chdir";
    case kStageNoNewPrivs: return "prctl";
    case kStageSeccomp: return "seccomp";
    case kStageSendFd: return "pidfd_getfd";
    default: return "execve";
  }
}

struct ChildArgs {
  const char* file;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];
  sock_fprog prog;
  bool drop_net_admin;  // the net capabilities are on: CAP_NET_RAW and CAP_NET_ADMIN go too
  int sock;
  int errpipe;
  pid_t parent;
};

[[noreturn]] static void ChildFail(const ChildArgs& a, int stage, int err) {
  ChildError ce{stage, err};
  ssize_t w;
  do {
    w = write(a.errpipe, &ce, sizeof ce);
  } while (w < 0 && errno == EINTR);
  _exit(stage == kStageExec ? 127 : 125);
}

// Runs in the forked child: only async-signal-safe calls from here to execve.
[[noreturn]] static void ChildMain(const ChildArgs& a) {
  // The program starts as from a shell: default dispositions (Node ignores SIGPIPE).
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) {
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
  }
  // SAFETY: the program must not outlive tsyd: once the listener is closed every
  // intercepted call would fail with ENOSYS, and nobody would enforce the policy.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ChildFail(a, kStageNoNewPrivs, errno);
  if (getppid() != a.parent) _exit(125);

  // stdio: move the chosen fds out of the way first, so that overlapping choices work.
  int moved[3];
  for (int i = 0; i < 3; i++) {
    moved[i] = -1;
    if (a.stdio[i] >= 0 && a.stdio[i] != i) {
      moved[i] = fcntl(a.stdio[i], F_DUPFD_CLOEXEC, 10);
      if (moved[i] < 0) ChildFail(a, kStageStdio, errno);
    }
  }
  for (int i = 0; i < 3; i++) {
    if (moved[i] >= 0) {
      if (dup2(moved[i], i) < 0) ChildFail(a, kStageStdio, errno);
    } else {
      fcntl(i, F_SETFD, 0);  // inherited as it is, but never close-on-exec
    }
    int fl = fcntl(i, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(i, F_SETFL, fl & ~O_NONBLOCK);
  }
  if (a.cwd && chdir(a.cwd) < 0) ChildFail(a, kStageChdir, errno);

  // SAFETY: no fd of tsyd's (log fd, notify fds, pipes) may leak into the program.
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ChildFail(a, kStageNoNewPrivs, errno);
  // SAFETY: CAP_SYS_PTRACE would open tsyd's /proc/<pid>/mem despite tsyd being non-dumpable
  // (by an ordinary open, when no capability makes opens stop in the kernel): a privileged
  // program loses it for good — bounding set, then effective/permitted/inheritable, ambient.
  // An unprivileged one never had it (the calls fail harmlessly).
  DropCapability(CAP_SYS_PTRACE);
  // SAFETY: with net rules on, a raw socket (IP_HDRINCL: the header names any destination) or
  // netfilter (NAT of an allowed address to another) would route around every address rule.
  if (a.drop_net_admin) {
    DropCapability(CAP_NET_RAW);
    DropCapability(CAP_NET_ADMIN);
  }
  // WAIT_KILLABLE_RECV (Linux 5.19): once tsyd has received a request, only a fatal signal
  // interrupts the program's wait, so an emulated call is never half done and then restarted;
  // the interrupter decides when a pending signal should cut a blocking call short.
  int listener = static_cast<int>(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                          SECCOMP_FILTER_FLAG_NEW_LISTENER | kWaitKillableRecv, &a.prog));
  if (listener < 0 && errno == EINVAL)
    listener = static_cast<int>(
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &a.prog));
  if (listener < 0) ChildFail(a, kStageSeccomp, errno);

  // The listener's number goes to tsyd, which takes the fd itself with pidfd_getfd; the child
  // waits for its ack before exec closes the fd. SAFETY: no sendmsg here: the filter just loaded
  // may notify on sendmsg (net/connect), and no one could answer it before tsyd has the listener.
  // pidfd_getfd needs ptrace access to this child, which tsyd's non-dumpable state (inherited
  // through fork) refuses to an unprivileged tsyd. SAFETY: accepted risk: from here to execve
  // (which makes the program dumpable anyway) a process of the same uid could attach to this
  // copy of tsyd's memory; no secret is written after this point.
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  ssize_t sent;
  do {
    sent = write(a.sock, &listener, sizeof listener);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(sizeof listener)) ChildFail(a, kStageSendFd, sent < 0 ? errno : EPROTO);
  char ack;
  ssize_t got;
  do {
    got = read(a.sock, &ack, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) ChildFail(a, kStageSendFd, got < 0 ? errno : EPROTO);
  close(listener);

  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // (Dumpable since the handover: an unprivileged tsyd can also read this first execve's
  // arguments, which the exec capability decides.)
  execve(a.file, a.argv, a.envp);
  ChildFail(a, kStageExec, errno);
}

// Takes the child's listener (its number comes over `sock`) with pidfd_getfd, then lets the
// child go on. Our fd (O_CLOEXEC) or -1.
static int TakeListener(int sock, int pidfd) {
  int num = -1;
  ssize_t n;
  do {
    n = read(sock, &num, sizeof num);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof num) || pidfd < 0) return -1;
  int fd = static_cast<int>(syscall(SYS_pidfd_getfd, pidfd, num, 0));
  if (fd < 0) return -1;
  char ack = 'L';
  if (write(sock, &ack, 1) != 1) {
    close(fd);
    return -1;
  }
  return fd;
}

static std::vector<std::string> Strings(Napi::Array arr) {
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); i++) out.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  return out;
}

static std::vector<char*> Pointers(std::vector<std::string>& v) {
  std::vector<char*> p;
  for (auto& s : v) p.push_back(s.data());
  p.push_back(nullptr);
  return p;
}

// spawn({file, argv, env, cwd?, stdio: [fd|-1 x3], filter: Buffer})
//   → {pid, pidfd, notifyFd, statusFd}
// statusFd: read it to learn whether execve succeeded (EOF) or failed ({stage, errno}).
// Reading it is left to the caller (watchChild) because an intercepted execve must be
// answered by an emulator before the status is known.
static Napi::Value Spawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "spawn(options) expects an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  std::string file = o.Get("file").As<Napi::String>().Utf8Value();
  std::vector<std::string> argv = Strings(o.Get("argv").As<Napi::Array>());
  std::vector<std::string> envv = Strings(o.Get("env").As<Napi::Array>());
  std::string cwd;
  bool has_cwd = o.Has("cwd") && o.Get("cwd").IsString();
  if (has_cwd) cwd = o.Get("cwd").As<Napi::String>().Utf8Value();
  Napi::Array stdio = o.Get("stdio").As<Napi::Array>();
  Napi::Buffer<uint8_t> filter = o.Get("filter").As<Napi::Buffer<uint8_t>>();
  if (filter.Length() == 0 || filter.Length() % sizeof(sock_filter) != 0) {
    Napi::TypeError::New(env, "spawn: filter must be a BPF program").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<char*> argvp = Pointers(argv);
  std::vector<char*> envp = Pointers(envv);

  ChildArgs a;
  a.file = file.c_str();
  a.argv = argvp.data();
  a.envp = envp.data();
  a.cwd = has_cwd ? cwd.c_str() : nullptr;
  for (int i = 0; i < 3; i++) a.stdio[i] = stdio.Get(i).As<Napi::Number>().Int32Value();
  a.prog.len = static_cast<unsigned short>(filter.Length() / sizeof(sock_filter));
  a.prog.filter = reinterpret_cast<sock_filter*>(filter.Data());
  a.drop_net_admin = o.Has("dropNetAdmin") && o.Get("dropNetAdmin").ToBoolean().Value();
  a.parent = getpid();

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(env, "socketpair", errno);
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) {
    int e = errno;
    close(sv[0]);
    close(sv[1]);
    return ThrowErrno(env, "pipe2", e);
  }
  a.sock = sv[1];
  a.errpipe = ep[1];

  // Block every signal around fork so no Node handler runs in the child before it
  // has reset the dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) ChildMain(a);
  int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(sv[1]);
  close(ep[1]);
  if (pid < 0) {
    close(sv[0]);
    close(ep[0]);
    return ThrowErrno(env, "fork", fork_err);
  }
  // No one else reaps this child (libuv only waits for its own pids), so the pid
  // cannot be reused before pidfd_open.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  int pidfd_err = errno;
  int listener = TakeListener(sv[0], pidfd);
  close(sv[0]);
  if (listener < 0 || pidfd < 0) {
    // The child failed before it could hand over the listener: it has written why.
    ChildError ce{kStageSendFd, EPROTO};
    ssize_t n;
    do {
      n = read(ep[0], &ce, sizeof ce);
    } while (n < 0 && errno == EINTR);
    close(ep[0]);
    if (listener >= 0) close(listener);
    if (pidfd >= 0) close(pidfd);
    kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (pidfd < 0 && n != sizeof ce) return ThrowErrno(env, "pidfd_open", pidfd_err);
    return ThrowErrno(env, SpawnStageSyscall(ce.stage), ce.err);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, pid));
  r.Set("pidfd", Napi::Number::New(env, pidfd));
  r.Set("notifyFd", Napi::Number::New(env, listener));
  r.Set("statusFd", Napi::Number::New(env, ep[0]));
  return r;
}

// readSpawnStatus(statusFd) → null (exec succeeded) | {syscall, errno}. Blocks; closes the fd.
static Napi::Value ReadSpawnStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  ChildError ce{0, 0};
  ssize_t n;
  do {
    n = read(fd, &ce, sizeof ce);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n != sizeof ce) return env.Null();
  Napi::Object r = Napi::Object::New(env);
  r.Set("syscall", Napi::String::New(env, SpawnStageSyscall(ce.stage)));
  r.Set("errno", Napi::Number::New(env, ce.err));
  return r;
}

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("readSpawnStatus", Napi::Function::New(env, ReadSpawnStatus, "readSpawnStatus"));
}

}  // namespace tsyd
