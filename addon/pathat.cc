// Canonical paths of any length, and the directories the kernel cannot name by their /proc link.
// PATH_MAX limits the string one call passes, not the path it names: a program that chdirs (or
// opens directories) down a tree makes paths much longer, and the kernel's readlink of
// /proc/<pid>/cwd then fails with ENAMETOOLONG. tsyd decides on such paths (up to kMaxPathLen)
// and reaches them in steps shorter than PATH_MAX; a removed directory is decided on the path it
// had and reached through its fd (Anchor).
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tsyd {

namespace {

struct OwnedFd {
  int fd = -1;
  OwnedFd() = default;
  explicit OwnedFd(int f) : fd(f) {}
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() {
    if (fd >= 0) close(fd);
  }
  void Replace(int f) {
    if (fd >= 0) close(fd);
    fd = f;
  }
};

// What tells two names of one object apart from two objects: its mount, device and inode.
struct Identity {
  uint64_t mnt = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const Identity& o) const { return mnt == o.mnt && dev == o.dev && ino == o.ino; }
};

int IdentityAt(int dirfd, const char* name, int flags, Identity* id) {
  struct statx sx;
  if (statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_MNT_ID, &sx) < 0) return -errno;
  id->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
  id->ino = sx.stx_ino;
  id->mnt = (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
  return 0;
}

// The link of tsyd's fd: its length, or -errno (ENAMETOOLONG: the kernel names no path that long).
long LinkOfOwnFd(int fd, std::string* out) {
  char p[64], buf[PATH_MAX];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", fd);
  ssize_t n = readlink(p, buf, sizeof buf);
  if (n < 0) return -errno;
  if (n >= static_cast<ssize_t>(sizeof buf)) return -ENAMETOOLONG;
  out->assign(buf, static_cast<size_t>(n));
  return n;
}

// The name of the directory `child` among the entries of `parent` (open for reading), from the
// reading offset: the entry that is the same object (mount, device, inode: two bind mounts of one
// directory are told apart). by_ino: only entries whose inode number is the child's are looked
// at; else every directory (a mount point's entry has the inode under the mount). 0 or -errno
// (ENOENT: none is).
int ScanFor(int parent, const Identity& child, bool by_ino, std::string* name) {
  char buf[8192];
  for (;;) {
    long n = syscall(SYS_getdents64, parent, buf, sizeof buf);
    if (n < 0) return -errno;
    if (n == 0) return -ENOENT;
    for (long at = 0; at < n;) {
      // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
      const char* rec = buf + at;
      uint64_t ino;
      uint16_t reclen;
      memcpy(&ino, rec, sizeof ino);
      memcpy(&reclen, rec + 16, sizeof reclen);
      if (reclen == 0) return -EIO;
      at += reclen;
      const unsigned char type = static_cast<unsigned char>(rec[18]);
      const char* entry = rec + 19;
      if (!strcmp(entry, ".") || !strcmp(entry, "..")) continue;
      if (by_ino ? ino != child.ino : type != DT_DIR && type != DT_UNKNOWN) continue;
      Identity id;
      if (IdentityAt(parent, entry, 0, &id) == 0 && id == child) {
        name->assign(entry);
        return 0;
      }
    }
  }
}

// The name of `child` in `parent`: by its inode number first, then among all directories.
int NameIn(int parent, const Identity& child, std::string* name) {
  int r = ScanFor(parent, child, true, name);
  if (r != -ENOENT || lseek(parent, 0, SEEK_SET) < 0) return r;
  return ScanFor(parent, child, false, name);
}

// `path` (not following a final symlink) leads to the object `id`.
bool Leads(const std::string& path, const Identity& id) {
  PathAt at;
  Identity got;
  return !path.empty() && path[0] == '/' && at.Open(path, nullptr) == 0 &&
         IdentityAt(at.dirfd(), at.name(), 0, &got) == 0 && got == id;
}

// A path rebuilt before for the directory `id`, if it still leads there.
bool Known(const DirNames* known, const Identity& id, std::string* path) {
  if (known == nullptr) return false;
  for (const DirNames::Entry& e : known->entries) {
    if (e.mnt == id.mnt && e.dev == id.dev && e.ino == id.ino && Leads(e.path, id)) {
      *path = e.path;
      return true;
    }
  }
  return false;
}

void Remember(DirNames* known, const Identity& id, const std::string& path) {
  if (known == nullptr) return;
  DirNames::Entry& e = known->entries[known->next++ % (sizeof known->entries / sizeof known->entries[0])];
  e.mnt = id.mnt;
  e.dev = id.dev;
  e.ino = id.ino;
  e.path = path;
}

// The path of tsyd's directory fd `fd` when its link is too long for the kernel to name (the
// caller found so): ".." walked up to the first ancestor whose link it names (or whose path was
// rebuilt before and still leads to it: `known`), each directory on the way named by finding it
// in its parent (NameIn).
// As glibc's getcwd does when the getcwd call fails. 0 or -errno (EACCES: a parent that tsyd,
// with the program's rights, may not list).
int RebuildPath(int fd, DirNames* known, std::string* out) {
  std::vector<std::string> names;  // the start directory's own name first
  size_t total = 0;
  OwnedFd up;
  int cur = fd;
  std::string top;
  Identity start;
  for (;;) {
    Identity id;
    int r = IdentityAt(cur, "", AT_EMPTY_PATH, &id);
    if (r < 0) return r;
    if (cur == fd) start = id;
    if (Known(known, id, &top)) break;
    long n = cur == fd ? -ENAMETOOLONG : LinkOfOwnFd(cur, &top);
    if (n >= 0) break;
    if (n != -ENAMETOOLONG) return static_cast<int>(n);
    int parent = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent < 0) return -errno;
    up.Replace(parent);
    cur = parent;
    std::string name;
    if ((r = NameIn(parent, id, &name)) < 0) return r;
    total += name.size() + 1;
    if (total >= kMaxPathLen) return -ENAMETOOLONG;
    names.push_back(std::move(name));
  }
  // SAFETY: the ancestor named is live (its entries were listed, and a removed directory lists
  // none; or a path leads to it), so its link is its path, not one ending in " (deleted)".
  if (top.empty() || top[0] != '/') return -ENOENT;
  *out = top == "/" ? std::string() : top;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    out->push_back('/');
    out->append(*it);
  }
  if (out->empty()) out->assign("/");
  if (out->size() >= kMaxPathLen) return -ENAMETOOLONG;
  if (!names.empty()) Remember(known, start, *out);
  return 0;
}

// The object at `path` (not following a final symlink) is tsyd's fd `fd` itself.
bool IsNamedAs(int fd, const std::string& path) {
  Identity id;
  return IdentityAt(fd, "", AT_EMPTY_PATH, &id) == 0 && Leads(path, id);
}

}  // namespace

void Anchor::Reset() {
  if (fd >= 0) close(fd);
  fd = -1;
  path.clear();
}

bool Anchor::Holds(const std::string& p) const {
  if (fd < 0 || path.empty()) return false;
  return p.compare(0, path.size(), path) == 0 && (p.size() == path.size() || p[path.size()] == '/');
}

Anchor& Anchor::operator=(Anchor&& other) noexcept {
  if (this != &other) {
    Reset();
    fd = other.fd;
    path = std::move(other.path);
    other.fd = -1;
    other.path.clear();
  }
  return *this;
}

PathAt::~PathAt() {
  if (owned_ >= 0) close(owned_);
}

int PathAt::Open(const std::string& path, const Anchor* anchor) {
  size_t from = 0;
  int at = AT_FDCWD;
  if (anchor != nullptr && anchor->Holds(path)) {
    at = anchor->fd;
    from = path.size() == anchor->path.size() ? path.size() : anchor->path.size() + 1;
  }
  if (path.size() - from < PATH_MAX) {
    dirfd_ = at;
    name_ = from == path.size() ? "." : path.c_str() + from;
    return 0;
  }
  if (path.size() >= kMaxPathLen) return -ENAMETOOLONG;
  // SAFETY: each step is opened without following any symlink or magic link, relative to the
  // one before: together, the same guarantee as one openat2 of the whole prefix with
  // RESOLVE_NO_SYMLINKS. A step ends at a '/', so that no name is cut.
  open_how how{};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  while (path.size() - from >= PATH_MAX) {
    size_t cut = path.rfind('/', from + PATH_MAX - 1);
    if (cut == std::string::npos || cut <= from) return -ENAMETOOLONG;
    const std::string step = path.substr(from, cut - from);
    int fd = static_cast<int>(syscall(SYS_openat2, at, step.c_str(), &how, sizeof how));
    if (fd < 0) return -errno;
    if (owned_ >= 0) close(owned_);
    owned_ = at = fd;
    from = cut + 1;
  }
  dirfd_ = at;
  name_ = path.c_str() + from;
  return 0;
}

int StatPath(const std::string& path, const Anchor* anchor, struct stat* sb, bool follow) {
  OwnProcAccess own(path, true);
  PathAt at;
  int r = at.Open(path, own.Through(anchor));
  if (r < 0) return r;
  return fstatat(at.dirfd(), at.name(), sb, follow ? 0 : AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

long ReadlinkPath(const std::string& path, const Anchor* anchor, char* buf, size_t size) {
  OwnProcAccess own(path, true);
  PathAt at;
  int r = at.Open(path, own.Through(anchor));
  if (r < 0) return r;
  ssize_t n = readlinkat(at.dirfd(), at.name(), buf, size);
  return n < 0 ? -errno : n;
}

int Openat2Path(const std::string& path, const Anchor* anchor, uint64_t flags, uint64_t mode, uint64_t resolve) {
  // SAFETY: a name in the caller's own fd directory may be looked up when nothing is opened through
  // it: O_PATH opens no data, and RESOLVE_NO_MAGICLINKS refuses its magic links (ELOOP).
  OwnProcAccess own(path, (flags & O_PATH) != 0 || (resolve & RESOLVE_NO_MAGICLINKS) != 0);
  PathAt at;
  int r = at.Open(path, own.Through(anchor));
  if (r < 0) return r;
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  int fd = static_cast<int>(syscall(SYS_openat2, at.dirfd(), at.name(), &how, sizeof how));
  return fd < 0 ? -errno : fd;
}

int StatfsPath(const std::string& path, const Anchor* anchor, struct statfs* sf) {
  PathAt at;
  int r = at.Open(path, anchor);
  if (r < 0) return r;
  if (at.dirfd() == AT_FDCWD) return statfs(at.name(), sf) < 0 ? -errno : 0;
  OwnedFd f(openat(at.dirfd(), at.name(), O_PATH | O_CLOEXEC));
  if (f.fd < 0) return -errno;
  return fstatfs(f.fd, sf) < 0 ? -errno : 0;
}

int NameOfFd(int fd, DirNames* names, std::string* name, bool* dead) {
  *dead = false;
  long n = LinkOfOwnFd(fd, name);
  if (n == -ENAMETOOLONG) return RebuildPath(fd, names, name);
  if (n < 0) return static_cast<int>(n);
  // SAFETY: " (deleted)" is the kernel's mark of a removed object only when the path does not
  // lead to this very object: a directory really named "x (deleted)" is decided as itself.
  if (!IsDeletedTarget(*name) || IsNamedAs(fd, *name)) return 0;
  name->resize(name->size() - (sizeof " (deleted)" - 1));
  *dead = true;
  return 0;
}

int NameThroughLink(const char* link, int missing, DirNames* names, int* fd, std::string* name, bool* dead) {
  long r = AsCaller([&]() -> long {
    int f = open(link, O_PATH | O_CLOEXEC);
    return f < 0 ? -errno : f;
  });
  if (r < 0) return r == -ENOENT ? -missing : static_cast<int>(r);
  OwnedFd own(static_cast<int>(r));
  int e = NameOfFd(own.fd, names, name, dead);
  if (e < 0) return e;
  *fd = own.fd;
  own.fd = -1;
  return 0;
}

}  // namespace tsyd
