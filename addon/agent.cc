// tsyd agent (src/agent/): what the seccomp agent of an OCI runtime needs of the kernel: the
// runtime's message with the container's listener fd (SCM_RIGHTS), whether a listener has hung
// up (every process of the container has ended), and the container's view for this thread.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <string>

namespace tsyd {

// SAFETY: the runtime sends one fd; room for two, so that a second one is seen (and the
// connection refused, src/agent/read-message.ts) and no recvmsg takes more into the agent's table.
static constexpr int kMaxFds = 2;

// recvFds(fd, buf) → [n, fd...] (n bytes into buf; the fds received, close-on-exec) or [-errno].
// Non-blocking (MSG_DONTWAIT). SAFETY: a message whose fds did not all fit (MSG_CTRUNC; the kernel
// drops those it did not install) has its fds closed and is -EMSGSIZE: never an fd the agent does
// not know it holds.
static Napi::Value RecvFds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<char> buf = info[1].As<Napi::Buffer<char>>();
  iovec iov{buf.Data(), buf.Length()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  Napi::Array out = Napi::Array::New(env);
  if (n < 0) {
    out.Set(0u, Napi::Number::New(env, -errno));
    return out;
  }
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int f;
      memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
      fds.push_back(f);
    }
  }
  if (msg.msg_flags & MSG_CTRUNC) {
    for (int f : fds) close(f);
    out.Set(0u, Napi::Number::New(env, -EMSGSIZE));
    return out;
  }
  out.Set(0u, Napi::Number::New(env, static_cast<double>(n)));
  for (size_t i = 0; i < fds.size(); i++) out.Set(static_cast<uint32_t>(i + 1), Napi::Number::New(env, fds[i]));
  return out;
}

// hungUp(fd) → 1 when the fd reports POLLHUP or POLLERR now (a seccomp listener: no process uses
// its filter any more), 0 otherwise, -errno.
static Napi::Value HungUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pollfd p{info[0].As<Napi::Number>().Int32Value(), 0, 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, (p.revents & (POLLHUP | POLLERR | POLLNVAL)) ? 1 : 0);
}

// setViewRoot(fd, ownPidNs): this thread decides in the container's view from now on (ViewRoot);
// fd -1: tsyd's own view again.
static Napi::Value SetViewRoot(const Napi::CallbackInfo& info) {
  t_view.fd = info[0].As<Napi::Number>().Int32Value();
  t_view.own_pidns = info[1].As<Napi::Boolean>().Value();
  return info.Env().Undefined();
}

// statPathMode(path, follow) → st_mode of a canonical path in this thread's view, or -errno.
static Napi::Value StatPathMode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
  std::string path(b.Data(), b.Length());
  struct stat sb;
  int r = StatPath(path, nullptr, &sb, info[1].As<Napi::Boolean>().Value());
  return Napi::Number::New(env, r < 0 ? r : static_cast<double>(sb.st_mode));
}

// procIdentity(pid, entry) → "DEV:INO" of /proc/PID/ENTRY (ENTRY: exe or root; for ns/pid its
// link text, "pid:[INO]"), or -errno. A process of another uid (or a non-dumpable one: runc's init) needs ptrace access:
// CAP_SYS_PTRACE is raised for that one stat, as for the caller's memory (privilege.cc), and
// lowered again. exeIdentity(pid) is procIdentity(pid, "exe").
static Napi::Value Identity(Napi::Env env, int pid, const char* entry) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/%s", pid, entry);
  struct stat sb;
  int r = stat(p, &sb) < 0 ? -errno : 0;
  if ((r == -EPERM || r == -EACCES) && RaiseCallerAccess()) {
    r = stat(p, &sb) < 0 ? -errno : 0;
    LowerCallerAccess();
  }
  if (r < 0) return Napi::Number::New(env, r);
  return Napi::String::New(env, std::to_string(static_cast<unsigned long long>(sb.st_dev)) + ":" + std::to_string(static_cast<unsigned long long>(sb.st_ino)));
}

// A namespace's link text ("pid:[INODE]": nsfs has one device): half the cost of a stat through
// it, on every decided call of a container.
static Napi::Value NamespaceLink(Napi::Env env, int pid, const char* entry) {
  char p[64];
  char link[64];
  snprintf(p, sizeof p, "/proc/%d/%s", pid, entry);
  ssize_t n = readlink(p, link, sizeof link);
  if (n < 0 && (errno == EPERM || errno == EACCES) && RaiseCallerAccess()) {
    n = readlink(p, link, sizeof link);
    LowerCallerAccess();
  }
  if (n < 0) return Napi::Number::New(env, -errno);
  return Napi::String::New(env, link, static_cast<size_t>(n));
}

static Napi::Value ExeIdentity(const Napi::CallbackInfo& info) {
  return Identity(info.Env(), info[0].As<Napi::Number>().Int32Value(), "exe");
}

static Napi::Value ProcIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string entry = info[1].As<Napi::String>().Utf8Value();
  // SAFETY: a fixed set of entries: never a path of the caller's choosing.
  if (entry != "exe" && entry != "root" && entry != "ns/pid") {
    Napi::TypeError::New(env, "procIdentity: entry must be exe, root or ns/pid").ThrowAsJavaScriptException();
    return env.Null();
  }
  const int pid = info[0].As<Napi::Number>().Int32Value();
  return entry == "ns/pid" ? NamespaceLink(env, pid, "ns/pid") : Identity(env, pid, entry.c_str());
}

// userNsOwner(pid) → the uid that owns the user namespace of PID (NS_GET_OWNER_UID, in the
// agent's namespace), or -errno.
static Napi::Value UserNsOwner(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/ns/user", info[0].As<Napi::Number>().Int32Value());
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && (errno == EPERM || errno == EACCES) && RaiseCallerAccess()) {
    fd = open(p, O_RDONLY | O_CLOEXEC);
    LowerCallerAccess();
  }
  if (fd < 0) return Napi::Number::New(env, -errno);
  uid_t owner;
  const int r = ioctl(fd, NS_GET_OWNER_UID, &owner) < 0 ? -errno : 0;
  close(fd);
  return Napi::Number::New(env, r < 0 ? r : static_cast<double>(owner));
}

void InitAgent(Napi::Env env, Napi::Object exports) {
  exports.Set("exeIdentity", Napi::Function::New(env, ExeIdentity, "exeIdentity"));
  exports.Set("userNsOwner", Napi::Function::New(env, UserNsOwner, "userNsOwner"));
  exports.Set("procIdentity", Napi::Function::New(env, ProcIdentity, "procIdentity"));
  exports.Set("recvFds", Napi::Function::New(env, RecvFds, "recvFds"));
  exports.Set("hungUp", Napi::Function::New(env, HungUp, "hungUp"));
  exports.Set("setViewRoot", Napi::Function::New(env, SetViewRoot, "setViewRoot"));
  exports.Set("statPathMode", Napi::Function::New(env, StatPathMode, "statPathMode"));
}

}  // namespace tsyd
