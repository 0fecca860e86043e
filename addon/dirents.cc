// getdents64 for the stat capability: tsyd reads the program's directory stream itself (on a
// copy of its fd: the file offset is shared) so that entries hidden by stat can be left out.
#include "common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <string>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsyd {

static constexpr size_t kMaxDirentsRead = 64 * 1024;

void DropCaches(ThreadState* st) {
  auto drop = [](ThreadState::CachedPidfd& e) {
    if (e.fd >= 0) close(e.fd);
    e = ThreadState::CachedPidfd{};
  };
  for (auto& e : st->pidfds) drop(e);
  for (auto& e : st->status_fds) drop(e);
  if (st->self_fd_dir >= 0) close(st->self_fd_dir);
  st->self_fd_dir = -1;
}

// A pidfd of thread `tid`, or -errno. *owned: the caller closes it (not cached). fresh: the
// cached one named a task that has ended: open a new one.
static int PidfdOf(ThreadState* st, pid_t tid, bool fresh, bool* owned) {
  *owned = false;
  ThreadState::CachedPidfd* slot = nullptr;
  for (auto& e : st->pidfds) {
    if (e.fd >= 0 && e.tid == tid) slot = &e;
  }
  if (slot && !fresh) return slot->fd;
  // The calling thread's own fd table (a thread may have its own): PIDFD_THREAD (O_EXCL,
  // Linux 6.9), else the thread group's.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, tid, O_EXCL));
  if (pidfd < 0 && errno == EINVAL) {
    pid_t tgid = TgidOf(tid);
    if (tgid < 0) return tgid;
    pidfd = static_cast<int>(syscall(SYS_pidfd_open, tgid, 0));
    // SAFETY: never cached: it names the thread group, which outlives the thread — a reused
    // tid of another process would find this group's fds.
    *owned = pidfd >= 0;
    return pidfd < 0 ? -errno : pidfd;
  }
  if (pidfd < 0) return -errno;
  if (!slot) slot = &st->pidfds[st->pidfd_next++ % (sizeof st->pidfds / sizeof st->pidfds[0])];
  if (slot->fd >= 0) close(slot->fd);
  slot->tid = tid;
  slot->fd = pidfd;
  return pidfd;
}

int TakeFd(ThreadState* st, int fd) {
  const pid_t tid = static_cast<pid_t>(st->req->pid);
  int copy = -1, e = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool owned;
    int pidfd = PidfdOf(st, tid, attempt > 0, &owned);
    if (pidfd < 0) return pidfd;
    long got = AsCaller([&]() -> long {
      long c = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
      return c < 0 ? -errno : c;
    });
    copy = got < 0 ? -1 : static_cast<int>(got);
    e = got < 0 ? static_cast<int>(-got) : 0;
    if (owned) close(pidfd);
    // ESRCH: a cached thread pidfd of a thread that has ended (the tid is another thread's now).
    if (copy >= 0 || e != ESRCH || owned) break;
  }
  // SAFETY: the tid may have been reused if the caller died: keep the copy only while the
  // request is valid (then the tid still names the caller, and the thread pidfd — which names
  // one task for ever — was opened for it, or for a task that has ended and gives nothing).
  if (!NotifIdValid(st->notify_fd, st->req->id)) {
    if (copy >= 0) close(copy);
    return -ESRCH;
  }
  return copy < 0 ? -(e == EBADF ? EBADF : e) : copy;
}

long FdTarget(ThreadState* st, int fd, char* out, size_t size) {
  if (st->self_fd_dir < 0) {
    st->self_fd_dir = open("/proc/thread-self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (st->self_fd_dir < 0) return -errno;
  }
  char name[16];
  snprintf(name, sizeof name, "%d", fd);
  ssize_t n = readlinkat(st->self_fd_dir, name, out, size);
  if (n < 0) return -errno;
  return n >= static_cast<ssize_t>(size) ? -ENAMETOOLONG : n;
}

// The caller's cwd, O_PATH (for AT_FDCWD with an empty path), or -errno (-ESRCH: caller gone).
static int TakeCwd(ThreadState* st) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/cwd", static_cast<int>(st->req->pid));
  long r = AsCaller([&]() -> long {
    int f = open(p, O_PATH | O_CLOEXEC);
    return f < 0 ? -errno : f;
  });
  int fd = r < 0 ? -1 : static_cast<int>(r);
  int e = r < 0 ? static_cast<int>(-r) : 0;
  // SAFETY: the tid names the caller only while its request is valid.
  if (!NotifIdValid(st->notify_fd, st->req->id)) {
    if (fd >= 0) close(fd);
    return -ESRCH;
  }
  return fd < 0 ? -(e == ENOENT ? ESRCH : e) : fd;
}

Napi::Value TakeIntoPath(Napi::Env env, ThreadState* st, int fd) {
  st->slots[kPathTaken] = 0;
  if (st->taken_fd >= 0) close(st->taken_fd);
  st->taken_fd = fd == AT_FDCWD ? TakeCwd(st) : fd < 0 ? -EBADF : TakeFd(st, fd);
  if (st->taken_fd < 0) {
    int e = st->taken_fd;
    st->taken_fd = -1;
    return Napi::Number::New(env, e);
  }
  char link[PATH_MAX];
  long n = FdTarget(st, st->taken_fd, link, sizeof link);
  std::string out;
  bool dead = false;
  if (n >= 0) out.assign(link, static_cast<size_t>(n));
  // Too long for the kernel to name, or ending in " (deleted)": named the long way (NameOfFd).
  if (n == -ENAMETOOLONG || (n >= 0 && IsDeletedTarget(out))) n = NameOfFd(st->taken_fd, &st->dir_names, &out, &dead);
  if (n == -ENOTDIR) {
    // A file deeper than the kernel can name has no way up ("..") to rebuild its path from.
    // SAFETY: decided as the program's own open file (/proc/<tgid>/fd/N), as an object without a
    // path is; it was reached through a decided path when it was opened.
    out.clear();
    n = 0;
  }
  if (n < 0) return Napi::Number::New(env, n);
  if (dead) out.append(" (deleted)");  // as the kernel shows it: what a magic path must still lead to
  const bool magic = dead || out.empty() || out[0] != '/';
  const std::string decide_as = DeletedFilePath(out);
  st->magic_target = magic ? out : std::string();
  if (magic) {
    pid_t g = TgidOf(static_cast<pid_t>(st->req->pid));
    if (g < 0) return Napi::Number::New(env, g);
    out = fd == AT_FDCWD ? "/proc/" + std::to_string(g) + "/cwd" : PathlessName(g, fd);
  }
  Napi::Value len = SetCheckedPath(env, st, out, magic, decide_as);
  st->slots[kPathTaken] = 1;
  return len;
}

// takeFd(fdArg) → length of the path of tsyd's copy of the program's fd, written into the
// path buffer (an object without a path: /proc/<tgid>/fd/N, kPathMagic = 1), or -errno.
// SAFETY: the decision is made on the copy tsyd holds and the op acts on that copy: a dup2
// onto the fd number after the check changes nothing.
static Napi::Value TakeFdJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "takeFd");
  if (!st) return env.Undefined();
  int fd_arg = info[0].As<Napi::Number>().Int32Value();
  if (fd_arg < 0 || fd_arg > 5) return Napi::Number::New(env, -EINVAL);
  int fd = static_cast<int>(static_cast<int32_t>(st->req->data.args[fd_arg]));
  if (fd < 0) return Napi::Number::New(env, -EBADF);
  return TakeIntoPath(env, st, fd);
}

// readDirectory(fdArg, countArg) → Buffer of linux_dirent64 records (empty at the end of the
// directory), or -errno (-ESRCH: the caller is gone).
static Napi::Value ReadDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readDirectory");
  if (!st) return env.Undefined();
  int fd_arg = info[0].As<Napi::Number>().Int32Value();
  int count_arg = info[1].As<Napi::Number>().Int32Value();
  if (fd_arg < 0 || fd_arg > 5 || count_arg < 0 || count_arg > 5) return Napi::Number::New(env, -EINVAL);
  int fd = static_cast<int>(static_cast<int32_t>(st->req->data.args[fd_arg]));
  uint64_t count = static_cast<uint32_t>(st->req->data.args[count_arg]);
  if (fd < 0) return Napi::Number::New(env, -EBADF);
  // The copy the decision was made on (takeFd), else a fresh one.
  const bool own = st->taken_fd < 0;
  int copy = own ? TakeFd(st, fd) : st->taken_fd;
  if (copy < 0) return Napi::Number::New(env, copy);
  size_t size = count < kMaxDirentsRead ? static_cast<size_t>(count) : kMaxDirentsRead;
  Napi::Buffer<char> buf = Napi::Buffer<char>::New(env, size > 0 ? size : 1);
  long n = syscall(SYS_getdents64, copy, buf.Data(), size);
  int e = errno;
  if (own) close(copy);
  if (n < 0) return Napi::Number::New(env, -e);
  return Napi::Buffer<char>::Copy(env, buf.Data(), static_cast<size_t>(n));
}

// answerBytes(bufArg, data) writes data into the program at argument bufArg and answers with
// its length. Returns the length, or -errno after answering the error (-ESRCH: caller gone).
static Napi::Value AnswerBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "answerBytes");
  if (!st) return env.Undefined();
  int buf_arg = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  if (buf_arg < 0 || buf_arg > 5) return Napi::Number::New(env, -EINVAL);
  // SAFETY: the tid names the caller only while its request is valid: check right before.
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  int w = WriteRemote(static_cast<pid_t>(st->req->pid), st->req->data.args[buf_arg], data.Data(), data.Length());
  if (w == -ESRCH) return Napi::Number::New(env, -ESRCH);
  long r = w < 0 ? w : static_cast<long>(data.Length());
  return AnswerResult(env, st, r);
}

void InitDirents(Napi::Env env, Napi::Object exports) {
  exports.Set("takeFd", Napi::Function::New(env, TakeFdJs, "takeFd"));
  exports.Set("readDirectory", Napi::Function::New(env, ReadDirectory, "readDirectory"));
  exports.Set("answerBytes", Napi::Function::New(env, AnswerBytes, "answerBytes"));
}

}  // namespace tsyd
