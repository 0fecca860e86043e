// The bind of a UNIX socket under the name the program gave. The kernel records the sun_path
// passed to bind() as the socket's address — what getsockname, a peer's getpeername/recvfrom/
// accept, /proc/net/unix and `ss -x` show — and resolves it from the binding task's root and
// cwd. tsyd checked the directory the name ends in (an O_PATH fd it holds) and must create the
// socket there, whatever the program renames meanwhile. So a short-lived child binds the
// program's own bytes from a root and cwd where that name leads into the checked directory
// through nothing the program can change:
//  - a relative name of one component ("s.sock", "./s.sock"): its cwd is the checked directory;
//  - "/s.sock": its root is the checked directory;
//  - any other name: its root is a fresh tmpfs in a mount namespace of its own, where the
//    directories the name walks through are made empty and the one it ends in is a bind mount of
//    the checked directory (a clone of the fd's own mount: nothing is looked up by name).
// The child shares tsyd's memory (CLONE_VM | CLONE_VFORK: no copy of Node's address space) but
// not its fs (cwd, root), and binds with the caller's effective capabilities. The mirror's mount
// namespace and tmpfs need CAP_SYS_ADMIN and CAP_SYS_CHROOT: a root tsyd raises them from its
// permitted set. An unprivileged tsyd joins a user namespace of its own, made at start
// (makeBindUserNs, before tsyd makes itself non-dumpable: the id map of a non-dumpable process is
// root's to write) that maps only tsyd's uid and gid — tsyd must be mapped there to make the
// mirror's directories. Without it, "s.sock" and "/s.sock" (a fresh user namespace without ids:
// chroot needs nothing more) are still bound under the program's name, other names as before
// (kBindNameUnavailable: the checked directory's /proc name).
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

namespace tsyd {

// Where the child puts itself before binding (see the file comment).
enum class BindFrom { kCwdIsDir, kRootIsDir, kMirror };

struct BindPlan {
  BindFrom from = BindFrom::kMirror;
  std::vector<std::string> dirs;  // kMirror: tmpfs directories to make, parents first
  std::string mount_at;           // kMirror: where the checked directory is mounted
  std::string cwd;                // kMirror, relative name: the cwd it is walked from
};

static std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += "/" + n;
  return out.empty() ? "/" : out;
}

static std::vector<std::string> Components(const std::string& name) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < name.size()) {
    size_t end = name.find('/', at);
    if (end == std::string::npos) end = name.size();
    if (end > at) out.push_back(name.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// Where `comps` lead from `at`, walked as the kernel walks them ("." stays, ".." goes up but not
// above the root).
static std::vector<std::string> WalkEnd(const std::vector<std::string>& comps, std::vector<std::string> at) {
  for (const std::string& c : comps) {
    if (c == "..") {
      if (!at.empty()) at.pop_back();
    } else if (c != ".") {
      at.push_back(c);
    }
  }
  return at;
}

// The same walk, false when it would look a name up inside the checked directory (mounted at
// `final`: its entries are the program's to change); `inside`: whether it starts there (a cwd
// entered before the mount starts below it, in the tmpfs). Every directory it enters by a name
// is added to `made`.
static bool WalkOutside(const std::vector<std::string>& comps, std::vector<std::string> at,
                        const std::vector<std::string>& final, bool inside, std::vector<std::string>* made) {
  for (const std::string& c : comps) {
    if (c == ".") continue;
    if (c == "..") {
      if (!at.empty()) at.pop_back();
      inside = at == final;  // ".." onto a mount point enters the mount
      continue;
    }
    if (inside) return false;
    at.push_back(c);
    inside = at == final;
    made->push_back(Join(at));
  }
  return true;
}

// How to bind `name` (the program's sun_path, up to its NUL) so that it lands as `base` in the
// checked directory; false when it cannot be done safely this way (the caller binds otherwise).
static bool PlanBind(const std::string& name, const std::string& base, BindPlan* plan) {
  if (name.empty() || name.back() == '/') return false;
  std::vector<std::string> comps = Components(name);
  if (comps.empty() || comps.back() != base || base == "." || base == "..") return false;
  comps.pop_back();
  const bool absolute = name[0] == '/';
  bool stays = true;  // nothing but "." before the last name
  for (const std::string& c : comps) stays = stays && c == ".";
  if (!absolute && stays) {
    plan->from = BindFrom::kCwdIsDir;
    return true;
  }
  // A relative name starts deep enough in the tmpfs that its ".." never reach the root.
  size_t ups = 0;
  for (const std::string& c : comps) ups += c == ".." ? 1 : 0;
  const std::vector<std::string> start(absolute ? 0 : ups + 1, "c");
  const std::vector<std::string> final = WalkEnd(comps, start);
  std::vector<std::string> made;
  for (size_t i = 1; i <= start.size(); i++) made.push_back(Join(std::vector<std::string>(start.begin(), start.begin() + i)));
  // The root of an absolute name that ends there is the checked directory itself (chroot).
  const bool root_is_dir = absolute && final.empty();
  if (!WalkOutside(comps, start, final, root_is_dir, &made)) return false;
  plan->from = root_is_dir ? BindFrom::kRootIsDir : BindFrom::kMirror;
  if (root_is_dir) return true;
  plan->dirs = made;
  plan->mount_at = Join(final);
  if (!absolute) plan->cwd = Join(start);
  return true;
}

// The program's sun_path as the kernel reads it: up to its first NUL or the length.
static std::string SunPath(const std::string& given) {
  const size_t off = offsetof(sockaddr_un, sun_path);
  if (given.size() <= off) return std::string();
  std::string name = given.substr(off);
  return name.substr(0, strnlen(name.c_str(), name.size()));
}

static bool HasCapability(const __user_cap_data_struct caps[2], int cap) {
  return (caps[cap / 32].permitted >> (cap % 32)) & 1;
}

// Whether this thread may raise what the mirror's namespace needs.
static bool Privileged(const __user_cap_data_struct caps[2]) {
  return HasCapability(caps, CAP_SYS_ADMIN) && HasCapability(caps, CAP_SYS_CHROOT);
}

// What the child reached (kDone: bound; kBinding: bind() itself failed with `err`).
enum BindStage { kDone = 0, kSetup = 1, kBinding = 2 };

struct BindCall {
  const BindPlan* plan;
  int sock;
  int dirfd;
  const sockaddr* addr;
  socklen_t len;
  bool privileged;  // raises CAP_SYS_ADMIN/CAP_SYS_CHROOT
  bool userns;      // else: CAP_SYS_CHROOT in a user namespace of its own (no ids mapped)
  int join_userns;  // else: joins this user namespace (makeBindUserNs), or -1
  __user_cap_data_struct caps[2];  // the caller's: the bind is made with its effective set
  int stage = kSetup;
  int err = 0;
};

static bool SetCaps(__user_cap_data_struct data[2]) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  return syscall(SYS_capset, &hdr, data) == 0;
}

static bool RaiseForNamespace(const BindCall& c) {
  __user_cap_data_struct data[2];
  memcpy(data, c.caps, sizeof data);
  data[0].effective |= (1u << CAP_SYS_ADMIN) | (1u << CAP_SYS_CHROOT);
  return SetCaps(data);
}

// A new tmpfs, not attached anywhere yet: its root fd, or -1.
static int NewTmpfs() {
  int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fs < 0) return -1;
  int m = -1;
  if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) == 0 && fsconfig(fs, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) == 0)
    m = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  close(fs);
  return m;
}

// The child's cwd is the checked directory here. Makes the mirror (see the file comment) and
// enters it. SAFETY: every mount of the new namespace is made private first, so nothing done
// here propagates to tsyd's mount namespace (or the host's); the namespace dies with the child.
static bool EnterMirror(const BindPlan& plan) {
  if (unshare(CLONE_NEWNS) < 0) return false;
  mount_attr priv;
  memset(&priv, 0, sizeof priv);
  priv.propagation = MS_PRIVATE;
  if (mount_setattr(AT_FDCWD, "/", AT_RECURSIVE, &priv, sizeof priv) < 0) return false;
  // The cwd moved into the new namespace with it: its clone is the checked directory itself.
  const int tree = open_tree(AT_FDCWD, ".", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  const int root = NewTmpfs();
  if (tree < 0 || root < 0) return false;
  if (move_mount(root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 || fchdir(root) < 0 || chroot(".") < 0) return false;
  for (const std::string& d : plan.dirs)
    if (mkdir(d.c_str(), 0700) < 0 && errno != EEXIST) return false;
  // Entered before the mount: a cwd below the mount point stays in the tmpfs.
  if (!plan.cwd.empty() && chdir(plan.cwd.c_str()) < 0) return false;
  return move_mount(tree, "", AT_FDCWD, plan.mount_at.c_str(), MOVE_MOUNT_F_EMPTY_PATH) == 0;
}

static bool EnterPlan(const BindCall& c) {
  if (c.privileged && c.plan->from != BindFrom::kCwdIsDir && !RaiseForNamespace(c)) return false;
  if (c.join_userns >= 0 && setns(c.join_userns, CLONE_NEWUSER) < 0) return false;
  if (fchdir(c.dirfd) < 0) return false;
  switch (c.plan->from) {
    case BindFrom::kCwdIsDir:
      return true;
    case BindFrom::kRootIsDir:
      return chroot(".") == 0;
    case BindFrom::kMirror:
      return EnterMirror(*c.plan);
  }
  return false;
}

// The child: no allocation, no lock (it runs on tsyd's memory beside tsyd's threads).
static int BindChild(void* arg) {
  BindCall* c = static_cast<BindCall*>(arg);
  if (!EnterPlan(*c)) {
    c->err = errno;
    return 1;
  }
  // SAFETY: the bind is made with the caller's effective capabilities, none of those raised for
  // the namespace (nor a user namespace's).
  __user_cap_data_struct caps[2];
  memcpy(caps, c->caps, sizeof caps);
  if (!SetCaps(caps)) {
    c->err = errno;
    return 1;
  }
  c->stage = kBinding;
  if (bind(c->sock, c->addr, c->len) < 0) {
    c->err = errno;
    return 1;
  }
  c->stage = kDone;
  return 0;
}

// Runs fn(arg) in a child sharing this memory (and `flags`), with every signal blocked (Node's
// handlers must not run there); this thread waits until it is done. 0 or -errno of clone.
static int RunChild(int (*fn)(void*), void* arg, int flags) {
  std::vector<char> stack(64 << 10);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = clone(fn, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | flags, arg);
  const int e = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return -e;
  int status;
  while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
  }
  return 0;
}

// The user namespace an unprivileged tsyd's binds join (see the file comment): one per process,
// kept open (O_CLOEXEC) for the process's life, for every emulator thread; -1 none.
static std::atomic<int> bind_userns{-1};

struct UserNsCall {
  char uid_map[32];
  char gid_map[32];
  int fd = -1;
  int err = 0;
};

static bool WriteFile(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == static_cast<ssize_t>(strlen(text));
}

// In a fresh user namespace, sharing tsyd's fd table: maps tsyd's own uid and gid (nothing
// else), then opens the namespace for tsyd to keep.
static int UserNsChild(void* arg) {
  UserNsCall* c = static_cast<UserNsCall*>(arg);
  if (WriteFile("/proc/self/uid_map", c->uid_map) && WriteFile("/proc/self/setgroups", "deny") &&
      WriteFile("/proc/self/gid_map", c->gid_map))
    c->fd = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
  if (c->fd < 0) c->err = errno;
  return 0;
}

// makeBindUserNs() → the fd of that user namespace, made on the first call; -errno when it
// cannot be made (user namespaces off, or tsyd non-dumpable already); -EEXIST when tsyd does not
// need one (it may raise CAP_SYS_ADMIN and CAP_SYS_CHROOT).
static Napi::Value MakeBindUserNs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (bind_userns.load() >= 0) return Napi::Number::New(env, bind_userns.load());
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct caps[2];
  if (syscall(SYS_capget, &hdr, caps) < 0) return Napi::Number::New(env, -errno);
  if (Privileged(caps)) return Napi::Number::New(env, -EEXIST);
  UserNsCall c;
  snprintf(c.uid_map, sizeof c.uid_map, "%u %u 1", geteuid(), geteuid());
  snprintf(c.gid_map, sizeof c.gid_map, "%u %u 1", getegid(), getegid());
  const int r = RunChild(UserNsChild, &c, CLONE_NEWUSER | CLONE_FILES);
  if (r < 0) return Napi::Number::New(env, r);
  if (c.fd < 0) return Napi::Number::New(env, -c.err);
  bind_userns.store(c.fd);
  return Napi::Number::New(env, c.fd);
}

long BindUnixName(int sock, int dirfd, const std::string& given, const std::string& base) {
  BindPlan plan;
  if (!PlanBind(SunPath(given), base, &plan)) return kBindNameUnavailable;
  BindCall c;
  c.plan = &plan;
  c.sock = sock;
  c.dirfd = dirfd;
  c.addr = reinterpret_cast<const sockaddr*>(given.data());
  c.len = static_cast<socklen_t>(given.size());
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  if (syscall(SYS_capget, &hdr, c.caps) < 0) return kBindNameUnavailable;
  c.privileged = Privileged(c.caps);
  // Unprivileged: the mirror in tsyd's user namespace, if it has one; "/s.sock" needs only
  // CAP_SYS_CHROOT, which a user namespace of the child's own gives it.
  c.join_userns = !c.privileged && plan.from == BindFrom::kMirror ? bind_userns.load() : -1;
  if (!c.privileged && plan.from == BindFrom::kMirror && c.join_userns < 0) return kBindNameUnavailable;
  c.userns = !c.privileged && plan.from == BindFrom::kRootIsDir;
  if (RunChild(BindChild, &c, c.userns ? CLONE_NEWUSER : 0) < 0) return kBindNameUnavailable;
  if (c.stage == kDone) return 0;
  return c.stage == kBinding ? -c.err : kBindNameUnavailable;
}

void InitUnixBind(Napi::Env env, Napi::Object exports) {
  exports.Set("makeBindUserNs", Napi::Function::New(env, MakeBindUserNs, "makeBindUserNs"));
}

}  // namespace tsyd
