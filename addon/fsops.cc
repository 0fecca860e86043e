// File system calls that tsyd performs for the program, on the canonical paths it decided on:
// the stat family, access, readlink, truncate, mkdir, mknod, symlink, unlink/rmdir, link,
// rename, chmod, chown, utimes, xattrs. Each op answers the current request itself.
// SAFETY: every op reaches its object through openat2(RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS)
// of the checked path (or of its parent directory, then acts on the last name with a *at call
// that does not follow it): a component swapped for a symlink after the decision fails with
// ELOOP instead of reaching another file.
#include "common.h"
#include "crypt-identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <vector>

namespace tsyd {

// The fd form of a call (AT_EMPTY_PATH with an empty path, resolvePath(kTakeEmpty)) acts on
// st->taken_fd, tsyd's copy of the program's dirfd, the object the decision was made on.
enum FsOp {
  kOpStat = 0,      // a: statbuf arg, b: 1 = follow the last component, c: flags arg (fd form) or -1,
                    // d: 1 = hold a directory's result back for JS (HoldBack)
  kOpStatx = 1,     // a: flags arg, b: mask arg, c: statxbuf arg, d: as for kOpStat
  kOpAccess = 2,    // a: mode arg, b: flags arg or -1
  kOpReadlink = 3,  // a: buf arg, b: size arg
  kOpTruncate = 4,  // a: length arg
  kOpMkdir = 5,     // a: mode arg
  kOpMknod = 6,     // a: mode arg, b: dev arg
  kOpSymlink = 7,   // a: target arg
  kOpUnlink = 8,    // a: flags (0 or AT_REMOVEDIR)
  kOpLink = 9,      // a: 1 = the source was followed (AT_SYMLINK_FOLLOW); source = saved path
  kOpRename = 10,   // a: flags arg or -1 (renameat2), b: 1 = no directory may move; source = saved path
  kOpChmod = 11,    // a: mode arg
  kOpChown = 12,    // a: uid arg, b: gid arg
  kOpUtimes = 13,   // a: times arg, b: its layout (TimesLayout)
  kOpSetxattr = 14, // a: name arg, b: value arg, c: size arg, d: flags arg
  kOpRemovexattr = 15,  // a: name arg
  kOpStatfs = 16,       // a: buf arg
  kOpGetxattr = 17,     // a: name arg, b: value arg, c: size arg, d: 1 = follow
  kOpListxattr = 18,    // a: list arg, b: size arg, c: 1 = follow
  kOpInotifyAddWatch = 19,  // a: inotify fd arg, b: mask arg
  kOpNameToHandle = 20,     // a: handle arg, b: mount id arg, c: flags arg
};

// fsOp()'s answer for a stat held back (not answered yet): never a real result.
static constexpr long kPending = 0x7ffffff0;
// fsOp(stat)'s flags argument for fstat(fd): AT_EMPTY_PATH on the taken copy of the fd.
static constexpr int kStatFdItself = -2;

#ifndef AT_HANDLE_MNT_ID_UNIQUE
#define AT_HANDLE_MNT_ID_UNIQUE 0x001
#endif
static constexpr unsigned kMaxHandleSize = 128;  // MAX_HANDLE_SZ
static constexpr size_t kXattrListMax = 65536;   // XATTR_LIST_MAX

enum TimesLayout { kTimespec = 0, kTimeval = 1, kUtimbuf = 2 };

static constexpr size_t kXattrNameMax = 255;
static constexpr size_t kXattrSizeMax = 65536;

static constexpr unsigned kKnownRenameFlags = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// The checked path itself, O_PATH. follow=false keeps a final symlink (lstat, readlink).
static int OpenObject(ThreadState* st, const char* path, bool magic, bool follow) {
  uint64_t flags = O_PATH | O_CLOEXEC;
  if (!follow && !magic) flags |= O_NOFOLLOW;
  return OpenChecked(st, path, magic, flags, 0);
}

// The parent directory of a checked canonical path, O_PATH; *base gets the last name.
// -EBUSY for "/" (which has no parent). `anchor`: the removed directory the path is in, if any.
static int OpenParent(const std::string& path, const Anchor* anchor, std::string* base) {
  size_t slash = path.rfind('/');
  if (path.size() <= 1 || slash == std::string::npos) return -EBUSY;
  *base = path.substr(slash + 1);
  std::string dir = slash == 0 ? std::string("/") : path.substr(0, slash);
  return Openat2Path(dir, anchor, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

// Copies a result into the program's memory. -ESRCH when the caller is gone.
static long WriteBack(ThreadState* st, uint64_t addr, const void* data, size_t len) {
  // SAFETY: the tid names the caller only while its request is valid: check right before.
  if (!NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
  return WriteRemote(static_cast<pid_t>(st->req->pid), addr, data, len);
}

static long Ret(long r) { return r < 0 ? -errno : r; }

// The fd form: tsyd's copy of the program's dirfd (decided on), or -1 for a path form.
static int TakenObject(ThreadState* st) { return st->slots[kPathTaken] ? st->taken_fd : -1; }

void DropPendingStat(ThreadState* st) {
  if (st->pend_fd >= 0) close(st->pend_fd);
  st->pend_fd = -1;
  st->pend_kind = 0;
}

// A directory's stat result kept for JS, which counts the subdirectories stat hides (their
// st_nlink share) before the result reaches the program (finishStat). `fd` is the directory,
// owned from now on. Returns kPending.
static long HoldBack(ThreadState* st, int kind, uint64_t addr, const void* data, size_t len, int fd) {
  static_assert(sizeof(struct stat) <= sizeof ThreadState::pend_buf && sizeof(struct statx) <= sizeof ThreadState::pend_buf,
                "pend_buf holds a stat or statx result");
  DropPendingStat(st);
  memcpy(st->pend_buf, data, len);
  st->pend_kind = kind;
  st->pend_addr = addr;
  st->pend_fd = fd;
  return kPending;
}

// A copy of fd for HoldBack (the taken fd stays the request's), or -errno.
static int DupFd(int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  return d < 0 ? -errno : d;
}

// What fsOp(stat|statx) holds back for JS (its last argument, bits): kHoldDirs a directory
// (hidden subdirectories: finishStat), kHoldFiles a regular file (a crypt file: finishStatAs).
static constexpr int kHoldDirs = 1;
static constexpr int kHoldFiles = 2;

static bool Holds(int hold, mode_t mode) { return ((hold & kHoldDirs) && S_ISDIR(mode)) || ((hold & kHoldFiles) && S_ISREG(mode)); }

// A crypt file's buffer shows the file's one identity (addon/crypt-identity.h): device, inode,
// mode and owner, one link. SAFETY: only an unlinked file can be a buffer (memfd, O_TMPFILE): a
// linked file whose inode number a freed buffer had is never taken for one.
static bool ShowCryptIdentity(struct stat* sb, const struct stat* disk_now) {
  CryptIdentity id;
  if (!S_ISREG(sb->st_mode) || (!disk_now && sb->st_nlink != 0) || !CryptIdentityOf(sb->st_dev, sb->st_ino, disk_now, &id)) return false;
  sb->st_dev = id.dev, sb->st_ino = id.ino, sb->st_mode = S_IFREG | id.mode, sb->st_uid = id.uid, sb->st_gid = id.gid, sb->st_nlink = 1;
  return true;
}

static void ShowCryptIdentityX(struct statx* sx) {
  CryptIdentity id;
  if (!S_ISREG(sx->stx_mode) || sx->stx_nlink != 0 || !(sx->stx_mask & STATX_INO)) return;
  if (!CryptIdentityOf(makedev(sx->stx_dev_major, sx->stx_dev_minor), sx->stx_ino, nullptr, &id)) return;
  sx->stx_dev_major = major(id.dev), sx->stx_dev_minor = minor(id.dev), sx->stx_ino = id.ino;
  sx->stx_mode = static_cast<uint16_t>(S_IFREG | id.mode), sx->stx_uid = id.uid, sx->stx_gid = id.gid, sx->stx_nlink = 1;
}

static long DoStat(ThreadState* st, const char* path, bool magic, uint64_t buf, bool follow, int at_flags, int hold) {
  Fd f;
  struct stat sb;
  const int taken = TakenObject(st);
  if (taken >= 0) {
    // The fd form: the kernel's own answer on the copy, with the program's flags ("" or NULL).
    if (syscall(SYS_newfstatat, taken, st->path_null ? nullptr : "", &sb, at_flags) < 0) return -errno;
  } else {
    if ((f.fd = OpenObject(st, path, magic, follow)) < 0) return f.fd;
    if (fstat(f.fd, &sb) < 0) return -errno;
  }
  // An fd of a crypt file, or its /proc/<pid>/fd/N followed.
  ShowCryptIdentity(&sb, nullptr);
  if (Holds(hold, sb.st_mode)) {
    int d = taken >= 0 ? DupFd(taken) : f.fd;
    if (d < 0) return d;
    f.fd = -1;
    return HoldBack(st, 1, buf, &sb, sizeof sb, d);
  }
  long w = WriteBack(st, buf, &sb, sizeof sb);
  return w < 0 ? w : 0;
}

static long DoStatx(ThreadState* st, const char* path, bool magic, unsigned flags, unsigned mask, uint64_t buf, int hold) {
  Fd f;
  struct statx sx;
  const int taken = TakenObject(st);
  if (taken >= 0) {
    // The fd form: the kernel validates the program's flags and mask itself.
    if (syscall(SYS_statx, taken, st->path_null ? nullptr : "", flags, mask, &sx) < 0) return -errno;
  } else {
    const unsigned known = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;
    if ((flags & ~known) || (flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE) return -EINVAL;
    if (mask & STATX__RESERVED) return -EINVAL;
    if ((f.fd = OpenObject(st, path, magic, !(flags & AT_SYMLINK_NOFOLLOW))) < 0) return f.fd;
    if (statx(f.fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, &sx) < 0) return -errno;
  }
  ShowCryptIdentityX(&sx);
  if (Holds(hold, sx.stx_mode) && (S_ISREG(sx.stx_mode) || (sx.stx_mask & STATX_NLINK))) {
    int d = taken >= 0 ? DupFd(taken) : f.fd;
    if (d < 0) return d;
    f.fd = -1;
    return HoldBack(st, 2, buf, &sx, sizeof sx, d);
  }
  long w = WriteBack(st, buf, &sx, sizeof sx);
  return w < 0 ? w : 0;
}

static long DoAccess(ThreadState* st, const char* path, bool magic, unsigned mode, long flags) {
  const int taken = TakenObject(st);
  // The fd form: the kernel checks the program's mode and flags on the copy.
  if (taken >= 0) return Ret(syscall(SYS_faccessat2, taken, "", mode, static_cast<int>(flags)));
  if (mode & ~07u) return -EINVAL;
  if (flags < 0) flags = 0;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -EINVAL;
  Fd f;
  if ((f.fd = OpenObject(st, path, magic, !(flags & AT_SYMLINK_NOFOLLOW))) < 0) return f.fd;
  // tsyd's credentials are the program's (set*id is refused in the program), so the kernel's
  // answer for tsyd is the answer for the program.
  return Ret(syscall(SYS_faccessat2, f.fd, "", mode, AT_EMPTY_PATH | (flags & AT_EACCESS)));
}

// The canonicaliser leaves /proc/self and /proc/thread-self as they are when they are the last
// component of a call that does not follow it: read by tsyd, they would name tsyd.
static bool IsProcSelfLink(const char* path) {
  return strcmp(path, "/proc/self") == 0 || strcmp(path, "/proc/thread-self") == 0;
}

// What /proc/self ("TGID") and /proc/thread-self ("TGID/task/TID") say to the caller, or -errno.
static ssize_t ProcSelfLink(ThreadState* st, const char* path, char* target, size_t size) {
  const bool self = strcmp(path, "/proc/self") == 0;
  // In a container's pid namespace (tsyd agent), the ids it knows itself by.
  const pid_t host_tid = static_cast<pid_t>(st->req->pid);
  const pid_t tid = t_view.own_pidns ? NsIdOf(host_tid, "NSpid:") : host_tid;
  if (tid < 0) return tid;
  const pid_t tgid = t_view.own_pidns ? NsIdOf(host_tid, "NStgid:") : TgidOf(host_tid);
  if (tgid < 0) return tgid;
  int n = self ? snprintf(target, size, "%d", tgid) : snprintf(target, size, "%d/task/%d", tgid, tid);
  return n;
}

static long DoReadlink(ThreadState* st, const char* path, uint64_t buf, long size) {
  if (size <= 0) return -EINVAL;
  char target[PATH_MAX];
  ssize_t n;
  const int taken = TakenObject(st);
  if (taken < 0 && IsProcSelfLink(path)) {
    if ((n = ProcSelfLink(st, path, target, sizeof target)) < 0) return n;
  } else if (taken >= 0) {
    // readlinkat(fd, "") reads the link the fd itself is (an O_PATH|O_NOFOLLOW fd); the
    // kernel says ENOENT for any other object.
    n = readlinkat(taken, "", target, sizeof target);
  } else {
    Fd f;
    if ((f.fd = OpenObject(st, path, false, false)) < 0) return f.fd;
    struct stat sb;
    if (fstat(f.fd, &sb) < 0) return -errno;
    if (!S_ISLNK(sb.st_mode)) return -EINVAL;
    OwnProcAccess own(path, true);
    n = readlinkat(f.fd, "", target, sizeof target);
    if (n < 0) return -errno;
  }
  if (n < 0) return -errno;
  if (n > size) n = size;
  long w = WriteBack(st, buf, target, static_cast<size_t>(n));
  return w < 0 ? w : n;
}

// A truncate that must wait for a lease on the file to break (up to lease-break-time, 45 s by
// default): on a job thread, with tsyd's O_PATH fd `obj` (the job closes it).
static long TruncateOnJob(ThreadState* st, int obj, int64_t length) {
  int r = Offload(st, [obj, length](Job& job) {
    char p[64];
    snprintf(p, sizeof p, "/proc/thread-self/fd/%d", obj);
    JobBlocking(job, true);
    long t = Ret(truncate(p, length));
    JobBlocking(job, false);
    close(obj);
    JobAnswer(job, t);
  });
  if (r != kOffloaded) close(obj);
  return r;
}

static long DoTruncate(ThreadState* st, const char* path, bool magic, int64_t length) {
  if (length < 0) return -EINVAL;
  Fd f;
  if ((f.fd = OpenObject(st, path, magic, true)) < 0) return f.fd;
  // tsyd's fd: emulator threads share tsyd's fd table (the monitor unshares CLONE_FS only).
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", f.fd);
  struct stat sb;
  if (fstat(f.fd, &sb) < 0) return -errno;
  if (!S_ISREG(sb.st_mode)) return Ret(truncate(p, length));
  // SAFETY: truncate waits while another process holds a lease on the file: never in this
  // emulator (the program could hold every emulator with leased files). Opened for writing
  // without blocking (the same permission checks as truncate), a lease answers EWOULDBLOCK at
  // once and the waiting truncate goes to a job thread; no lease can be taken while tsyd has
  // the file open for writing, so the truncate through that fd never waits.
  Fd w;
  if ((w.fd = open(p, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) >= 0) return Ret(ftruncate(w.fd, length));
  if (errno != EWOULDBLOCK) return -errno;
  int obj = f.fd;
  f.fd = -1;
  return TruncateOnJob(st, obj, length);
}

// mkdir, mknod, symlink: create the last name in the checked parent.
static long DoCreate(ThreadState* st, int op, const std::string& path, uint64_t a, uint64_t b) {
  std::string base;
  Fd dir;
  if ((dir.fd = OpenParent(path, &st->anchor, &base)) < 0) return dir.fd == -EBUSY ? -EEXIST : dir.fd;
  if (op == kOpSymlink) {
    char target[PATH_MAX];
    long n = ReadRemoteString(static_cast<pid_t>(st->req->pid), a, target, sizeof target);
    if (!NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
    if (n < 0) return n;
    if (n == 0) return -ENOENT;
    return Ret(symlinkat(target, dir.fd, base.c_str()));
  }
  // Emulator threads run with umask 0: apply the program's own, as the kernel would.
  int um = UmaskOf(static_cast<pid_t>(st->req->pid));
  if (um < 0) return um;
  unsigned mode = static_cast<unsigned>(a);
  if (op == kOpMkdir) return Ret(mkdirat(dir.fd, base.c_str(), mode & 07777 & ~static_cast<unsigned>(um)));
  unsigned type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  // SAFETY: a device node made in a writable directory would give raw access to a disk or
  // to kernel memory under a path the policy allows: only files, FIFOs and sockets.
  if (type == S_IFCHR || type == S_IFBLK) return -EPERM;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK) return -EINVAL;
  mode = (mode & 07777 & ~static_cast<unsigned>(um)) | type;
  return Ret(mknodat(dir.fd, base.c_str(), mode, static_cast<dev_t>(b)));
}

static long DoUnlink(ThreadState* st, const std::string& path, int flags) {
  std::string base;
  Fd dir;
  if ((dir.fd = OpenParent(path, &st->anchor, &base)) < 0) return dir.fd == -EBUSY ? (flags ? -EBUSY : -EISDIR) : dir.fd;
  return Ret(unlinkat(dir.fd, base.c_str(), flags & AT_REMOVEDIR));
}

static long DoLink(ThreadState* st, const std::string& dst, bool follow) {
  std::string dbase;
  Fd ddir;
  if ((ddir.fd = OpenParent(dst, &st->anchor, &dbase)) < 0) return ddir.fd == -EBUSY ? -EEXIST : ddir.fd;
  if (st->path2_magic) {
    // The O_TMPFILE idiom: linkat(AT_FDCWD, "/proc/self/fd/N", ..., AT_SYMLINK_FOLLOW).
    if (!follow) return -EPERM;
    Fd obj;
    // The reopen checks what the link names against what it named when the first path was
    // decided (the second resolution replaced magic_target).
    st->magic_target = st->path2_magic_target;
    if ((obj.fd = OpenObject(st, st->path2.c_str(), true, true)) < 0) return obj.fd;
    char p[64];
    snprintf(p, sizeof p, "/proc/thread-self/fd/%d", obj.fd);
    return Ret(linkat(AT_FDCWD, p, ddir.fd, dbase.c_str(), AT_SYMLINK_FOLLOW));
  }
  std::string sbase;
  Fd sdir;
  if ((sdir.fd = OpenParent(st->path2, &st->anchor2, &sbase)) < 0) return sdir.fd == -EBUSY ? -EPERM : sdir.fd;
  // The source was canonicalised with (or without) following it; its last name is linked
  // as it is now (a symlink swapped in is linked as a symlink, not followed).
  return Ret(linkat(sdir.fd, sbase.c_str(), ddir.fd, dbase.c_str(), 0));
}

static bool IsDirAt(int dirfd, const std::string& name) {
  struct stat sb;
  return fstatat(dirfd, name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

// no_dirs: the paths below the two names would be decided differently, so a directory (which
// takes its subtree along) must not move: EXDEV, and the caller copies file by file.
static long DoRename(ThreadState* st, const std::string& dst, long flags, bool no_dirs) {
  if (flags < 0) flags = 0;
  if (static_cast<unsigned long>(flags) & ~static_cast<unsigned long>(kKnownRenameFlags)) return -EINVAL;
  std::string sbase, dbase;
  Fd sdir, ddir;
  if ((sdir.fd = OpenParent(st->path2, &st->anchor2, &sbase)) < 0) return sdir.fd;
  if ((ddir.fd = OpenParent(dst, &st->anchor, &dbase)) < 0) return ddir.fd;
  if (no_dirs && (IsDirAt(sdir.fd, sbase) || ((flags & RENAME_EXCHANGE) && IsDirAt(ddir.fd, dbase)))) return -EXDEV;
  return Ret(syscall(SYS_renameat2, sdir.fd, sbase.c_str(), ddir.fd, dbase.c_str(), static_cast<unsigned>(flags)));
}

// A path naming the object of tsyd's O_PATH fd `fd` (emulator threads share tsyd's fd table:
// the monitor unshares CLONE_FS only): calls without an *at(fd, "", AT_EMPTY_PATH) form use it.
static void ThreadFdPath(int fd, char (&p)[64]) { snprintf(p, sizeof p, "/proc/thread-self/fd/%d", fd); }

// chmod, chown, utimes, xattrs: on the checked object itself. The canonical path was resolved
// as the call asked (followed or not), so the object is opened without following again: a
// symlink swapped in after the check is acted on as the link, never followed.
static long DoAttr(ThreadState* st, int op, const char* path, bool magic, uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  pid_t tid = static_cast<pid_t>(st->req->pid);
  char name[kXattrNameMax + 1];
  std::string value;
  struct timespec ts[2];
  const struct timespec* times = nullptr;
  // Read everything from the program first, then check the request once.
  if (op == kOpSetxattr || op == kOpRemovexattr) {
    long n = ReadRemoteString(tid, a, name, sizeof name);
    if (n == -ENAMETOOLONG) n = -ERANGE;
    if (n < 0) return NotifIdValid(st->notify_fd, st->req->id) ? n : -ESRCH;
    if (n == 0) return -ERANGE;
    if (op == kOpSetxattr) {
      if (c > kXattrSizeMax) return -E2BIG;
      value.resize(static_cast<size_t>(c));
      if (c > 0 && ReadRemote(tid, b, &value[0], static_cast<size_t>(c)) < 0)
        return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
    }
  }
  if (op == kOpUtimes && a != 0) {
    if (b == kTimespec) {
      if (ReadRemote(tid, a, ts, sizeof ts) < 0) return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
    } else if (b == kTimeval) {
      struct timeval tv[2];
      if (ReadRemote(tid, a, tv, sizeof tv) < 0) return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
      for (int i = 0; i < 2; i++) {
        if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000) return -EINVAL;
        ts[i].tv_sec = tv[i].tv_sec;
        ts[i].tv_nsec = tv[i].tv_usec * 1000;
      }
    } else {
      int64_t ub[2];  // struct utimbuf { time_t actime, modtime; }
      if (ReadRemote(tid, a, ub, sizeof ub) < 0) return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
      for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = ub[i];
        ts[i].tv_nsec = 0;
      }
    }
    times = ts;
  }
  if (!NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
  Fd f;
  // An fd-based call (fchmod & co.) acts on tsyd's copy of the program's fd (takeFd).
  if (st->taken_fd >= 0) {
    if ((f.fd = fcntl(st->taken_fd, F_DUPFD_CLOEXEC, 0)) < 0) return -errno;
  } else if ((f.fd = OpenObject(st, path, magic, false)) < 0) {
    return f.fd;
  }
  char p[64];
  ThreadFdPath(f.fd, p);
  switch (op) {
    case kOpChmod:
      return Ret(chmod(p, static_cast<mode_t>(a) & 07777));
    case kOpChown:
      return Ret(fchownat(f.fd, "", static_cast<uid_t>(a), static_cast<gid_t>(b), AT_EMPTY_PATH));
    case kOpUtimes:
      return Ret(utimensat(f.fd, "", times, AT_EMPTY_PATH));
    case kOpSetxattr:
      return Ret(setxattr(p, name, value.data(), value.size(), static_cast<int>(d)));
    case kOpRemovexattr:
      return Ret(removexattr(p, name));
  }
  return -EINVAL;
}

// statfs on the checked object (followed, as statfs does).
static long DoStatfs(ThreadState* st, const char* path, bool magic, uint64_t buf) {
  Fd f;
  if ((f.fd = OpenObject(st, path, magic, true)) < 0) return f.fd;
  struct statfs sfs;
  if (fstatfs(f.fd, &sfs) < 0) return -errno;
  long w = WriteBack(st, buf, &sfs, sizeof sfs);
  return w < 0 ? w : 0;
}

// Reads an xattr name argument as the kernel does (empty or longer than 255: ERANGE).
static long ReadXattrName(ThreadState* st, uint64_t addr, char (&name)[kXattrNameMax + 1]) {
  long n = ReadRemoteString(static_cast<pid_t>(st->req->pid), addr, name, sizeof name);
  if (n == -ENAMETOOLONG) n = -ERANGE;
  if (n < 0) return NotifIdValid(st->notify_fd, st->req->id) ? n : -ESRCH;
  return n == 0 ? -ERANGE : n;
}

// getxattr/lgetxattr and listxattr/llistxattr on tsyd's O_PATH fd of the checked object, through
// /proc/thread-self/fd/N (no *xattr call takes an O_PATH fd): the magic link leads to the object
// itself, a symlink opened without following included. The kernel's size rules hold because the
// kernel applies them to tsyd's call: size 0 asks for the length, a short buffer is ERANGE, a
// size above the maximum is cut to it.
static long DoGetxattr(ThreadState* st, const char* path, bool magic, uint64_t name_addr, uint64_t value_addr, uint64_t size, bool follow) {
  char name[kXattrNameMax + 1];
  long n = ReadXattrName(st, name_addr, name);
  if (n < 0) return n;
  Fd f;
  if ((f.fd = OpenObject(st, path, magic, follow)) < 0) return f.fd;
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", f.fd);
  const size_t sz = size > kXattrSizeMax ? kXattrSizeMax : static_cast<size_t>(size);
  std::vector<char> value(sz > 0 ? sz : 1);
  ssize_t r = getxattr(p, name, sz > 0 ? value.data() : nullptr, sz);
  if (r < 0) return -errno;
  if (sz > 0 && r > 0) {
    long w = WriteBack(st, value_addr, value.data(), static_cast<size_t>(r));
    if (w < 0) return w;
  }
  return r;
}

static long DoListxattr(ThreadState* st, const char* path, bool magic, uint64_t list_addr, uint64_t size, bool follow) {
  Fd f;
  if ((f.fd = OpenObject(st, path, magic, follow)) < 0) return f.fd;
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", f.fd);
  const size_t sz = size > kXattrListMax ? kXattrListMax : static_cast<size_t>(size);
  std::vector<char> list(sz > 0 ? sz : 1);
  ssize_t r = listxattr(p, sz > 0 ? list.data() : nullptr, sz);
  if (r < 0) return -errno;
  if (sz > 0 && r > 0) {
    long w = WriteBack(st, list_addr, list.data(), static_cast<size_t>(r));
    if (w < 0) return w;
  }
  return r;
}

// inotify_add_watch on tsyd's copy of the program's inotify fd (the same inotify instance:
// the watch and its events are the program's), watching the checked object through
// /proc/thread-self/fd/N. IN_DONT_FOLLOW was applied when the object was opened (the magic
// link leads to the link itself); passed on it would watch the /proc link instead.
// refuse_dirs: JS found that the policy may hide entries of the checked directory.
static long DoInotifyAddWatch(ThreadState* st, const char* path, bool magic, int ifd, uint32_t mask, bool refuse_dirs) {
  Fd obj;
  if ((obj.fd = OpenObject(st, path, magic, !(mask & IN_DONT_FOLLOW))) < 0) return obj.fd;
  if ((mask & IN_ONLYDIR) || refuse_dirs) {
    struct stat sb;
    if (fstat(obj.fd, &sb) < 0) return -errno;
    // Checked here: through the magic link the kernel says ENOENT for a symlink, not ENOTDIR.
    // (A mask that is also invalid gets ENOTDIR, not the kernel's EINVAL: accepted.)
    if ((mask & IN_ONLYDIR) && !S_ISDIR(sb.st_mode)) return -ENOTDIR;
    // SAFETY: a directory's watch reports its entries' names (IN_CREATE "secret"): where the
    // policy may hide one, the names would get past stat. Decided on the object opened.
    if (refuse_dirs && S_ISDIR(sb.st_mode)) return kRefusedDirectoryWatch;
  }
  Fd ino;
  if ((ino.fd = ifd < 0 ? -EBADF : TakeFd(st, ifd)) < 0) return ino.fd;
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", obj.fd);
  return Ret(inotify_add_watch(ino.fd, p, mask & ~static_cast<uint32_t>(IN_DONT_FOLLOW)));
}

// name_to_handle_at on the checked object (its O_PATH fd, or the fd form's copy) with
// AT_EMPTY_PATH. As the kernel does, the mount id and the handle's header are written back on
// EOVERFLOW too (handle_bytes then says the size needed).
static long DoNameToHandle(ThreadState* st, const char* path, bool magic, uint64_t handle_addr, uint64_t mnt_addr, int flags) {
  struct {
    uint32_t handle_bytes;
    int32_t handle_type;
    unsigned char f_handle[kMaxHandleSize];
  } fh{};
  if (ReadRemote(static_cast<pid_t>(st->req->pid), handle_addr, &fh.handle_bytes, sizeof fh.handle_bytes) < 0)
    return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
  Fd f;
  int obj = TakenObject(st);
  if (obj < 0) {
    if ((f.fd = OpenObject(st, path, magic, (flags & AT_SYMLINK_FOLLOW) != 0)) < 0) return f.fd;
    obj = f.fd;
  }
  union {
    int32_t id;
    uint64_t unique;
  } mnt{};
  // The kernel checks handle_bytes (at most 128) and the flags on tsyd's call.
  long r = syscall(SYS_name_to_handle_at, obj, "", &fh, &mnt, (flags & ~AT_SYMLINK_FOLLOW) | AT_EMPTY_PATH);
  if (r < 0 && errno != EOVERFLOW) return -errno;
  const long res = r < 0 ? -EOVERFLOW : 0;
  long w = WriteBack(st, mnt_addr, &mnt, (flags & AT_HANDLE_MNT_ID_UNIQUE) ? sizeof mnt.unique : sizeof mnt.id);
  if (w < 0) return w;
  const size_t len = offsetof(decltype(fh), f_handle) + (res == 0 ? fh.handle_bytes : 0);
  w = WriteBack(st, handle_addr, &fh, len);
  return w < 0 ? w : res;
}

// fsOp(op, a, b, c, d) → the result given to the program (≥ 0 or -errno), after answering it;
// -ESRCH when the caller is gone (nothing answered). Argument indexes are request arguments.
static Napi::Value FsOpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "fsOp");
  if (!st) return env.Undefined();
  int op = info[0].As<Napi::Number>().Int32Value();
  int a = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : -1;
  int b = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : -1;
  int c = info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : -1;
  int d = info.Length() > 4 ? info[4].As<Napi::Number>().Int32Value() : -1;
  if (st->path_len == 0) return Napi::Number::New(env, -EINVAL);
  auto arg = [&](int i) -> uint64_t { return i >= 0 && i < 6 ? st->req->data.args[i] : 0; };
  const char* path = reinterpret_cast<const char*>(st->path);
  const bool magic = st->slots[kPathMagic] != 0;
  const std::string spath(path, st->path_len);
  long r;
  switch (op) {
    // c: the index of the AT flags argument; -1 none; kStatFdItself the fd itself (raw fstat).
    case kOpStat: r = DoStat(st, path, magic, arg(a), b != 0, c >= 0 ? static_cast<int>(arg(c)) : c == kStatFdItself ? AT_EMPTY_PATH : 0, d < 0 ? 0 : d); break;
    case kOpStatx: r = DoStatx(st, path, magic, static_cast<unsigned>(arg(a)), static_cast<unsigned>(arg(b)), arg(c), d < 0 ? 0 : d); break;
    case kOpAccess: r = DoAccess(st, path, magic, static_cast<unsigned>(arg(a)), b >= 0 ? static_cast<long>(static_cast<int32_t>(arg(b))) : -1); break;
    case kOpReadlink: r = DoReadlink(st, path, arg(a), static_cast<long>(static_cast<int32_t>(arg(b)))); break;
    case kOpTruncate: r = DoTruncate(st, path, magic, static_cast<int64_t>(arg(a))); break;
    case kOpMkdir: r = DoCreate(st, op, spath, arg(a), 0); break;
    case kOpMknod: r = DoCreate(st, op, spath, arg(a), arg(b)); break;
    case kOpSymlink: r = DoCreate(st, op, spath, arg(a), 0); break;
    case kOpUnlink: r = DoUnlink(st, spath, a); break;
    case kOpLink: r = DoLink(st, spath, a != 0); break;
    case kOpRename: r = DoRename(st, spath, a >= 0 ? static_cast<long>(static_cast<int32_t>(arg(a))) : -1, b == 1); break;
    case kOpChmod: r = DoAttr(st, op, path, magic, arg(a), 0, 0, 0); break;
    case kOpChown: r = DoAttr(st, op, path, magic, arg(a), arg(b), 0, 0); break;
    case kOpUtimes: r = DoAttr(st, op, path, magic, arg(a), static_cast<uint64_t>(b), 0, 0); break;
    case kOpSetxattr: r = DoAttr(st, op, path, magic, arg(a), arg(b), arg(c), arg(d)); break;
    case kOpRemovexattr: r = DoAttr(st, op, path, magic, arg(a), 0, 0, 0); break;
    case kOpStatfs: r = DoStatfs(st, path, magic, arg(a)); break;
    case kOpGetxattr: r = DoGetxattr(st, path, magic, arg(a), arg(b), arg(c), d == 1); break;
    case kOpListxattr: r = DoListxattr(st, path, magic, arg(a), arg(b), c == 1); break;
    case kOpInotifyAddWatch: r = DoInotifyAddWatch(st, path, magic, static_cast<int>(arg(a)), static_cast<uint32_t>(arg(b)), c == 1); break;
    case kOpNameToHandle: r = DoNameToHandle(st, path, magic, arg(a), arg(b), static_cast<int>(arg(c))); break;
    default: r = -EINVAL;
  }
  // A directory held back: JS answers it with finishStat().
  if (r == kPending) return Napi::Number::New(env, kPending);
  // Handed to a job thread (answered there), or answered EAGAIN when the job table was full.
  if (r == kOffloaded || r == kOffloadFull) return Napi::Number::New(env, r);
  if (r == kRefusedDirectoryWatch) {
    AnswerResult(env, st, -EACCES);
    return Napi::Number::New(env, kRefusedDirectoryWatch);
  }
  if (r == -ESRCH) {
    // The caller died while tsyd acted: nothing to answer (Respond would fail with ENOENT).
    if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  }
  return AnswerResult(env, st, r);
}

// savePath() keeps the canonical path just resolved as the first path of a two-path call.
static Napi::Value SavePath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "savePath");
  if (!st) return env.Undefined();
  st->path2.assign(reinterpret_cast<const char*>(st->path), st->path_len);
  st->path2_magic = st->slots[kPathMagic] != 0;
  st->path2_magic_target = st->magic_target;
  st->anchor2 = std::move(st->anchor);
  return info.Env().Undefined();
}

// The new st_nlink of a directory whose `hidden` subdirectories stat hides (-1: they could not
// be counted). Only file systems that count subdirectories (nlink = 2 + subdirectories) are
// changed; one that reports 1 (btrfs: "not counted") keeps it.
static uint64_t VisibleLinks(uint64_t nlink, int hidden) {
  // SAFETY: when tsyd cannot list the directory it cannot tell how many links are hidden:
  // 1 is what a file system that does not count says, and it reveals nothing.
  if (hidden < 0) return 1;
  if (nlink < 2) return nlink;
  return nlink - 2 >= static_cast<uint64_t>(hidden) ? nlink - static_cast<uint64_t>(hidden) : 2;
}

// finishStat(hidden) writes the held-back directory result with `hidden` subdirectories taken
// out of its link count and answers: the result, or -errno (-ESRCH: the caller is gone).
static Napi::Value FinishStat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "finishStat");
  if (!st) return env.Undefined();
  int hidden = info[0].As<Napi::Number>().Int32Value();
  if (st->pend_kind == 0) return Napi::Number::New(env, -EINVAL);
  size_t len;
  if (st->pend_kind == 1) {
    struct stat* sb = reinterpret_cast<struct stat*>(st->pend_buf);
    sb->st_nlink = static_cast<nlink_t>(VisibleLinks(sb->st_nlink, hidden));
    len = sizeof *sb;
  } else {
    struct statx* sx = reinterpret_cast<struct statx*>(st->pend_buf);
    sx->stx_nlink = static_cast<uint32_t>(VisibleLinks(sx->stx_nlink, hidden));
    len = sizeof *sx;
  }
  long w = WriteBack(st, st->pend_addr, st->pend_buf, len);
  DropPendingStat(st);
  if (w == -ESRCH && !NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  return AnswerResult(env, st, w < 0 ? w : 0);
}

// finishStatAs(fd) writes the held-back regular file's result with the size and times of tsyd's
// file `fd` (a crypt file's plaintext buffer: what an open of it gives the program) and the
// crypt file's one identity (so that stat by name and fstat of the open file agree), or
// unchanged when fd < 0;
// answers: 0, or -errno (-ESRCH: the caller is gone).
static Napi::Value FinishStatAs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "finishStatAs");
  if (!st) return env.Undefined();
  const int fd = info[0].As<Napi::Number>().Int32Value();
  if (st->pend_kind == 0) return Napi::Number::New(env, -EINVAL);
  struct stat as;
  const bool patch = fd >= 0 && fstat(fd, &as) == 0;
  size_t len;
  if (st->pend_kind == 1) {
    struct stat* sb = reinterpret_cast<struct stat*>(st->pend_buf);
    if (patch) {
      // The buffer's size and times, the file's one identity (its mode and owner as on disk now).
      const struct stat disk = *sb;
      *sb = as;
      if (!ShowCryptIdentity(sb, &disk)) sb->st_mode = disk.st_mode, sb->st_uid = disk.st_uid, sb->st_gid = disk.st_gid, sb->st_nlink = disk.st_nlink;
    }
    len = sizeof *sb;
  } else {
    struct statx* sx = reinterpret_cast<struct statx*>(st->pend_buf);
    if (patch) {
      CryptIdentity id;
      if (CryptIdentityOf(as.st_dev, as.st_ino, nullptr, &id)) as.st_dev = id.dev, as.st_ino = id.ino;
      sx->stx_dev_major = major(as.st_dev), sx->stx_dev_minor = minor(as.st_dev);
      if (sx->stx_mask & STATX_INO) sx->stx_ino = as.st_ino;
      auto put = [](struct statx_timestamp& t, const struct timespec& ts) { t.tv_sec = ts.tv_sec, t.tv_nsec = static_cast<uint32_t>(ts.tv_nsec); };
      if (sx->stx_mask & STATX_ATIME) put(sx->stx_atime, as.st_atim);
      if (sx->stx_mask & STATX_MTIME) put(sx->stx_mtime, as.st_mtim);
      if (sx->stx_mask & STATX_CTIME) put(sx->stx_ctime, as.st_ctim);
      if (sx->stx_mask & STATX_SIZE) sx->stx_size = static_cast<uint64_t>(as.st_size);
      if (sx->stx_mask & STATX_BLOCKS) sx->stx_blocks = static_cast<uint64_t>(as.st_blocks);
    }
    len = sizeof *sx;
  }
  long w = WriteBack(st, st->pend_addr, st->pend_buf, len);
  DropPendingStat(st);
  if (w == -ESRCH && !NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  return AnswerResult(env, st, w < 0 ? w : 0);
}

// pendingIdentity() → "dev:ino:nlink:mtime:ctime" of the held-back directory (a key for what its
// listing said: a subdirectory made or removed changes nlink and mtime), or '' without one.
static Napi::Value PendingIdentity(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "pendingIdentity");
  if (!st) return env.Undefined();
  char key[160] = "";
  if (st->pend_kind == 1) {
    const struct stat* sb = reinterpret_cast<const struct stat*>(st->pend_buf);
    snprintf(key, sizeof key, "%llu:%llu:%llu:%lld.%ld:%lld.%ld", static_cast<unsigned long long>(sb->st_dev),
             static_cast<unsigned long long>(sb->st_ino), static_cast<unsigned long long>(sb->st_nlink),
             static_cast<long long>(sb->st_mtim.tv_sec), sb->st_mtim.tv_nsec, static_cast<long long>(sb->st_ctim.tv_sec),
             sb->st_ctim.tv_nsec);
  } else if (st->pend_kind == 2) {
    const struct statx* sx = reinterpret_cast<const struct statx*>(st->pend_buf);
    // Only the fields the program asked for are there: without all of them, no key (two
    // directories would share one).
    const unsigned need = STATX_INO | STATX_NLINK | STATX_MTIME | STATX_CTIME;
    if ((sx->stx_mask & need) != need) return Napi::String::New(env, "");
    snprintf(key, sizeof key, "%llu:%llu:%llu:%lld.%u:%lld.%u",
             static_cast<unsigned long long>(makedev(sx->stx_dev_major, sx->stx_dev_minor)),
             static_cast<unsigned long long>(sx->stx_ino), static_cast<unsigned long long>(sx->stx_nlink),
             static_cast<long long>(sx->stx_mtime.tv_sec), sx->stx_mtime.tv_nsec, static_cast<long long>(sx->stx_ctime.tv_sec),
             sx->stx_ctime.tv_nsec);
  }
  return Napi::String::New(env, key);
}

// pendingSubdirs() → the names of the held-back directory's subdirectories (NUL-terminated,
// one after the other), listed through a fresh open of it (the program's rights), or -errno.
static Napi::Value PendingSubdirs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "pendingSubdirs");
  if (!st) return env.Undefined();
  if (st->pend_kind == 0 || st->pend_fd < 0) return Napi::Number::New(env, -EINVAL);
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", st->pend_fd);
  Fd d;
  if ((d.fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) return Napi::Number::New(env, -errno);
  std::string names;
  std::vector<char> buf(32 * 1024);
  for (;;) {
    long n = syscall(SYS_getdents64, d.fd, buf.data(), buf.size());
    if (n < 0) return Napi::Number::New(env, -errno);
    if (n == 0) break;
    for (long at = 0; at < n;) {
      // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
      const char* rec = buf.data() + at;
      uint16_t reclen;
      memcpy(&reclen, rec + 16, sizeof reclen);
      if (reclen == 0) break;
      at += reclen;
      const unsigned char type = static_cast<unsigned char>(rec[18]);
      const char* name = rec + 19;
      if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
      bool dir = type == DT_DIR;
      if (type == DT_UNKNOWN) {
        struct stat sb;
        dir = fstatat(d.fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
      }
      if (dir) names.append(name, strlen(name) + 1);
    }
  }
  return Napi::Buffer<char>::Copy(env, names.data(), names.size());
}

void InitFsops(Napi::Env env, Napi::Object exports) {
  exports.Set("fsOp", Napi::Function::New(env, FsOpJs, "fsOp"));
  exports.Set("savePath", Napi::Function::New(env, SavePath, "savePath"));
  exports.Set("finishStat", Napi::Function::New(env, FinishStat, "finishStat"));
  exports.Set("finishStatAs", Napi::Function::New(env, FinishStatAs, "finishStatAs"));
  exports.Set("pendingSubdirs", Napi::Function::New(env, PendingSubdirs, "pendingSubdirs"));
  exports.Set("pendingIdentity", Napi::Function::New(env, PendingIdentity, "pendingIdentity"));
}

}  // namespace tsyd
