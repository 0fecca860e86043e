// Canonicalisation of a path in the sandboxed program's view: the decision is made on the
// result, and the emulated open then opens exactly this string with RESOLVE_NO_SYMLINKS.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tsyd {

static constexpr int kMaxSymlinks = 40;  // as the kernel's MAXSYMLINKS
// ResolveResult::slash (kPathSlash) bits.
static constexpr int kEndsInSlash = 1;
static constexpr int kLastIsDir = 2;

// Reads the status file `status` below `dirfd` (a /proc/<pid> directory fd, or AT_FDCWD and a
// whole path) into buf (NUL-terminated): its length, or -errno.
static long ReadStatusIn(int dirfd, const char* status, char* buf, size_t size) {
  int fd = openat(dirfd, status, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return -ESRCH;
  buf[n] = 0;
  return n;
}

long ReadProcStatus(pid_t tid, char* buf, size_t size) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/status", tid);
  return ReadStatusIn(AT_FDCWD, p, buf, size);
}

pid_t TgidInProcDir(int dirfd, const char* status) {
  char buf[1024];
  long n = ReadStatusIn(dirfd, status, buf, sizeof buf);
  if (n < 0) return static_cast<pid_t>(n);
  const char* t = strstr(buf, "\nTgid:");
  if (!t) return -ESRCH;
  return static_cast<pid_t>(strtol(t + 6, nullptr, 10));
}

// The last id of line `key` (NStgid:, NSpid:) in tsyd's /proc/<tid>/status: the id in the
// task's own pid namespace (a container's), or -errno.
pid_t NsIdOf(pid_t tid, const char* key) {
  char buf[2048];
  long n = ReadProcStatus(tid, buf, sizeof buf);
  if (n < 0) return static_cast<pid_t>(n);
  const char* t = strstr(buf, key);
  if (!t) return -ESRCH;
  const char* end = strchr(t, '\n');
  const char* last = end ? end : t + strlen(t);
  while (last > t && (last[-1] == ' ' || last[-1] == '\t')) last--;
  const char* start = last;
  while (start > t && start[-1] >= '0' && start[-1] <= '9') start--;
  if (start == last) return -ESRCH;
  return static_cast<pid_t>(strtol(start, nullptr, 10));
}

pid_t TgidOf(pid_t tid) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/status", tid);
  return TgidInProcDir(AT_FDCWD, p);
}

// Reads a link of the caller's /proc entry (cwd or an fd): the directory a relative path
// starts from. A path too long for the kernel to name, or one ending in " (deleted)", is named
// through tsyd's fd of the directory (NameThroughLink); a removed directory becomes the walk's
// anchor, and so does every start directory with opts.anchor_start. Returns 0 or -errno.
static int ProcLink(pid_t tid, int dirfd, const ResolveOpts& opts, std::string* out, Anchor* anchor) {
  char p[64];
  if (dirfd == AT_FDCWD) {
    snprintf(p, sizeof p, "/proc/%d/cwd", tid);
  } else {
    if (dirfd < 0) return -EBADF;
    snprintf(p, sizeof p, "/proc/%d/fd/%d", tid, dirfd);
  }
  const int missing = dirfd == AT_FDCWD ? ENOENT : EBADF;
  if (opts.anchor_start) {
    // SAFETY: opened first, then named from tsyd's own fd (NameThroughLink): the path that
    // decides is the name of the very directory the walk and the act start from, whatever the
    // program's cwd or fd table become meanwhile.
    int fd = -1;
    bool dead = false;
    if (dirfd == AT_FDCWD || opts.caller == nullptr) {
      int r = NameThroughLink(p, missing, opts.names, &fd, out, &dead);
      if (r < 0) return r;
    } else {
      if ((fd = TakeFd(opts.caller, dirfd)) < 0) return fd;
      int r = NameOfFd(fd, opts.names, out, &dead);
      if (r < 0) {
        close(fd);
        return r;
      }
    }
    anchor->Reset();
    anchor->fd = fd;
    anchor->path = *out;
    if (out->empty() || (*out)[0] != '/') return -ENOTDIR;  // pipe:[..], socket:[..], ...
    return 0;
  }
  DirNames* const names = opts.names;
  char buf[PATH_MAX];
  long n = AsCaller([&]() -> long {
    ssize_t r = readlink(p, buf, sizeof buf);
    return r < 0 ? -errno : r;
  });
  if (n < 0 && n != -ENAMETOOLONG) return n == -ENOENT ? -missing : static_cast<int>(n);
  if (n >= 0 && n < static_cast<ssize_t>(sizeof buf)) out->assign(buf, static_cast<size_t>(n));
  if (n < 0 || n >= static_cast<ssize_t>(sizeof buf) || IsDeletedTarget(*out)) {
    int fd = -1;
    bool dead = false;
    int r = NameThroughLink(p, missing, names, &fd, out, &dead);
    if (r < 0) return r;
    // SAFETY: a removed directory is decided on the path it had and walked from itself: what
    // is at that path now is another object, never reached from here.
    anchor->Reset();
    if (dead) {
      anchor->fd = fd;
      anchor->path = *out;
    } else {
      close(fd);
    }
  }
  if (out->empty() || (*out)[0] != '/') return -ENOTDIR;  // pipe:[..], socket:[..], ...
  return 0;
}

static void PushComponents(std::vector<std::string>* pending, const std::string& s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) parts.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending->push_back(*it);
}

static void PopComponent(std::string* out) {
  size_t slash = out->rfind('/');
  if (slash == 0) out->resize(1);
  else if (slash != std::string::npos) out->resize(slash);
}

static void Append(std::string* out, const std::string& c) {
  if (out->size() > 1) out->push_back('/');
  out->append(c);
}

bool IsDeletedTarget(const std::string& t) {
  static const char kDeleted[] = " (deleted)";
  const size_t k = sizeof kDeleted - 1;
  return t.size() > k && t.compare(t.size() - k, k, kDeleted) == 0;
}

std::string DeletedFilePath(const std::string& t) {
  // memfds ("/memfd:NAME (deleted)") never had a path: they stay objects without one.
  if (!IsDeletedTarget(t) || t.compare(0, 7, "/memfd:") == 0) return std::string();
  return t.substr(0, t.size() - (sizeof " (deleted)" - 1));
}

// The parent of a process, from /proc/<pid>/stat; -1 once it is gone.
static pid_t ParentOf(pid_t pid) {
  char p[64], buf[512];
  snprintf(p, sizeof p, "/proc/%d/stat", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  const char* s = strrchr(buf, ')');
  if (!s || s[1] == 0 || s[2] == 0) return -1;
  // ") S PPID ..."
  return static_cast<pid_t>(strtol(s + 3, nullptr, 10));
}

// True when process `pid` is below the reaper: one of the sandbox's own processes.
static bool InSandbox(pid_t pid, pid_t reaper) {
  if (reaper <= 0) return true;  // not under a reaper (tests, tools): no sandbox to tell apart
  for (int depth = 0; depth < 4096 && pid > 1; depth++) {
    pid_t parent = ParentOf(pid);
    if (parent == reaper) return true;
    pid = parent;
  }
  return false;
}

// /proc/<pid>/ENTRY (or /proc/<pid>/task/<tid>/ENTRY) that the kernel guards with a ptrace
// access check: another process's memory, environment, fds, cwd and root.
static bool IsPtraceGuarded(const std::string& path) {
  static const char* const kGuarded[] = {"mem", "environ", "auxv", "pagemap", "maps", "smaps", "smaps_rollup",
                                         "numa_maps", "stack", "syscall", "fd", "fdinfo", "map_files", "cwd",
                                         "root", "exe", "io", "personality", "timers", "timerslack_ns", "ns"};
  size_t i = path.find('/', 6);  // after "/proc/<pid>"
  if (i == std::string::npos) return false;
  std::string rest = path.substr(i + 1);
  if (rest.compare(0, 5, "task/") == 0) {
    size_t j = rest.find('/', 5);
    if (j == std::string::npos) return false;
    rest = rest.substr(j + 1);
  }
  std::string entry = rest.substr(0, rest.find('/'));
  for (const char* g : kGuarded)
    if (entry == g) return true;
  return false;
}

bool IsTsydPid(long pid) {
  if (pid <= 0) return false;
  return pid == getpid() || TgidOf(static_cast<pid_t>(pid)) == getpid();
}

// /proc/<digits>[/...] → digits, or -1.
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

// Whether `path` (or, when it does not exist, its nearest existing ancestor) is on a procfs
// mounted somewhere other than /proc (a chroot's /proc, a monitoring agent's /host/proc).
static bool OnProcfsElsewhere(const std::string& path, const Anchor* anchor) {
  if (path == "/proc" || path.compare(0, 6, "/proc/") == 0) return false;
  std::string p = path;
  // A symlink is on its directory's file system: statfs would follow it (/etc/mtab leads to
  // /proc/self/mounts, yet lstat, readlink, rm and mv of /etc/mtab touch no procfs).
  struct stat lst;
  if (StatPath(p, anchor, &lst, false) == 0 && S_ISLNK(lst.st_mode)) {
    size_t cut = p.rfind('/');
    p = cut == 0 ? std::string("/") : p.substr(0, cut);
  }
  struct statfs sf;
  for (int r; (r = StatfsPath(p, anchor, &sf)) < 0;) {
    if ((r != -ENOENT && r != -ENOTDIR) || p == "/" || p.empty()) return false;
    size_t cut = p.rfind('/');
    p = cut == 0 ? std::string("/") : p.substr(0, cut);
  }
  return sf.f_type == PROC_SUPER_MAGIC;
}

static long ProcPid(const std::string& path) {
  if (path.compare(0, 6, "/proc/") != 0) return -1;
  size_t i = 6, j = i;
  while (j < path.size() && path[j] >= '0' && path[j] <= '9') j++;
  if (j == i || (j < path.size() && path[j] != '/')) return -1;
  return strtol(path.c_str() + i, nullptr, 10);
}

// A /proc link whose target is not a path that can be opened again by name.
static bool IsMagicTarget(const std::string& t) {
  if (!t.empty() && t[0] == '/') return IsDeletedTarget(t);
  size_t colon = t.find(':');
  size_t slash = t.find('/');
  return colon != std::string::npos && (slash == std::string::npos || colon < slash);
}

// The mount a path is on (statx STATX_MNT_ID, not following a final symlink); 0 if unknown.
static uint64_t MountOf(const std::string& path, const Anchor* anchor) {
  struct statx sx;
  PathAt at;
  if (at.Open(path, anchor) < 0 || statx(at.dirfd(), at.name(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0) return 0;
  return (sx.stx_mask & STATX_MNT_ID) ? sx.stx_mnt_id : 0;
}

// Plain paths of at least this many components take PlainWalk: fewer cost the walk no more.
static constexpr int kPlainWalkMin = 3;

// The walk in one lookup, for a path of plain components (no "." or "..", no trailing '/')
// from `start`: one openat2(O_PATH) of the whole path with RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS (O_NOFOLLOW with `nofollow_last`) instead of a readlink per component.
// True, with *full set, when it opened: then every component exists and none is a symlink (the
// last may be one when it is not followed), so the walk would have read each one as "not a
// symlink" and ended on this very string with no excursion to record. False for everything
// else (a symlink, a missing or non-directory component, EACCES, /proc): the walk answers.
// SAFETY: /proc is left to the walk (/proc/self, tsyd's pids, magic links); the decision is
// still made on the string, and the emulated call opens it again with RESOLVE_NO_SYMLINKS.
static bool PlainWalk(const std::string& start, const Anchor* anchor, const char* raw, bool nofollow_last, std::string* full) {
  std::string p = start;
  int components = 0;
  for (const char* s = raw; *s != 0;) {
    while (*s == '/') s++;
    if (*s == 0) break;
    const char* e = strchrnul(s, '/');
    const size_t len = static_cast<size_t>(e - s);
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) return false;
    if (p.size() > 1) p.push_back('/');
    p.append(s, len);
    components++;
    s = e;
  }
  if (components < kPlainWalkMin || p.size() >= PATH_MAX) return false;
  if (p.compare(0, 5, "/proc") == 0 && (p.size() == 5 || p[5] == '/')) return false;
  // From the walk's anchor when it holds the path (a removed or taken start directory).
  int fd = Openat2Path(p, anchor, O_PATH | O_CLOEXEC | (nofollow_last ? O_NOFOLLOW : 0), 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return false;
  close(fd);
  *full = std::move(p);
  return true;
}

static long CanonicalizeIn(pid_t tid, int dirfd, const char* raw, const ResolveOpts& opts, char* outbuf,
                           size_t outsz, ResolveResult* res, std::string& out, std::string& next) {
  res->magic = false;
  res->missing = false;
  res->dot_last = 0;
  res->slash = 0;
  res->decide_as.clear();
  res->left.clear();
  res->magic_target.clear();
  res->anchor.Reset();
  const Anchor* const anchor = &res->anchor;
  if (raw[0] == 0) return -ENOENT;
  {
    size_t end = strlen(raw);
    while (end > 1 && raw[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && raw[start - 1] != '/') start--;
    if (end - start == 1 && raw[start] == '.') res->dot_last = 1;
    if (end - start == 2 && raw[start] == '.' && raw[start + 1] == '.') res->dot_last = 2;
  }
  const bool absolute = raw[0] == '/';
  std::string base;
  if (!absolute || opts.in_root) {
    int r = ProcLink(tid, dirfd, opts, &base, &res->anchor);
    if (r < 0) return r;
  }
  // SAFETY: RESOLVE_BENEATH refuses absolute paths and `..` above the start directory;
  // RESOLVE_IN_ROOT treats the start directory as `/` for absolute paths, `..` and symlinks.
  if (absolute && opts.beneath) return -EXDEV;
  const std::string root = opts.in_root ? base : std::string("/");
  out = absolute ? root : base;
  // SAFETY: RESOLVE_NO_XDEV: every component must stay on the mount the walk starts on.
  const uint64_t start_mount = opts.no_xdev ? MountOf(out, anchor) : 0;
  auto crossed = [&](const std::string& p) { return opts.no_xdev && MountOf(p, anchor) != start_mount; };
  pid_t tgid = 0;
  auto own_tgid = [&]() -> pid_t {
    if (tgid == 0) tgid = t_view.own_pidns ? NsIdOf(tid, "NStgid:") : TgidOf(tid);
    return tgid;
  };
  // SAFETY: in a container's /proc, the guarded entries of any process (exe, cwd, root, fd,
  // environ, mem, ...; the caller's own too: a number names it only in its own namespace's
  // procfs) are looked up, followed and opened by the emulator only where that /proc names no
  // process of tsyd (view-proc.cc): the emulator's thread group is tsyd's, which the kernel's
  // ptrace-access check never refuses. Asked once per walk.
  int view_proc_hides_tsyd = -1;
  auto view_refuses = [&](const std::string& p) -> bool {
    if (!t_view.own_pidns || ProcPid(p) <= 0 || !IsPtraceGuarded(p)) return false;
    if (view_proc_hides_tsyd < 0) view_proc_hides_tsyd = ViewProcHidesTsyd() ? 1 : 0;
    return view_proc_hides_tsyd == 0;
  };

  std::vector<std::string> pending;
  const size_t rawlen = strlen(raw);
  const bool trailing_slash = raw[rawlen - 1] == '/';
  std::string plain;
  // The walk below, in one lookup where that is the same (PlainWalk): not for the resolve
  // modes that check each step (beneath, in_root, no_xdev).
  if (!opts.beneath && !opts.in_root && !opts.no_xdev && !trailing_slash &&
      PlainWalk(out, anchor, raw, opts.nofollow_last, &plain))
    out = std::move(plain);
  else
    PushComponents(&pending, raw);
  // "name/" names a directory for a lookup (followed, ENOTDIR otherwise); for the entry a call
  // makes or removes (slash_entry) the name itself, and JS answers as the kernel does.
  const bool follow_slash = trailing_slash && !opts.slash_entry;
  const bool entry_last = opts.nofollow_last ? !follow_slash : opts.slash_entry && trailing_slash;
  int links = 0;
  char link[PATH_MAX];
  bool popping = false;
  while (!pending.empty()) {
    // SAFETY: a walk that left a removed start directory (through "..", or an absolute symlink)
    // finds by name what is at its paths now: the anchor no longer stands for them.
    if (!res->anchor.Holds(out)) res->anchor.Reset();
    std::string c = std::move(pending.back());
    pending.pop_back();
    next.clear();
    const bool last = pending.empty();
    if (c != "..") popping = false;
    if (c == "." || c == "..") {
      // "file/." and "file/.." fail as in the kernel: only a directory has . and ..
      struct stat dst;
      if (StatPath(out, anchor, &dst, true) == 0 && !S_ISDIR(dst.st_mode)) return -ENOTDIR;
    }
    if (c == ".") continue;
    if (c == "..") {
      if (out == root) continue;  // `..` of the root is the root
      if (opts.beneath && out == base) return -EXDEV;
      // The deepest point of an excursion: JS checks it is not hidden (kPathLeftLen).
      if (!popping) {
        res->left.append(out);
        res->left.push_back('\0');
      }
      popping = true;
      PopComponent(&out);
      if (crossed(out)) return -EXDEV;
      continue;
    }
    // /proc/self and /proc/thread-self name the program, not tsyd.
    if (out == "/proc" && root == "/" && (c == "self" || c == "thread-self")) {
      if (last && entry_last) {
        // The link itself (lstat, readlink): fsops.cc reads it as the program's (ProcSelfLink).
        Append(&out, c);
        break;
      }
      pid_t g = own_tgid();
      if (g < 0) return g;
      Append(&out, std::to_string(g));
      if (c == "thread-self") {
        Append(&out, "task");
        pid_t t = t_view.own_pidns ? NsIdOf(tid, "NSpid:") : tid;
        if (t < 0) return t;
        Append(&out, std::to_string(t));
      }
      continue;
    }
    // SAFETY: tsyd's /proc entries (its pid, any of its threads by tid) are never walked into,
    // whatever follows: /proc/<tsyd thread>/fd/N would lead to tsyd's files by name,
    // /proc/<tsyd>/cwd to its working directory. (The reaper's guarded entries are refused
    // below, as any process's outside the sandbox; its stat and status are the parent's.)
    // (A container with a pid namespace of its own sees no pid of tsyd's: its /proc has none.)
    if (out == "/proc" && root == "/" && !t_view.own_pidns && !c.empty() && c.find_first_not_of("0123456789") == std::string::npos &&
        IsTsydPid(strtol(c.c_str(), nullptr, 10)))
      return -EACCES;
    next = out;
    Append(&next, c);
    if (next.size() >= kMaxPathLen) return -ENAMETOOLONG;
    if (view_refuses(next)) return -EACCES;
    if (last && entry_last) {
      struct stat lst;
      int r = StatPath(next, anchor, &lst, false);
      if (r < 0) {
        if (r != -ENOENT) return r;
        res->missing = true;
      }
      out = std::move(next);
      break;
    }
    ssize_t n = ReadlinkPath(next, anchor, link, sizeof link);
    if (n < 0) {
      int e = static_cast<int>(-n);
      if (e == EINVAL) {  // exists and is not a symlink
        if (crossed(next)) return -EXDEV;
        out = std::move(next);
        continue;
      }
      if (e == ENOENT && last) {  // the last component may be created
        out = std::move(next);
        res->missing = true;
        break;
      }
      return -e;
    }
    if (n >= static_cast<ssize_t>(sizeof link)) return -ENAMETOOLONG;
    std::string target(link, static_cast<size_t>(n));
    const bool in_proc = next.compare(0, 6, "/proc/") == 0;
    if (opts.no_symlinks) return -ELOOP;
    if (opts.no_magiclinks && in_proc && ProcPid(next) >= 0) return -ELOOP;
    if (++links > kMaxSymlinks) return -ELOOP;
    if (target.empty()) return -ENOENT;
    // SAFETY: a symlink followed is a path the program named on the way: JS checks that stat
    // does not hide it (kPathLeftLen, marked kLeftLink), or `H/link` to a visible file would
    // tell that H holds `link` and where it leads.
    res->left.push_back(kLeftLink);
    res->left.append(next);
    res->left.push_back('\0');
    // A file still linked whose name happens to end in " (deleted)" is a path like any other.
    if (in_proc && IsDeletedTarget(target) && target[0] == '/') {
      struct stat lst;
      if (StatPath(next, anchor, &lst, true) == 0 && lst.st_nlink > 0 && target.compare(0, 7, "/memfd:") != 0) {
        PushComponents(&pending, target);
        out = root;
        continue;
      }
    }
    if (in_proc && IsMagicTarget(target)) {
      // A magic link to an object without a path (pipe, socket, memfd, deleted file).
      // SAFETY: tsyd reopens such a link only for the program's own process: opening
      // another process's fds would lend tsyd's access to the program.
      if (!last || trailing_slash) return -ENOTDIR;
      long owner = ProcPid(next);
      pid_t g = own_tgid();
      if (g < 0) return g;
      // (In a container's pid namespace only its own tgid: TgidOf reads tsyd's /proc.)
      if (owner < 0 || (owner != g && (t_view.own_pidns || TgidOf(static_cast<pid_t>(owner)) != g))) return -EACCES;
      out = std::move(next);
      res->magic = true;
      // SAFETY: a deleted file is decided by the path it had: reopening it read-write through
      // /proc/self/fd/N must not get around a read rule of that path (open it write-only,
      // unlink it, reopen it for reading).
      res->decide_as = DeletedFilePath(target);
      // What the link named when it was decided: the reopen must find the same (open.cc).
      res->magic_target = target;
      break;
    }
    if (crossed(next)) return -EXDEV;
    if (target[0] == '/') {
      // SAFETY: RESOLVE_BENEATH refuses absolute symlinks too, as the kernel does.
      if (opts.beneath) return -EXDEV;
      out = root;
      if (crossed(out)) return -EXDEV;
    }
    PushComponents(&pending, target);
  }
  next.clear();
  if (!res->anchor.Holds(out)) res->anchor.Reset();
  // "file/" names a directory: the kernel refuses it for anything else.
  if (follow_slash && !res->magic) {
    struct stat st;
    if (StatPath(out, anchor, &st, true) == 0 && !S_ISDIR(st.st_mode)) return -ENOTDIR;
  }
  if (opts.slash_entry) {
    struct stat st;
    const bool dir = StatPath(out, anchor, &st, false) == 0 && S_ISDIR(st.st_mode);
    res->slash = (trailing_slash ? kEndsInSlash : 0) | (dir ? kLastIsDir : 0);
  }
  // SAFETY: the supervisor's own /proc entries (memory, fds, environment) are never
  // reachable from the sandbox, whatever the policy says. /proc/self is mapped to the program
  // and /proc/<tsyd> refused above by name; another procfs mount has neither guard (its
  // `self` is tsyd, its <tsyd pid>/mem writable by tsyd): it is refused as a whole.
  if (OnProcfsElsewhere(out, anchor)) return -EACCES;
  long owner = ProcPid(out);
  if (t_view.own_pidns) {
    // SAFETY: a container's own /proc: every process of its pid namespace is the container's.
    // Another process's guarded entries (exe, cwd, root, fd, environ, mem, ...) are left to the
    // kernel: the emulator opens them with the caller's uid, gids and effective capabilities
    // (never more than the agent's), so the kernel's ptrace-access check (procfs checks the
    // fsuid, fsgid and effective set) answers as it does for the caller natively: another uid
    // without CAP_SYS_PTRACE is refused. The emulator only lacks the caller's exemptions (same
    // thread group; its user namespace's capabilities), so it may be refused more, never less.
    // The one exemption it has of its own, tsyd's thread group, is kept out (view_refuses).
    if (view_refuses(out)) return -EACCES;
    if (out.size() + 1 > outsz) return -ENAMETOOLONG;
    memcpy(outbuf, out.c_str(), out.size() + 1);
    return static_cast<long>(out.size());
  }
  if (owner >= 0 && IsTsydPid(owner)) return -EACCES;
  // SAFETY: the program never reaches another process's memory, environment or fds: ptrace,
  // process_vm_* and pidfd_getfd are refused to it, and their /proc forms are too, for any
  // process outside the sandbox (tsyd acts with the program's uid: same-uid processes would
  // otherwise be open to it).
  if (owner > 0 && !InSandbox(static_cast<pid_t>(owner), opts.reaper)) {
    if (IsPtraceGuarded(out)) return -EACCES;
    res->foreign_proc = true;
  }
  if (out.size() + 1 > outsz) return -ENAMETOOLONG;
  memcpy(outbuf, out.c_str(), out.size() + 1);
  return static_cast<long>(out.size());
}

long Canonicalize(pid_t tid, int dirfd, const char* raw, const ResolveOpts& opts, char* outbuf,
                  size_t outsz, ResolveResult* res) {
  std::string out, next;
  res->fail.clear();
  res->fail_out = 0;
  long r = CanonicalizeIn(tid, dirfd, raw, opts, outbuf, outsz, res, out, next);
  if (r < 0 && !out.empty()) {
    // SAFETY: where the walk stopped tells whether an object exists (ENOTDIR for
    // "file/", ELOOP for a link, EACCES for a directory): kept for JS, which answers ENOENT
    // when that object is hidden.
    res->fail = next.empty() ? out : next;
    res->fail_out = next.empty() ? out.size() : (out.size() < next.size() ? out.size() : next.size());
  }
  return r;
}

// The excursions of a resolution for JS (kPathLeftLen); false when they do not fit.
bool SetLeft(ThreadState* st, const std::string& left) {
  if (left.size() > kLocalAddrOffset - kLeftOffset) return false;
  memcpy(st->path + kLeftOffset, left.data(), left.size());
  st->slots[kPathLeftLen] = static_cast<int32_t>(left.size());
  return true;
}

static void SetDecideAs(ThreadState* st, const std::string& decide_as) {
  const bool fits = !decide_as.empty() && decide_as.size() + 1 <= kLeftOffset - kDecideAsOffset;
  if (fits) memcpy(st->path + kDecideAsOffset, decide_as.c_str(), decide_as.size() + 1);
  st->slots[kPathDecideLen] = fits ? static_cast<int32_t>(decide_as.size()) : 0;
}

void SetFailedPath(ThreadState* st, const ResolveResult& res) {
  st->path_len = 0;
  const bool fits = !res.fail.empty() && res.fail.size() + 1 <= kPathBufSize;
  if (fits) memcpy(st->path, res.fail.c_str(), res.fail.size() + 1);
  st->slots[kPathFailLen] = fits ? static_cast<int32_t>(res.fail.size()) : 0;
  st->slots[kPathFailOut] = fits ? static_cast<int32_t>(res.fail_out) : 0;
}

enum ResolveFlag {
  kNoFollow = 1,
  kBeneath = 2,
  kInRoot = 4,
  kNoSymlinks = 8,
  kNoMagiclinks = 16,
  kEmptyPath = 32,  // AT_EMPTY_PATH: an empty path names the dirfd (returns 0)
  kNoXdev = 64,     // RESOLVE_NO_XDEV
  // With kEmptyPath: an empty path names the dirfd (or the cwd for AT_FDCWD): tsyd takes a copy
  // of it (TakeIntoPath) and returns the copy's path (kPathTaken = 1) instead of 0.
  kTakeEmpty = 128,
  // With kEmptyPath: a NULL path pointer is an empty path too (newfstatat and statx, Linux
  // 6.11); path_null tells the op to pass NULL on, so that the kernel gives its own answer.
  kNullEmpty = 256,
  // With kNoFollow: a trailing slash does not make the last component followed (see
  // ResolveOpts::slash_entry); kPathSlash tells JS that there was one.
  kSlashEntry = 512,
  // The control route is open (lock:off): a raw path naming /dev/tsyd or /dev/tsyd/... is not
  // resolved; kControlRouteHit tells JS to read it as a control request (control.ts).
  kControlRoute = 1024,
};

// resolvePath()'s answer for a raw path on the control route: below every -errno.
static constexpr long kControlRouteHit = -4096;

// Does the raw path name the control route: "/dev/tsyd", or "/dev/tsyd/" and more?
static bool NamesControlRoute(const char* raw) {
  static constexpr char kRoute[] = "/dev/tsyd";
  return strncmp(raw, kRoute, sizeof kRoute - 1) == 0 && (raw[sizeof kRoute - 1] == 0 || raw[sizeof kRoute - 1] == '/');
}

// resolvePath(dirfdArg, pathArg, flags) → length of the canonical path written into the
// path buffer, or -errno. dirfdArg: index of the request argument holding the dirfd, or -1
// for AT_FDCWD. pathArg: index of the argument holding the path pointer. The path is read
// from the program's memory once; the request's validity is checked after the read.
static Napi::Value ResolvePath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "resolvePath");
  if (!st) return env.Undefined();
  int dirfd_arg = info[0].As<Napi::Number>().Int32Value();
  int path_arg = info[1].As<Napi::Number>().Int32Value();
  int flags = info[2].As<Napi::Number>().Int32Value();
  if (path_arg < 0 || path_arg > 5 || dirfd_arg > 5) return Napi::Number::New(env, -EINVAL);
  st->slots[kPathFailLen] = 0;
  st->slots[kPathLeftLen] = 0;
  st->slots[kPathTaken] = 0;
  st->path_null = false;
  st->anchor.Reset();
  const seccomp_notif* req = st->req;
  pid_t tid = static_cast<pid_t>(req->pid);
  int dirfd = dirfd_arg < 0 ? AT_FDCWD : static_cast<int>(static_cast<int32_t>(req->data.args[dirfd_arg]));
  char raw[PATH_MAX];
  const uint64_t addr = req->data.args[path_arg];
  const bool null_empty = addr == 0 && (flags & kEmptyPath) && (flags & kNullEmpty);
  long n = null_empty ? 0 : ReadRemoteString(tid, addr, raw, sizeof raw);
  if (n == 0 && (flags & kEmptyPath) && (flags & kTakeEmpty)) {
    // The fd form: decided on, and performed with, tsyd's copy of the dirfd. TakeIntoPath
    // checks the request's validity after taking the copy, which covers the read above.
    st->path_len = 0;
    st->path_null = null_empty;
    return TakeIntoPath(env, st, dirfd);
  }
  // SAFETY: the tid may have been reused if the caller died while we read: only trust
  // what we read while the request is still valid.
  if (!NotifIdValid(st->notify_fd, req->id)) return Napi::Number::New(env, -ESRCH);
  if (n < 0) return Napi::Number::New(env, static_cast<double>(n));
  if (n == 0 && (flags & kEmptyPath)) {
    st->path_len = 0;
    return Napi::Number::New(env, 0);
  }
  // The control check on the bytes this resolution read: no second read of the path for the
  // calls that are not control requests (all but a few, under lock:off).
  if ((flags & kControlRoute) && NamesControlRoute(raw)) {
    st->path_len = 0;
    return Napi::Number::New(env, static_cast<double>(kControlRouteHit));
  }
  ResolveOpts opts;
  opts.nofollow_last = flags & kNoFollow;
  opts.beneath = flags & kBeneath;
  opts.in_root = flags & kInRoot;
  opts.no_symlinks = flags & kNoSymlinks;
  opts.no_magiclinks = flags & kNoMagiclinks;
  opts.no_xdev = flags & kNoXdev;
  opts.slash_entry = flags & kSlashEntry;
  opts.reaper = st->reaper;
  opts.names = &st->dir_names;
  opts.anchor_start = st->acting_as;
  opts.caller = st;
  ResolveResult res;
  st->slots[kPathSlash] = 0;
  long len = Canonicalize(tid, dirfd, raw, opts, reinterpret_cast<char*>(st->path), kDecideAsOffset, &res);
  st->slots[kPathDecideLen] = 0;
  st->slots[kPathForeignProc] = 0;
  if (len < 0) {
    SetFailedPath(st, res);
    return Napi::Number::New(env, static_cast<double>(len));
  }
  // SAFETY: excursions too many to check are refused rather than unchecked.
  if (!SetLeft(st, res.left)) return Napi::Number::New(env, -ENAMETOOLONG);
  st->path_len = static_cast<size_t>(len);
  st->slots[kPathMagic] = res.magic ? 1 : 0;
  st->slots[kPathMissing] = res.missing ? 1 : res.dot_last ? 1 + res.dot_last : 0;
  st->magic_target = res.magic_target;
  st->slots[kPathForeignProc] = res.foreign_proc ? 1 : 0;
  st->slots[kPathSlash] = res.slash;
  SetDecideAs(st, res.decide_as);
  st->anchor = std::move(res.anchor);
  return Napi::Number::New(env, static_cast<double>(len));
}

// canonicalize(tid, path, dirfd = AT_FDCWD, flags = 0) → string | -errno (tests, tools).
// A Buffer path (raw bytes, e.g. a `#!` interpreter) gives a Buffer result: no UTF-8 round trip.
static Napi::Value CanonicalizeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  const bool bytes = info[1].IsBuffer();
  std::string raw;
  if (bytes) {
    Napi::Buffer<char> b = info[1].As<Napi::Buffer<char>>();
    raw.assign(b.Data(), b.Length());
    if (raw.find('\0') != std::string::npos) return Napi::Number::New(env, -EINVAL);
  } else {
    raw = info[1].As<Napi::String>().Utf8Value();
  }
  int dirfd = info.Length() > 2 ? info[2].As<Napi::Number>().Int32Value() : AT_FDCWD;
  int flags = info.Length() > 3 ? info[3].As<Napi::Number>().Int32Value() : 0;
  ResolveOpts opts;
  opts.nofollow_last = flags & kNoFollow;
  opts.beneath = flags & kBeneath;
  opts.in_root = flags & kInRoot;
  opts.no_symlinks = flags & kNoSymlinks;
  opts.no_magiclinks = flags & kNoMagiclinks;
  opts.no_xdev = flags & kNoXdev;
  opts.reaper = State(env)->reaper;
  ResolveResult res;
  std::vector<char> out(kMaxPathLen);
  long len = Canonicalize(tid, dirfd, raw.c_str(), opts, out.data(), out.size(), &res);
  if (len < 0) return Napi::Number::New(env, static_cast<double>(len));
  if (bytes) return Napi::Buffer<char>::Copy(env, out.data(), static_cast<size_t>(len));
  return Napi::String::New(env, out.data(), static_cast<size_t>(len));
}

std::string PathlessName(pid_t tgid, int fd) {
  return "/proc/" + std::to_string(tgid) + "/fd/" + std::to_string(fd);
}

Napi::Value SetCheckedPath(Napi::Env env, ThreadState* st, const std::string& path, bool magic,
                           const std::string& decide_as) {
  st->anchor.Reset();
  if (path.size() + 1 > kMaxPathLen) return Napi::Number::New(env, -ENAMETOOLONG);
  memcpy(st->path, path.c_str(), path.size() + 1);
  st->path_len = path.size();
  st->slots[kPathMagic] = magic ? 1 : 0;
  st->slots[kPathMissing] = 0;
  st->slots[kPathLeftLen] = 0;
  SetDecideAs(st, magic ? decide_as : std::string());
  st->slots[kPathTaken] = 0;
  st->slots[kPathForeignProc] = 0;
  return Napi::Number::New(env, static_cast<double>(path.size()));
}

// resolveFd(fdArg) → length of the path of the program's fd (or cwd for AT_FDCWD) written into
// the path buffer, or -errno. An object without a path (pipe, socket, memfd, deleted file)
// is named by its magic link /proc/<tgid>/fd/N (kPathMagic = 1), which rules can match.
static Napi::Value ResolveFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "resolveFd");
  if (!st) return env.Undefined();
  int fd_arg = info[0].As<Napi::Number>().Int32Value();
  if (fd_arg < 0 || fd_arg > 5) return Napi::Number::New(env, -EINVAL);
  pid_t tid = static_cast<pid_t>(st->req->pid);
  int fd = static_cast<int>(static_cast<int32_t>(st->req->data.args[fd_arg]));
  char p[64];
  if (fd == AT_FDCWD) snprintf(p, sizeof p, "/proc/%d/cwd", tid);
  else if (fd < 0) return Napi::Number::New(env, -EBADF);
  else snprintf(p, sizeof p, "/proc/%d/fd/%d", tid, fd);
  char link[PATH_MAX];
  std::string out;
  bool dead = false;
  long n;
  const bool copied = st->acting_as && fd != AT_FDCWD;
  if (copied) {
    // A caller that left uid 0 is not dumpable: its /proc/<tid>/fd is root's and not searchable
    // with its credentials. The fd is copied (pidfd_getfd) and named from tsyd's copy.
    int own = TakeFd(st, fd);
    n = own < 0 ? own : NameOfFd(own, &st->dir_names, &out, &dead);
    if (own >= 0) close(own);
  } else {
    n = AsCaller([&]() -> long {
      ssize_t r = readlink(p, link, sizeof link);
      return r < 0 ? -errno : r;
    });
    if (n >= static_cast<ssize_t>(sizeof link)) n = -ENAMETOOLONG;
    if (n >= 0) out.assign(link, static_cast<size_t>(n));
  }
  // Too long for the kernel to name, or ending in " (deleted)": named through tsyd's fd of it.
  if (!copied && (n == -ENAMETOOLONG || (n >= 0 && IsDeletedTarget(out)))) {
    int own = -1;
    n = NameThroughLink(p, EBADF, &st->dir_names, &own, &out, &dead);
    if (own >= 0) close(own);
  }
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  if (n < 0) return Napi::Number::New(env, n == -ENOENT ? -EBADF : static_cast<double>(n));
  if (fd == AT_FDCWD) {
    // A removed cwd is decided on the path it had.
    if (out.empty() || out[0] != '/') return Napi::Number::New(env, -ENOENT);
    return SetCheckedPath(env, st, out, false);
  }
  // The link as the kernel shows it: a magic path must still lead there when reopened.
  const std::string target = dead ? out + " (deleted)" : out;
  const bool magic = dead || out.empty() || out[0] != '/';
  const std::string decide_as = DeletedFilePath(target);
  out = target;
  st->magic_target = magic ? out : std::string();
  if (magic) {
    pid_t g = TgidOf(tid);
    if (g < 0) return Napi::Number::New(env, g);
    out = PathlessName(g, fd);
  }
  return SetCheckedPath(env, st, out, magic, decide_as);
}

// setReaperPid(pid): this thread's requests come from below this reaper (its /proc is tsyd's).
static Napi::Value SetReaperPid(const Napi::CallbackInfo& info) {
  State(info.Env())->reaper = info[0].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

// readPathArg(pathArg) → length of the raw path string read into the path buffer, or -errno.
// Only for the control route (/dev/tsyd/...), never for a decision.
static Napi::Value ReadPathArg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readPathArg");
  if (!st) return env.Undefined();
  int path_arg = info[0].As<Napi::Number>().Int32Value();
  if (path_arg < 0 || path_arg > 5) return Napi::Number::New(env, -EINVAL);
  long n = ReadRemoteString(static_cast<pid_t>(st->req->pid), st->req->data.args[path_arg],
                            reinterpret_cast<char*>(st->path), PATH_MAX);
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  st->path_len = 0;  // not a checked path: no op may act on it
  return Napi::Number::New(env, static_cast<double>(n));
}

void InitPath(Napi::Env env, Napi::Object exports) {
  exports.Set("resolvePath", Napi::Function::New(env, ResolvePath, "resolvePath"));
  exports.Set("canonicalize", Napi::Function::New(env, CanonicalizeJs, "canonicalize"));
  exports.Set("resolveFd", Napi::Function::New(env, ResolveFd, "resolveFd"));
  exports.Set("readPathArg", Napi::Function::New(env, ReadPathArg, "readPathArg"));
  exports.Set("setReaperPid", Napi::Function::New(env, SetReaperPid, "setReaperPid"));
}

}  // namespace tsyd
