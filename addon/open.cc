// The emulated open: tsyd opens the canonical path it decided on and injects the fd.
#include "common.h"
#include "crypt-identity.h"
#include "view-devices.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memory>

namespace tsyd {

static constexpr uint64_t kOpenHowSizeVer0 = 24;  // sizeof(struct open_how) in Linux 5.6
static constexpr uint64_t kKnownResolve = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
                                          RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;

// readOpenHow(howArg, sizeArg) → 0 with flags/mode/resolve in the slots, or -errno.
// Mirrors the kernel's checks of struct open_how (size, unknown bits, trailing zeroes).
static Napi::Value ReadOpenHow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readOpenHow");
  if (!st) return env.Undefined();
  int how_arg = info[0].As<Napi::Number>().Int32Value();
  int size_arg = info[1].As<Napi::Number>().Int32Value();
  if (how_arg < 0 || how_arg > 5 || size_arg < 0 || size_arg > 5)
    return Napi::Number::New(env, -EINVAL);
  const seccomp_notif* req = st->req;
  uint64_t size = req->data.args[size_arg];
  if (size < kOpenHowSizeVer0) return Napi::Number::New(env, -EINVAL);
  if (size > 4096) return Napi::Number::New(env, -E2BIG);
  open_how how;
  int r = ReadRemote(static_cast<pid_t>(req->pid), req->data.args[how_arg], &how, sizeof how);
  if (r == 0 && size > sizeof how) {
    char rest[4096];
    r = ReadRemote(static_cast<pid_t>(req->pid), req->data.args[how_arg] + sizeof how, rest, size - sizeof how);
    if (r == 0) {
      for (size_t i = 0; i < size - sizeof how; i++)
        if (rest[i]) return Napi::Number::New(env, -E2BIG);
    }
  }
  if (!NotifIdValid(st->notify_fd, req->id)) return Napi::Number::New(env, -ESRCH);
  if (r < 0) return Napi::Number::New(env, r);
  if (how.flags >> 32) return Napi::Number::New(env, -EINVAL);
  if (how.resolve & ~kKnownResolve) return Napi::Number::New(env, -EINVAL);
  if ((how.resolve & RESOLVE_BENEATH) && (how.resolve & RESOLVE_IN_ROOT)) return Napi::Number::New(env, -EINVAL);
  const bool creating = (how.flags & O_CREAT) || (how.flags & __O_TMPFILE) == __O_TMPFILE;
  if (how.mode & ~07777ULL) return Napi::Number::New(env, -EINVAL);
  if (how.mode && !creating) return Napi::Number::New(env, -EINVAL);
  st->slots[kHowFlagsLo] = static_cast<int32_t>(how.flags & 0xffffffffu);
  st->slots[kHowFlagsHi] = static_cast<int32_t>(how.flags >> 32);
  st->slots[kHowMode] = static_cast<int32_t>(how.mode);
  st->slots[kHowResolveLo] = static_cast<int32_t>(how.resolve & 0xffffffffu);
  st->slots[kHowResolveHi] = static_cast<int32_t>(how.resolve >> 32);
  return Napi::Number::New(env, 0);
}

int UmaskOf(pid_t tid) {
  char buf[512];
  long n = ReadProcStatus(tid, buf, sizeof buf);
  if (n < 0) return static_cast<int>(n);
  const char* u = strstr(buf, "\nUmask:");
  if (!u) return -ESRCH;
  return static_cast<int>(strtol(u + 7, nullptr, 8)) & 0777;
}

// What tsyd's fd is, as its /proc link names it ("pipe:[123]", "/a/b (deleted)"), or "".
static std::string LinkOf(int fd) {
  char p[64], link[PATH_MAX];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", fd);
  ssize_t n = readlink(p, link, sizeof link);
  return n <= 0 ? std::string() : std::string(link, static_cast<size_t>(n));
}

// tsyd agent: the object `pin` (an O_PATH fd) opened with `oflags` for container process `caller`
// through this thread's own fd link. SAFETY: the container's device rules are checked on the very
// object then opened (its cgroup's; the kernel checks the agent's): a character device they refuse
// is EPERM, as natively, and never opened (a device's open may act: a watchdog starts).
static int ReopenPinned(pid_t caller, int pin, uint64_t oflags) {
  struct stat sb;
  if (fstat(pin, &sb) < 0) return -errno;
  // SAFETY: as KindOfOpen refuses a block device: one swapped in after it looked.
  if (S_ISBLK(sb.st_mode)) return -EACCES;
  if (S_ISCHR(sb.st_mode) && !(oflags & O_PATH)) {  // O_PATH opens nothing, as natively
    const int r = ViewDeviceAccess(caller, sb.st_rdev, oflags);
    if (r < 0) return r;
  }
  char self[64];
  snprintf(self, sizeof self, "/proc/thread-self/fd/%d", pin);
  const int fd = open(self, static_cast<int>(oflags & ~static_cast<uint64_t>(O_CREAT | O_EXCL | O_NOFOLLOW)));
  return fd < 0 ? -errno : fd;
}

// How many times an O_CREAT open in a container's view looks again when the file it did not find
// was made by another meanwhile (EEXIST of its own O_EXCL creation).
constexpr int kCreateRaces = 8;

// The checked path opened in a container's view (tsyd agent): pinned with O_PATH, its device
// rules checked (ReopenPinned), then opened. A file this open creates is made with O_EXCL: a
// regular file of its own, never a device put there since the look.
static int OpenInView(ThreadState* st, const std::string& path, uint64_t oflags, unsigned mode) {
  constexpr uint64_t kResolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const pid_t caller = static_cast<pid_t>(st->req->pid);
  // O_PATH opens nothing; O_DIRECTORY (O_TMPFILE has it) fails ENOTDIR before a device's open.
  if (oflags & (O_PATH | O_DIRECTORY)) return Openat2Path(path, &st->anchor, oflags, mode, kResolve);
  // O_CREAT|O_EXCL makes a new regular file or fails (EEXIST also for a symlink there): no device.
  if ((oflags & O_CREAT) && (oflags & O_EXCL)) return Openat2Path(path, &st->anchor, oflags, mode, kResolve);
  for (int tries = 0; tries < kCreateRaces; tries++) {
    const int pin = Openat2Path(path, &st->anchor, O_PATH | O_CLOEXEC | (oflags & O_NOFOLLOW), 0, kResolve);
    if (pin == -ENOENT && (oflags & O_CREAT)) {
      const int fd = Openat2Path(path, &st->anchor, oflags | O_EXCL, mode, kResolve);
      if (fd != -EEXIST || (oflags & O_EXCL)) return fd;
      continue;
    }
    if (pin < 0) return pin;
    struct stat sb;
    if ((oflags & O_CREAT) && fstat(pin, &sb) == 0 && S_ISDIR(sb.st_mode)) {
      close(pin);
      return -EISDIR;  // as the kernel answers O_CREAT of a directory
    }
    // The caller's own /proc entries (environ, maps, ...): the same-process exemption the pin's
    // lookup had holds for the reopen too (own-proc.cc; nothing for any other path).
    OwnProcAccess own(path, false);
    const int fd = ReopenPinned(caller, pin, oflags);
    close(pin);
    return fd;
  }
  return -EAGAIN;
}

// /proc/<tgid>/fd/N of the program itself, reopened: the directory opened without following
// anything, then only the final magic link followed.
static int ReopenThroughProgramFdDir(pid_t caller, const char* path, uint64_t oflags, unsigned mode) {
  const char* slash = strrchr(path, '/');
  std::string dir(path, static_cast<size_t>(slash - path));
  // In the caller's view (a container's root under tsyd agent).
  int dfd = Openat2Path(dir, nullptr, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (dfd < 0) return dfd;
  if (t_view.fd >= 0) {
    // SAFETY: the container's device rules, on what its fd N is (ReopenPinned).
    const int pin = openat(dfd, slash + 1, O_PATH | O_CLOEXEC);
    const int e = errno;
    close(dfd);
    if (pin < 0) return -e;
    const int fd = ReopenPinned(caller, pin, oflags);
    close(pin);
    return fd;
  }
  int fd = openat(dfd, slash + 1, static_cast<int>(oflags), mode);
  int e = errno;
  close(dfd);
  return fd < 0 ? -e : fd;
}

// The same for a caller tsyd acts as (SafeSetID): a non-dumpable caller's fd directory is closed
// to tsyd's thread, so its fd N is copied (pidfd_getfd) and the copy reopened through this
// thread's own /proc/thread-self/fd, as the caller.
// SAFETY: no capability is raised for the reopen: the kernel checks the file's mode against the
// caller's credentials, as for the caller's own reopen (a root-only file held O_RDONLY is not
// opened for writing, nor for reading once its mode refuses the caller).
static int ReopenCallerFdCopy(ThreadState* st, const char* path, uint64_t oflags, unsigned mode) {
  const char* name = strrchr(path, '/') + 1;
  const int copy = TakeFd(st, atoi(name));
  if (copy < 0) return copy == -EBADF ? -ENOENT : copy;  // a closed fd N: no such entry in fd/
  if (t_view.fd >= 0) {
    // SAFETY: the container's device rules, on what its fd N is (ReopenPinned).
    const int fd = ReopenPinned(static_cast<pid_t>(st->req->pid), copy, oflags);
    close(copy);
    return fd;
  }
  char self[64];
  snprintf(self, sizeof self, "/proc/thread-self/fd/%d", copy);
  int fd = open(self, static_cast<int>(oflags), mode);
  int e = errno;
  close(copy);
  return fd < 0 ? -e : fd;
}

int OpenChecked(ThreadState* st, const char* path, bool magic, uint64_t oflags, unsigned mode) {
  if (magic) {
    int fd = ActingForCaller() ? ReopenCallerFdCopy(st, path, oflags, mode) : ReopenThroughProgramFdDir(static_cast<pid_t>(st->req->pid), path, oflags, mode);
    if (fd < 0) return fd;
    // SAFETY: the decision was made on what the program's fd N named then (a pipe, a socket,
    // a memfd, a deleted file decided by its former path); the program may have dup2'ed
    // something else onto N since — a named file, another pipe or a deleted file of another
    // path. Refuse unless what tsyd holds now is named the same.
    if (st->magic_target.empty() || LinkOf(fd) != st->magic_target) {
      close(fd);
      return -EACCES;
    }
    // SAFETY: the pid in the path is the caller's; if the caller died meanwhile the pid
    // could name another process, so drop the fd unless the request is still valid.
    if (!NotifIdValid(st->notify_fd, st->req->id)) {
      close(fd);
      return -ESRCH;
    }
    // SAFETY: a crypt file's snapshot is never reopened for writing through its magic link: a
    // snapshot is never written again, and crypt/tmp's (O_TMPFILE files) are kept so by their
    // mode only, which root ignores and the program may fchmod. (The writers' buffer may be, as
    // a plain file: `tee /dev/stdout > f`.)
    struct stat sb;
    const bool writes = (oflags & O_ACCMODE) != O_RDONLY || (oflags & O_TRUNC);
    if (writes && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && IsCryptSnapshot(sb.st_dev, sb.st_ino)) {
      close(fd);
      return -EACCES;
    }
    return fd;
  }
  // SAFETY: what was checked is what is opened: no symlink or magic link is followed, so a
  // component swapped for a symlink after the check fails with ELOOP instead of escaping. A
  // path in a removed directory is opened from that directory (st->anchor), as checked.
  if (t_view.fd >= 0) return OpenInView(st, path, oflags, mode);
  return Openat2Path(path, &st->anchor, oflags, mode, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

// What opening the object at the checked path is: one that may wait for another process: a FIFO, a
// block device, a character device other than the ones that never wait on open (the memory
// devices, /dev/tty, /dev/ptmx, pseudo-terminals); /dev/tty, which names the opener's
// controlling terminal. A missing object is created (or the open fails); a symlink opened with
// O_NOFOLLOW fails with ELOOP.
enum OpenKind { kOpenHere, kOpenMayBlock, kOpenBlockDevice, kOpenCurrentTty };

static bool IsCurrentTtyDevice(const struct stat& sb) { return S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(5, 0); }

static OpenKind KindOfOpen(const std::string& path, const Anchor* anchor, bool magic) {
  struct stat sb;
  if (StatPath(path, magic ? nullptr : anchor, &sb, magic) < 0) return kOpenHere;
  if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode) || S_ISLNK(sb.st_mode) || S_ISSOCK(sb.st_mode)) return kOpenHere;
  // SAFETY: a block device is the raw file system under every path rule (hidden files, denied
  // ones): never opened for the program, as a device is never made (mknod).
  if (S_ISBLK(sb.st_mode)) return kOpenBlockDevice;
  if (IsCurrentTtyDevice(sb)) return kOpenCurrentTty;
  if (S_ISCHR(sb.st_mode)) {
    const unsigned ma = major(sb.st_rdev), mi = minor(sb.st_rdev);
    if (ma == 1 || (ma == 5 && mi == 2) || (ma >= 136 && ma <= 143)) return kOpenHere;
  }
  return kOpenMayBlock;
}

// The controlling terminal of a process as /proc/<pid>/stat tells it: its session and the
// terminal's device number (0: none).
struct ControllingTerminal {
  long session = 0;
  dev_t dev = 0;
};

static int ControllingTerminalOf(const char* stat_path, ControllingTerminal* out) {
  char buf[1024];
  int fd = open(stat_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -ESRCH;
  buf[n] = 0;
  const char* after = strrchr(buf, ')');
  long session = 0;
  unsigned long nr = 0;
  // pid (comm) state ppid pgrp session tty_nr
  if (!after || sscanf(after + 2, "%*c %*d %*d %ld %lu", &session, &nr) != 2) return -ESRCH;
  out->session = session;
  // tty_nr is the kernel's new_encode_dev().
  out->dev = nr == 0 ? 0 : makedev((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
  return 0;
}

// A new open of the terminal `dev` that the caller holds an fd of: tsyd takes a copy of that fd
// (pidfd_getfd) and opens the copy anew (/proc/thread-self/fd), so that what it opens is that
// very terminal (the devpts instance too), whatever the program does with its fd meanwhile.
// -ENXIO when the caller holds no fd of it.
static int ReopenCallerTerminal(ThreadState* st, dev_t dev, uint64_t oflags) {
  char dir[64];
  snprintf(dir, sizeof dir, "/proc/%d/fd", static_cast<int>(st->req->pid));
  DIR* d = nullptr;
  AsCaller([&]() -> long {
    d = opendir(dir);
    return d ? 0 : -errno;
  });
  if (!d) return -ESRCH;
  int result = -ENXIO;
  for (dirent* e; result == -ENXIO && (e = readdir(d)) != nullptr;) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int copy = TakeFd(st, atoi(e->d_name));
    if (copy == -ESRCH) {
      result = -ESRCH;
      break;
    }
    struct stat sb;
    if (copy < 0) continue;
    if (fstat(copy, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == dev) {
      char self[64];
      snprintf(self, sizeof self, "/proc/thread-self/fd/%d", copy);
      const int fd = open(self, static_cast<int>(oflags) | O_NOCTTY | O_CLOEXEC);
      result = fd < 0 ? -errno : fd;
    }
    close(copy);
  }
  closedir(d);
  return result;
}

// open("/dev/tty"): the caller's controlling terminal, as the kernel opens it for the caller —
// not tsyd's, which the caller may have left (setsid) or never had.
// SAFETY: a program that left the user's terminal session must not reach that terminal through
// /dev/tty (natively: ENXIO); one with a terminal of its own (TIOCSCTTY) gets that one.
static int OpenCurrentTerminal(ThreadState* st, const char* path, bool magic, uint64_t oflags, unsigned mode) {
  char stat_path[64];
  snprintf(stat_path, sizeof stat_path, "/proc/%d/stat", static_cast<int>(st->req->pid));
  ControllingTerminal caller, own;
  if (ControllingTerminalOf(stat_path, &caller) < 0 || !NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
  if (caller.dev == 0) return -ENXIO;
  // The caller is in tsyd's session, whose one controlling terminal tsyd has too: tsyd opens it.
  if (ControllingTerminalOf("/proc/self/stat", &own) == 0 && own.session == caller.session && own.dev == caller.dev)
    return OpenChecked(st, path, magic, oflags, mode);
  return ReopenCallerTerminal(st, caller.dev, oflags);
}

// OpenChecked, but /dev/tty (found there, or put there after KindOfOpen looked) is the caller's
// controlling terminal.
static int OpenForProgram(ThreadState* st, OpenKind kind, const char* path, bool magic, uint64_t oflags, unsigned mode) {
  if (kind == kOpenCurrentTty) return OpenCurrentTerminal(st, path, magic, oflags, mode);
  int fd = OpenChecked(st, path, magic, oflags, mode);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) < 0 || !IsCurrentTtyDevice(sb)) return fd;
  close(fd);
  return OpenCurrentTerminal(st, path, magic, oflags, mode);
}

// Takes off the O_NONBLOCK tsyd added (or O_PATH's substitute has) — for files and directories
// only, unless `always`: a FIFO or device opened for O_PATH keeps it.
static void ClearNonblockOfFile(int fd, bool always = false) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_NONBLOCK)) return;
  struct stat sb;
  if (!always && (fstat(fd, &sb) < 0 || !(S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)))) return;
  fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

// An O_PATH open cannot be injected (ADDFD takes its source with fget(), which refuses O_PATH
// files), and must not be continued (the kernel would read the path and open_how again, which
// the program can change after the check). It is performed as an open for reading of the
// checked object, which no more than read (decided as for O_PATH) allows: non-blocking and
// without controlling terminal, so that a FIFO or device is not waited on; O_NONBLOCK is
// cleared again for files and directories.
static constexpr int kPathSubstituteKeep = O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// openInject(flags, mode) → the fd number in the program, or -errno. Always answers the
// current request (with the fd, or with the error), unless the caller is gone (-ESRCH/-ENOENT).
static Napi::Value OpenInject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "openInject");
  if (!st) return env.Undefined();
  int flags = info[0].As<Napi::Number>().Int32Value();
  const bool o_path = flags & O_PATH;
  if (o_path) flags = O_RDONLY | O_NONBLOCK | (flags & kPathSubstituteKeep);
  unsigned mode = info[1].As<Napi::Number>().Uint32Value() & 07777;
  if (st->path_len == 0) return Napi::Number::New(env, -EINVAL);
  const bool creating = (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE;
  if (creating) {
    // tsyd's emulator threads run with umask 0 (unshared fs); apply the program's own.
    int um = UmaskOf(static_cast<pid_t>(st->req->pid));
    if (um < 0) {
      Respond(st, 1, um == -ESRCH ? ESRCH : -um);
      return Napi::Number::New(env, um);
    }
    mode &= ~static_cast<unsigned>(um);
  }
  // SAFETY: O_CLOEXEC so no child of tsyd inherits the fd; the program's own O_CLOEXEC
  // is applied when the fd is injected.
  const bool magic = st->slots[kPathMagic] != 0;
  const std::string path(reinterpret_cast<const char*>(st->path), st->path_len);
  const bool cloexec = flags & O_CLOEXEC;
  // The open itself never blocks this thread: an object that can make it wait goes to a job
  // thread (offload.cc), anything else is opened non-blocking (a lease, or a FIFO swapped in
  // after the look below, answers at once) and O_NONBLOCK is taken off again.
  const bool added_nonblock = !(flags & O_NONBLOCK);
  const uint64_t oflags = static_cast<uint32_t>(flags) | O_CLOEXEC | O_NOCTTY;
  __atomic_store_n(&st->slots[kSlotBlocking], 0, __ATOMIC_SEQ_CST);
  auto offload = [&]() -> Napi::Value {
    const pid_t caller = static_cast<pid_t>(st->req->pid);
    const uint64_t id = st->req->id;
    const int notify_fd = st->notify_fd;
    std::string magic_target = st->magic_target;
    // The job's own copy of the removed directory the path is in, if any (freed with the job).
    auto anchor = std::make_shared<Anchor>();
    if (st->anchor.fd >= 0 && (anchor->fd = fcntl(st->anchor.fd, F_DUPFD_CLOEXEC, 0)) < 0) {
      const int e = errno;
      Respond(st, 1, e);
      return Napi::Number::New(env, -e);
    }
    anchor->path = st->anchor.path;
    const ViewRoot view = t_view;  // the job opens in the same view (the root fd outlives every job)
    int r = Offload(st, [path, magic, magic_target, anchor, oflags, mode, cloexec, o_path, caller, id, notify_fd, view](Job& job) {
      t_view = view;
      ThreadState js;  // OpenChecked's magic branch checks the request and what it reopened
      seccomp_notif req{};
      req.id = id;
      req.pid = static_cast<uint32_t>(caller);
      js.req = &req;
      js.notify_fd = notify_fd;
      js.magic_target = magic_target;
      js.anchor = std::move(*anchor);
      JobBlocking(job, true);
      int fd = OpenForProgram(&js, kOpenMayBlock, path.c_str(), magic, oflags, mode);
      JobBlocking(job, false);
      DropCaches(&js);  // the pidfds ReopenCallerTerminal may have kept
      if (fd < 0) {
        JobAnswer(job, fd);
        return;
      }
      if (o_path) ClearNonblockOfFile(fd);
      JobInject(job, fd, cloexec);  // closes fd
    });
    return Napi::Number::New(env, r);
  };
  const OpenKind kind = KindOfOpen(path, &st->anchor, magic);
  if (kind == kOpenBlockDevice) {
    Respond(st, 1, EACCES);
    return Napi::Number::New(env, kRefusedBlockDevice);
  }
  const bool may_block = kind == kOpenMayBlock;
  if (may_block && !st->inline_blocking) return offload();
  int fd;
  if (may_block) {
    // Test only (TSYD_FAULT=inline-blocking): the open blocks this emulator, as a call on a
    // slow file system would, so that the pool's growth and interruption can be tested.
    __atomic_store_n(&st->slots[kSlotBlocking], 1, __ATOMIC_SEQ_CST);
    fd = OpenForProgram(st, kind, path.c_str(), magic, oflags, mode);
    __atomic_store_n(&st->slots[kSlotBlocking], 0, __ATOMIC_SEQ_CST);
  } else {
    fd = OpenForProgram(st, kind, path.c_str(), magic, oflags | (added_nonblock ? O_NONBLOCK : 0), mode);
  }
  // A lease held by another opener: the blocking open waits for it to break, on a job thread.
  if (fd == -EWOULDBLOCK && added_nonblock) return offload();
  if (fd >= 0 && !may_block && (added_nonblock || o_path)) ClearNonblockOfFile(fd, !o_path);
  if (fd < 0) {
    int r = Respond(st, 1, -fd);
    return Napi::Number::New(env, r == -ENOENT ? -ESRCH : fd);
  }
  int remote = InstallFd(st->notify_fd, st->req->id, fd, cloexec);
  int e = -remote;
  close(fd);
  if (remote >= 0) {
    // The answer comes only now that tsyd's copy is closed (see InstallFd).
    int r = Respond(st, 2, remote);
    return Napi::Number::New(env, r == -ENOENT ? -ESRCH : remote);
  }
  if (e == ENOENT) {  // the caller is gone: nothing to answer
    st->have_req = false;
    EndBusy(st);
    return Napi::Number::New(env, -ESRCH);
  }
  Respond(st, 1, e);  // e.g. EMFILE: the program's fd table is full
  return Napi::Number::New(env, -e);
}

// openat2(path: string | Buffer (raw bytes), flags, mode, resolve) → fd (throws). A path longer
// than PATH_MAX is reached in steps (PathAt), each without following a symlink.
static Napi::Value Openat2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (info[0].IsBuffer()) {
    Napi::Buffer<char> b = info[0].As<Napi::Buffer<char>>();
    path.assign(b.Data(), b.Length());
    if (path.find('\0') != std::string::npos) return ThrowErrno(env, "openat2", EINVAL);
  } else {
    path = info[0].As<Napi::String>().Utf8Value();
  }
  const uint64_t flags = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()) | O_CLOEXEC;
  const uint64_t mode = info.Length() > 2 ? info[2].As<Napi::Number>().Uint32Value() : 0;
  const uint64_t resolve = info.Length() > 3 ? info[3].As<Napi::Number>().Uint32Value() : 0;
  int fd = Openat2Path(path, nullptr, flags, mode, resolve);
  if (fd < 0) return ThrowErrno(env, "openat2", -fd);
  return Napi::Number::New(env, fd);
}

// setInlineBlocking(on): test only (TSYD_FAULT=inline-blocking), see OpenInject.
static Napi::Value SetInlineBlocking(const Napi::CallbackInfo& info) {
  State(info.Env())->inline_blocking = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

void InitOpen(Napi::Env env, Napi::Object exports) {
  exports.Set("setInlineBlocking", Napi::Function::New(env, SetInlineBlocking, "setInlineBlocking"));
  exports.Set("readOpenHow", Napi::Function::New(env, ReadOpenHow, "readOpenHow"));
  exports.Set("openInject", Napi::Function::New(env, OpenInject, "openInject"));
  exports.Set("openat2", Napi::Function::New(env, Openat2, "openat2"));
}

}  // namespace tsyd
