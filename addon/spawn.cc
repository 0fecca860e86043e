// Starting the sandboxed program: fork, confine, hand the listener to tsyd, execve.
#include "common.h"

#include <linux/capability.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

// When the program's group gets the controlling terminal (if tsyd's group has it).
enum ForegroundMode : int { kForegroundNever = 0, kForegroundAlways = 1, kForegroundIfStdin = 2 };

struct ChildArgs {
  const char* file;
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int stdio[3];
  sock_fprog prog;
  uint64_t drop_caps;   // capabilities the program loses for good (bit N: capability N)
  int sock;
  int errpipe;
  pid_t parent;     // the reaper: the program dies with it
  pid_t tsyd;       // tsyd: the reaper dies with it
  pid_t tsyd_group; // tsyd's process group (the reaper leaves it for one of its own)
  int foreground;   // ForegroundMode: hand the controlling terminal to the program's group
  uint32_t reaper_placeholder;  // the filter's stand-in for the reaper's pid
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
[[noreturn]] static void ChildMain(ChildArgs& a) {
  // The program starts as from a shell: default dispositions (Node ignores SIGPIPE).
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) {
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
  }
  // SAFETY: the program must not outlive its reaper (which dies with tsyd): once the listener
  // is closed every decided call fails with ENOSYS, and nobody would enforce the policy.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) ChildFail(a, kStageNoNewPrivs, errno);
  if (getppid() != a.parent) _exit(125);
  // SAFETY: no core dumps: the kernel writes the program's memory into a `core` file in its cwd
  // (or where core_pattern says) without asking the policy. Raising the limit again is decided.
  struct rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

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

  // SAFETY: a process group of its own: kill(0, sig) of the program and its children never
  // reaches tsyd's group (joining it again is refused by the filter's setpgid decision).
  // A terminal whose foreground is tsyd's group is handed to the program's group (always, or only
  // when the program's stdin is that terminal), so that Ctrl-C and job control reach the program
  // once (tsyd's reaper reports its stops).
  int tty = a.foreground != kForegroundNever ? open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
  bool hand_over = tty >= 0 && tcgetpgrp(tty) == a.tsyd_group;
  if (hand_over && a.foreground == kForegroundIfStdin) {
    struct stat in, term;
    hand_over = fstat(0, &in) == 0 && fstat(tty, &term) == 0 && S_ISCHR(in.st_mode) && in.st_rdev == term.st_rdev;
  }
  if (setpgid(0, 0) < 0) ChildFail(a, kStageNoNewPrivs, errno);
  // SIGTTOU is blocked (every signal is, until execve): a background group may take the terminal.
  if (hand_over) tcsetpgrp(tty, getpid());
  if (tty >= 0) close(tty);
  // SAFETY: no fd of tsyd's (log fd, notify fds, pipes) may leak into the program.
  syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);

  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ChildFail(a, kStageNoNewPrivs, errno);
  // SAFETY: a privileged program loses the capabilities that reach around the policy
  // (src/actors/capabilities.ts says why each) for good — bounding set, then
  // effective/permitted/inheritable, ambient. An unprivileged one never had them.
  for (int cap = 0; cap < 64; cap++)
    if (a.drop_caps & (1ULL << cap)) DropCapability(cap);
  // The filter names the reaper (signals to it are refused) by a placeholder: our parent now.
  for (unsigned short i = 0; i < a.prog.len; i++) {
    if (BPF_CLASS(a.prog.filter[i].code) == BPF_JMP && a.prog.filter[i].k == a.reaper_placeholder)
      a.prog.filter[i].k = static_cast<uint32_t>(getppid());
  }
  // WAIT_KILLABLE_RECV (Linux 5.19): once tsyd has received a request, only a fatal signal
  // interrupts the program's wait, so an emulated call is never half done and then restarted;
  // another signal wakes the wait once and leaves it killable (D), which the interrupter sees: it
  // cuts a blocking call short and answers -ERESTARTSYS (interrupter.cc).
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


// What the reaper tells tsyd over its control socket (SOCK_SEQPACKET, one message each).
enum ReaperEvent : int32_t { kReaperStarted = 1, kReaperForkFailed, kProgramEnded, kProgramStopped, kProgramContinued };
struct ReaperMsg {
  int32_t kind;
  int32_t a;
  int32_t b;
};
static constexpr char kReaperRelease = 'x';  // tsyd → reaper: the leftovers are gone, exit

static void SendMsg(int fd, int32_t kind, int32_t a, int32_t b) {
  ReaperMsg m{kind, a, b};
  ssize_t w;
  do {
    w = write(fd, &m, sizeof m);
  } while (w < 0 && errno == EINTR);
}

// SIGKILLs every child of the calling (single-threaded) process listed in
// /proc/self/task/<tid>/children. Async-signal-safe: raw syscalls and a stack buffer.
static void KillChildren() {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/children", static_cast<int>(getpid()));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  ssize_t n;
  pid_t pid = 0;
  bool in = false;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
        in = true;
      } else if (in) {
        kill(pid, SIGKILL);
        pid = 0;
        in = false;
      }
    }
  }
  if (in) kill(pid, SIGKILL);
  close(fd);
}

// The reaper: the program's parent, a child subreaper (every process the program leaves
// behind becomes its child, never init's), and the one that reports the program's end, stops
// and continues to tsyd. It runs in the fork of tsyd, so only async-signal-safe calls.
// SAFETY: it outlives tsyd only to kill what is left: once released (tsyd found the program
// ended, leftovers.ts killed what it could list) or once tsyd is gone (its control socket
// closed), it kills every child it has until it has none, then exits. The program dies with it
// (PDEATHSIG) should it be killed from outside.
[[noreturn]] static void ReaperMain(ChildArgs& a, int ctl) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) {
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
  }
  // Every signal stays blocked (as tsyd blocked them around fork): SIGCHLD is read from a
  // signalfd, and nothing else is for this process.
  // SAFETY: no PDEATHSIG: when tsyd ends (even by SIGKILL) its end of the control socket closes
  // and the reaper kills the whole tree before it goes; dying with tsyd would hand the
  // program's processes to init instead.
  if (getppid() != a.tsyd) _exit(125);
  // SAFETY: a process group of its own: a signal to tsyd's group (a shell's `kill -9 %1`,
  // `timeout -k`, a CI runner's killpg) must not end tsyd and the reaper together, or the
  // program's processes would go to init with nobody left to kill them. (The program may not
  // signal or join this group either: processes.ts guards it as tsyd's.)
  if (setpgid(0, 0) < 0) _exit(125);
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  prctl(PR_SET_NAME, "tsyd_reaper", 0, 0, 0);
  a.parent = getpid();
  pid_t program = fork();
  if (program == 0) ChildMain(a);
  if (program < 0) {
    SendMsg(ctl, kReaperForkFailed, errno, 0);
    _exit(125);
  }
  SendMsg(ctl, kReaperStarted, program, 0);
  // Not one fd of tsyd's is kept: only the control socket (moved to 3).
  if (dup3(ctl, 3, O_CLOEXEC) < 0) _exit(125);
  syscall(SYS_close_range, 0, 2, 0);
  syscall(SYS_close_range, 4, ~0U, 0);
  ctl = 3;
  // tsyd holds the program's pidfd before the program can be reaped (its pid is not reused).
  char ack = 0;
  ssize_t got;
  do {
    got = read(ctl, &ack, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) {
    kill(program, SIGKILL);
    _exit(125);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  bool release = false;
  for (;;) {
    for (;;) {
      int status;
      pid_t w = waitpid(-1, &status, WNOHANG | WUNTRACED | WCONTINUED | __WALL);
      if (w <= 0) {
        if (w < 0 && errno == ECHILD && release) _exit(0);
        break;
      }
      if (w != program) continue;  // an orphan of the program: reaped
      if (WIFSTOPPED(status)) SendMsg(ctl, kProgramStopped, WSTOPSIG(status), 0);
      else if (WIFCONTINUED(status)) SendMsg(ctl, kProgramContinued, 0, 0);
      else if (WIFEXITED(status)) SendMsg(ctl, kProgramEnded, WEXITSTATUS(status), 0);
      else if (WIFSIGNALED(status)) SendMsg(ctl, kProgramEnded, -1, WTERMSIG(status));
    }
    // Released, or tsyd is gone: every child is killed, again at each wake (SIGCHLD or 10 ms),
    // until none is left. SAFETY: the reaper is the subreaper: whatever is left of the program
    // (a chain that changes pid faster than tsyd can list /proc) comes to it as its child.
    if (release) KillChildren();
    pollfd p[2];
    int np = 0;
    if (ctl >= 0) p[np++] = {ctl, POLLIN, 0};
    if (sfd >= 0) p[np++] = {sfd, POLLIN, 0};
    int n = poll(p, np, release || sfd < 0 ? 10 : -1);
    if (n < 0 && errno != EINTR) _exit(125);
    for (int i = 0; i < np && n > 0; i++) {
      if (p[i].fd == sfd && (p[i].revents & POLLIN)) {
        signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        }
      } else if (p[i].fd == ctl && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
        char c = 0;
        ssize_t r = read(ctl, &c, 1);
        // A release, or tsyd closed its end (it ended): no one else would kill what is left.
        if (r <= 0 || c == kReaperRelease) release = true;
        if (r <= 0) {
          close(ctl);
          ctl = -1;
        }
      }
    }
  }
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

static void CloseAll(std::initializer_list<int> fds) {
  for (int fd : fds)
    if (fd >= 0) close(fd);
}

static bool ReadMsg(int fd, ReaperMsg* m) {
  ssize_t n;
  do {
    n = read(fd, m, sizeof *m);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof *m);
}

// spawn({file, argv, env, cwd?, stdio: [fd|-1 x3], filter: Buffer, dropNetAdmin?, foreground?,
//        reaperPlaceholder?})
//   → {pid, pidfd, reaperPid, reaperPidfd, controlFd, notifyFd, statusFd}
// tsyd forks the reaper, which forks the program. statusFd: read it to learn whether execve
// succeeded (EOF) or failed ({stage, errno}); controlFd: the reaper's reports (watchChild).
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
  a.drop_caps = 0;
  if (o.Has("dropCapabilities") && o.Get("dropCapabilities").IsArray()) {
    Napi::Array caps = o.Get("dropCapabilities").As<Napi::Array>();
    for (uint32_t i = 0; i < caps.Length(); i++) {
      int cap = caps.Get(i).As<Napi::Number>().Int32Value();
      if (cap >= 0 && cap < 64) a.drop_caps |= 1ULL << cap;
    }
  }
  a.foreground = o.Has("foreground") ? o.Get("foreground").As<Napi::Number>().Int32Value() : kForegroundNever;
  a.reaper_placeholder = o.Has("reaperPlaceholder") ? o.Get("reaperPlaceholder").As<Napi::Number>().Uint32Value() : 0;
  a.tsyd = getpid();
  a.tsyd_group = getpgrp();
  a.parent = -1;

  int sv[2], ep[2], ctl[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return ThrowErrno(env, "socketpair", errno);
  if (pipe2(ep, O_CLOEXEC) < 0) {
    int e = errno;
    CloseAll({sv[0], sv[1]});
    return ThrowErrno(env, "pipe2", e);
  }
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
    int e = errno;
    CloseAll({sv[0], sv[1], ep[0], ep[1]});
    return ThrowErrno(env, "socketpair", e);
  }
  a.sock = sv[1];
  a.errpipe = ep[1];

  // Block every signal around fork so no Node handler runs in the children before they have
  // reset the dispositions.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t reaper = fork();
  if (reaper == 0) {
    close(ctl[0]);
    ReaperMain(a, ctl[1]);
  }
  int fork_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  CloseAll({sv[1], ep[1], ctl[1]});
  if (reaper < 0) {
    CloseAll({sv[0], ep[0], ctl[0]});
    return ThrowErrno(env, "fork", fork_err);
  }
  // The reaper is our child and only we reap it: its pid cannot be reused before pidfd_open.
  int reaper_pidfd = static_cast<int>(syscall(SYS_pidfd_open, reaper, 0));
  int pidfd_err = errno;
  ReaperMsg started{0, 0, 0};
  const bool have_started = ReadMsg(ctl[0], &started) && started.kind == kReaperStarted;
  const pid_t pid = have_started ? started.a : -1;
  // The reaper does not reap the program before our ack: its pid names it until then.
  int pidfd = pid > 0 ? static_cast<int>(syscall(SYS_pidfd_open, pid, 0)) : -1;
  if (pidfd < 0) pidfd_err = errno;
  int listener = pidfd >= 0 ? TakeListener(sv[0], pidfd) : -1;
  close(sv[0]);
  char ack = 'P';
  const bool acked = listener >= 0 && reaper_pidfd >= 0 && write(ctl[0], &ack, 1) == 1;
  if (!acked) {
    // The program failed before it could hand over the listener: it has written why.
    ChildError ce{kStageSendFd, EPROTO};
    ssize_t n = -1;
    if (have_started) {
      do {
        n = read(ep[0], &ce, sizeof ce);
      } while (n < 0 && errno == EINTR);
    } else if (started.kind == kReaperForkFailed) {
      ce = ChildError{kStageSendFd, started.a};
      n = sizeof ce;
    }
    CloseAll({ep[0], listener, pidfd, ctl[0], reaper_pidfd});
    // The reaper dies, and the program with it (PDEATHSIG); the program's zombie goes to init.
    kill(reaper, SIGKILL);
    int st;
    while (waitpid(reaper, &st, 0) < 0 && errno == EINTR) {
    }
    if (n != sizeof ce) return ThrowErrno(env, "pidfd_open", pidfd < 0 ? pidfd_err : EPROTO);
    return ThrowErrno(env, SpawnStageSyscall(ce.stage), ce.err);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("pid", Napi::Number::New(env, pid));
  r.Set("pidfd", Napi::Number::New(env, pidfd));
  r.Set("reaperPid", Napi::Number::New(env, reaper));
  r.Set("reaperPidfd", Napi::Number::New(env, reaper_pidfd));
  r.Set("controlFd", Napi::Number::New(env, ctl[0]));
  r.Set("notifyFd", Napi::Number::New(env, listener));
  r.Set("statusFd", Napi::Number::New(env, ep[0]));
  return r;
}

// releaseReaper(controlFd): the program's leftovers are gone, the reaper may exit.
static Napi::Value ReleaseReaper(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  char c = kReaperRelease;
  ssize_t w;
  do {
    w = write(fd, &c, 1);
  } while (w < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), w == 1 ? 0 : -errno);
}

void InitSpawn(Napi::Env env, Napi::Object exports) {
  exports.Set("spawn", Napi::Function::New(env, Spawn, "spawn"));
  exports.Set("releaseReaper", Napi::Function::New(env, ReleaseReaper, "releaseReaper"));
}

}  // namespace tsyd
