// Crypt sandboxing inside the sandbox: the per-file plaintext buffers shared by every emulator
// thread, the opens of crypt files, and the detection of the program's last close of a buffer.
//
// One registry per process (every emulator thread, the monitor), keyed by the file's name in its
// directory (the directory's device and inode, the name, the key handle): each write-back puts a
// new inode under the name, so the name is what stays the file.
//
// Each entry holds up to two plaintext buffers (memfds, or O_TMPFILE files in crypt/tmp DIR):
// - `committed`: the file's whole content as last decrypted or last closed by its writers;
//   never written again (memfd: sealed; O_TMPFILE: mode 0400). Readers (O_RDONLY) get their own
//   open file description of it: a snapshot, whole old or whole new content, never a mix.
// - `live`: the writers' one shared buffer (a copy of `committed` when the first writer opens),
//   so that concurrent writers (appenders) compose as on a plain file. tsyd watches its inode
//   with inotify: a description gives an IN_CLOSE event when its last reference goes (close,
//   munmap, exit, every dup and fork copy); at each event, when no description writes the
//   buffer any more (NoWriter), `live` becomes `committed` and is queued for the AES
//   worker (cryptCollect → aesSubmit), which writes the ciphertext beside the file and renames it
//   onto the name: the file on disk is its whole old or whole new content.
// SAFETY: plaintext is only ever in these buffers: memfds (never on a disk) or O_TMPFILE files
// opened with O_EXCL (never linkable into a directory).
#include "common.h"
#include "crypt-identity.h"
#include "crypt-writeback.h"
#include "fds-left.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <tuple>

namespace tsyd {

// cryptcore's cipher (addon/crypt.h).
int64_t CryptDecryptFile(int handle, int src, int dst);
int64_t CryptEncryptFile(int handle, int src, int dst);

namespace {

constexpr int kNotCrypt = -100000;  // not a regular file: opened as any other file

struct Key {
  dev_t dev;
  ino_t ino;
  std::string name;
  int handle;
  bool operator<(const Key& o) const { return std::tie(dev, ino, name, handle) < std::tie(o.dev, o.ino, o.name, o.handle); }
};

struct Entry {
  int dir_fd = -1;       // O_PATH of the directory
  int committed = -1;    // the whole content readers get (never written again)
  int64_t committed_bytes = 0;  // its size (counted in g_snapshot_bytes)
  int live = -1;         // the writers' shared buffer
  int wd = -1;           // inotify watch on `live`
  int writers = 0;       // the program's descriptions of `live` not yet released
  bool sealed_tmp = false;
  mode_t mode = 0600;
  uid_t uid = static_cast<uid_t>(-1);  // the file's owner and group on disk (-1: unknown), kept by each write-back
  gid_t gid = static_cast<gid_t>(-1);
  ino_t disk_ino = 0;    // the on-disk inode `committed` is (or will be, once written back)
  std::vector<ino_t> older;  // the inodes the name had before the write-backs still in flight
  bool pending = false;  // a write-back is queued and has not replaced the name yet
  std::string tmp_dir;   // crypt/tmp DIR ('' : memfds)
  bool unlinked = false; // the name was removed while writers were at work: their buffer is dropped
  int64_t last_use = 0;  // CLOCK_MONOTONIC ms of the last open or stat
  ino_t created_ino = 0; // the on-disk file this sandbox created (O_CREAT): 0 bytes there is empty
  int retry_err = 0;     // the transient errno that kept `committed`'s write-back from being made: retried
  bool seal_blocked = false;  // `live` has no writer but could not be sealed (a lease): committed by a later collect
};

// A snapshot nobody opened for this long is dropped once written back (its plaintext freed).
constexpr int64_t kIdleMs = 5000;
// Above this many bytes of snapshots (every entry's `committed`), those written back are dropped
// at once, not after kIdleMs: a program writing many large files fast held gigabytes of them.
constexpr int64_t kSnapshotBytes = 256 << 20;

int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

struct WriteBack {
  int handle;
  int plain_fd;
  int dir_fd;
  std::string name;
  int tmp_fd;
  int err;  // 0, or the errno that kept the job from being made (the buffer is dropped)
  dev_t dir_dev = 0;  // the directory's device and inode (with handle and name: the file's key)
  ino_t dir_ino = 0;
  ino_t tmp_ino = 0;  // the ciphertext's inode (the entry's disk_ino once it lands)
  uint64_t seq = 0;   // the order jobs were made in: of two jobs of one file, the higher is newer
};

std::mutex g_mu;
std::map<Key, Entry> g_entries;
// SAFETY (and what programs rely on: vim, cp, tar, sqlite compare identities): one identity per
// crypt file name for the life of its sandbox (its key handle), kept when its entry is dropped:
// the on-disk file's device and inode when it was first opened or stat'ed. Every buffer made for
// the name maps back to it (stat of a program's fd of the buffer shows it too).
std::map<Key, CryptIdentity> g_identities;
std::map<std::pair<dev_t, ino_t>, Key> g_buffer_names;
// A snapshot's name (in g_buffer_names) goes when the buffer itself is gone: its last description
// (tsyd's, a job's, a reader's in the program) closed, its last mapping unmapped. Each committed
// buffer is watched (IN_DELETE_SELF, which the kernel sends then): wd → the buffer's device and
// inode. SAFETY: the event is read before any new buffer is made (DrainEvents comes first), so a
// freed O_TMPFILE inode number given to the next buffer never loses that buffer's name.
std::map<int, std::pair<dev_t, ino_t>> g_gone_watches;
std::atomic<bool> g_any_buffer{false};
int64_t g_snapshot_bytes = 0;  // the sizes of every entry's `committed` (SetCommitted)
std::vector<WriteBack> g_ready;
uint64_t g_next_seq = 1;
int g_inotify = -1;
bool g_fd_pressure = false;
// Jobs cryptCollect returned that the caller has not yet handed to the AES worker (or written
// back itself): a drain must wait for them too. Another thread (the monitor's loop, another
// emulator) may hold a job of the file a rename moves: it must land before the rename.
std::atomic<int> g_handing{0};  // a job could not be made for want of fds or memory since the last prune

// An entry whose name was unlinked while written leaves the name (defined below).
void DetachUnlinked(std::map<Key, Entry>::iterator it);

// A reason to keep the buffer and make its job again later (fds, memory or space run out for now).
bool Transient(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOSPC || err == EDQUOT || err == EAGAIN || err == EINTR;
}

void CloseIf(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

int Inotify() {
  if (g_inotify < 0) g_inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  return g_inotify;
}

// A new, empty plaintext buffer: a memfd, or an unlinkable O_TMPFILE file in `tmp_dir`.
int NewBuffer(const std::string& tmp_dir) {
  if (tmp_dir.empty()) {
    int fd = static_cast<int>(syscall(SYS_memfd_create, "tsyd-crypt", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    return fd < 0 ? -errno : fd;
  }
  // SAFETY: O_EXCL: this file can never be linked into a directory (nor by the program, through
  // /proc/self/fd): its plaintext never gets a name on a disk.
  int fd = open(tmp_dir.c_str(), O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
  return fd < 0 ? -errno : fd;
}

// The whole content of `src` into `dst` (empty, offset untouched): 0 or -errno.
int CopyAll(int src, int dst) {
  struct stat sb;
  if (fstat(src, &sb) < 0) return -errno;
  off_t in = 0, out = 0;
  while (in < sb.st_size) {
    ssize_t n = copy_file_range(src, &in, dst, &out, static_cast<size_t>(sb.st_size - in), 0);
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
      char buf[65536];
      n = pread(src, buf, sizeof buf, in);
      if (n > 0 && pwrite(dst, buf, static_cast<size_t>(n), out) != n) return -EIO;
      if (n > 0) in += n, out += n;
    } else if (n > 0) {
      continue;
    }
    if (n < 0) return -errno;
    if (n == 0) break;
  }
  return ftruncate(dst, out) < 0 ? -errno : 0;
}

// `e.committed` becomes `fd` (-1: none; the old one is closed), its size counted.
void SetCommitted(Entry& e, int fd) {
  g_snapshot_bytes -= e.committed_bytes;
  if (e.committed != fd) CloseIf(e.committed);
  e.committed = fd;
  struct stat sb;
  e.committed_bytes = fd >= 0 && fstat(fd, &sb) == 0 ? sb.st_size : 0;
  g_snapshot_bytes += e.committed_bytes;
}

// SAFETY: a committed buffer is never written again: a reader that reopens its description for
// writing (/proc/self/fd/N) cannot change what other readers, and the write-back, see.
int Seal(int fd, bool tmp) {
  if (tmp) return fchmod(fd, 0400) < 0 ? -errno : 0;
  return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ? -errno : 0;
}

int Reopen(int fd, int flags);

// Seal() of a buffer tsyd holds read-only (a writers' buffer): through a description of its own
// that may write (F_ADD_SEALS needs one), closed again.
int SealReadOnly(int fd, bool tmp) {
  if (tmp) return Seal(fd, true);
  int rw = Reopen(fd, O_RDWR);
  if (rw < 0) return rw;
  int r = Seal(rw, false);
  close(rw);
  return r;
}

// SAFETY (and liveness): does any description of the writers' buffer `ro` (tsyd's own is
// read-only) still write? A read lease can be taken only while none does (close, munmap, exit,
// every dup and fork copy released). Counting close events would not do: inotify merges two
// identical events queued before they are read. 1: none writes, 0: one does, -errno: no leases
// here (the caller counts instead).
int NoWriter(int ro) {
  if (fcntl(ro, F_SETLEASE, F_RDLCK) == 0) {
    fcntl(ro, F_SETLEASE, F_UNLCK);
    return 1;
  }
  return errno == EAGAIN ? 0 : -errno;
}

// A new description of tsyd's buffer `fd`, with `flags`. SAFETY (liveness): never waits (tsyd
// holds g_mu): a read lease the program took on a buffer (a reopen through /proc/self/fd) would
// block an open for writing until the lease is broken (lease-break-time, 45 s), and with it every
// crypt call of the sandbox. O_NONBLOCK: -EWOULDBLOCK then (the break is started); the caller
// takes it as "still in use". The description keeps O_NONBLOCK only when `flags` has it.
int Reopen(int fd, int flags) {
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", fd);
  int r = open(p, flags | O_CLOEXEC | O_NONBLOCK);
  if (r < 0) return -errno;
  const int fl = (flags & O_NONBLOCK) ? 0 : fcntl(r, F_GETFL);
  if (fl < 0 || (fl > 0 && fcntl(r, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
    const int err = -errno;
    close(r);
    return err;
  }
  return r;
}

// The ciphertext's file `tmp` (its stat `sb`) gets the file's owner and group, where they differ
// (WhyNoWriteBack checked at the writer's open that tsyd may give them): 0 or -1 (errno).
// SAFETY: write access to a file never becomes its ownership. The mode is set after it (a chown
// clears the setuid and setgid bits).
int KeepOwner(int tmp, const struct stat& sb, const Entry& e) {
  const uid_t uid = e.uid == static_cast<uid_t>(-1) || e.uid == sb.st_uid ? static_cast<uid_t>(-1) : e.uid;
  const gid_t gid = e.gid == static_cast<gid_t>(-1) || e.gid == sb.st_gid ? static_cast<gid_t>(-1) : e.gid;
  return uid == static_cast<uid_t>(-1) && gid == static_cast<gid_t>(-1) ? 0 : fchown(tmp, uid, gid);
}

// A job (made, not an error) that writes back the file of key `k`?
bool OfFile(const WriteBack& w, const Key& k) {
  return w.err == 0 && w.handle == k.handle && w.dir_dev == k.dev && w.dir_ino == k.ino && w.name == k.name;
}

// The job of `k`'s file not yet collected (g_ready.end(): none). Holds g_mu.
std::vector<WriteBack>::iterator ReadyJobOf(const Key& k) {
  return std::find_if(g_ready.begin(), g_ready.end(), [&](const WriteBack& w) { return OfFile(w, k); });
}

// Fds a crypt open leaves to tsyd itself (its threads load modules, make pipes; the write-backs
// need three each): under fewer, a crypt open fails EMFILE for the program instead.
constexpr int kFdReserve = 64;
// Fds a write-back job leaves to tsyd's threads: under fewer, the job is not made now (EMFILE,
// kept and made again). SAFETY: jobs queued while the AES worker lags held the whole reserve,
// and the monitor's next emulator thread failed to start (EMFILE): tsyd ended 101 with the
// buffers not written back and no record naming them.
constexpr int kThreadFdReserve = kFdReserve / 2;

// True when fewer than `reserve` fds are left below RLIMIT_NOFILE. SAFETY: counted, not taken
// from the lowest free fd: with holes left by fds freed out of order that one was low while the
// table was full, and the monitor could not load a module nor start a thread (exit 101).
bool FdsShort(int reserve = kFdReserve) {
  const int left = FdsLeft();
  return left >= 0 && left < reserve;
}

// The write-back of `e`'s committed buffer, queued for cryptCollect. Holds g_mu.
void QueueWriteBack(const Key& k, Entry& e) {
  // Too few fds left for tsyd's threads: kept and made again, as a job refused EMFILE below.
  if (FdsShort(kThreadFdReserve)) {
    e.retry_err = EMFILE;
    g_fd_pressure = true;
    return;
  }
  WriteBack w{k.handle, -1, -1, k.name, -1, 0};
  w.plain_fd = fcntl(e.committed, F_DUPFD_CLOEXEC, 0);
  // The directory, to fsync after the rename (its durability): an O_PATH fd cannot be synced
  // (EBADF), and the AES worker opens nothing. One tsyd may not read (0333): its O_PATH fd, not synced.
  w.dir_fd = openat(e.dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (w.dir_fd < 0 && (errno == EACCES || errno == EPERM)) w.dir_fd = fcntl(e.dir_fd, F_DUPFD_CLOEXEC, 0);
  // The ciphertext's file: beside the file (same file system, for the rename), with the mode
  // the file has now (a chmod while it was open is kept), and its owner and group.
  struct stat now;
  if (fstatat(e.dir_fd, k.name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(now.st_mode)) {
    e.mode = now.st_mode & 07777, e.uid = now.st_uid, e.gid = now.st_gid;
  }
  w.tmp_fd = openat(e.dir_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, e.mode);
  struct stat sb;
  e.retry_err = 0;
  if (w.plain_fd < 0 || w.dir_fd < 0 || w.tmp_fd < 0 || fstat(w.tmp_fd, &sb) < 0 || KeepOwner(w.tmp_fd, sb, e) < 0 || fchmod(w.tmp_fd, e.mode) < 0) {
    w.err = errno ? errno : EIO;
    CloseIf(w.plain_fd), CloseIf(w.dir_fd), CloseIf(w.tmp_fd);
    // SAFETY: never lose written content for a passing want: `committed` is kept (readers get
    // it) and its job is made again by the next cryptCollect (the monitor's loop, the exit).
    if (Transient(w.err)) {
      e.retry_err = w.err;
      g_fd_pressure = g_fd_pressure || w.err == EMFILE || w.err == ENFILE || w.err == ENOMEM;
      return;
    }
    NoteLostWriteBack(k.handle, e.dir_fd, k.name, "prepare", w.err);
  } else {
    w.dir_dev = k.dev, w.dir_ino = k.ino, w.tmp_ino = sb.st_ino, w.seq = g_next_seq++;
    // One pending write-back per file: a job of this file not yet collected is replaced (its
    // buffer and ciphertext file freed): its inode never reaches the disk (not one the name had).
    auto old = ReadyJobOf(k);
    const ino_t superseded = old == g_ready.end() ? 0 : old->tmp_ino;
    if (old != g_ready.end()) {
      CloseIf(old->plain_fd), CloseIf(old->dir_fd), CloseIf(old->tmp_fd);
      g_ready.erase(old);
    }
    if (e.disk_ino != 0 && e.disk_ino != superseded) e.older.push_back(e.disk_ino);
    e.disk_ino = sb.st_ino;
    e.pending = true;
  }
  g_ready.push_back(std::move(w));
}

// Watches the committed buffer `fd` for its end (g_gone_watches). Without a watch (the limit of
// watches reached) its name stays until the sandbox ends. Holds g_mu.
void WatchGone(int fd) {
  struct stat sb;
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", fd);
  if (fstat(fd, &sb) < 0 || Inotify() < 0) return;
  const int wd = inotify_add_watch(g_inotify, p, IN_DELETE_SELF);
  if (wd >= 0) g_gone_watches[wd] = {sb.st_dev, sb.st_ino};
}

// A watched buffer is gone (IN_DELETE_SELF): its name goes; its watch is gone (IN_IGNORED). Holds g_mu.
void BufferGone(const inotify_event* ev) {
  auto it = g_gone_watches.find(ev->wd);
  if (it == g_gone_watches.end()) return;
  if (ev->mask & IN_DELETE_SELF) g_buffer_names.erase(it->second);
  if (ev->mask & IN_IGNORED) g_gone_watches.erase(it);
}

// `live` has no program description left: it becomes `committed` and is queued. Holds g_mu.
// False when it cannot be sealed yet (a description tsyd did not count still maps it for writing).
bool Commit(const Key& k, Entry& e) {
  // The watch goes first: tsyd's own description for the seals gives a close event too.
  if (e.wd >= 0) inotify_rm_watch(g_inotify, e.wd);
  e.wd = -1;
  const int sealed = SealReadOnly(e.live, !e.tmp_dir.empty());
  // A lease held on it (Reopen): no close event may come; the monitor's loop tries again.
  e.seal_blocked = sealed == -EWOULDBLOCK;
  if (sealed < 0) {
    // Not sealed (still mapped for writing): watched again, committed at a later close.
    char p[64];
    snprintf(p, sizeof p, "/proc/thread-self/fd/%d", e.live);
    e.wd = inotify_add_watch(g_inotify, p, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    return false;
  }
  SetCommitted(e, e.live);
  e.live = -1;
  WatchGone(e.committed);
  // SAFETY: a file unlinked while written is not brought back by its write-back; the next open
  // of the name reads the disk.
  if (e.unlinked) {
    SetCommitted(e, -1);
    e.unlinked = false;
    e.disk_ino = 0;
    e.older.clear();
    e.pending = false;
  } else {
    QueueWriteBack(k, e);
  }
  return true;
}

// Reads every close event queued: the program's descriptions that went. Holds g_mu.
void DrainEvents() {
  if (g_inotify < 0) return;
  alignas(inotify_event) char buf[4096];
  bool overflow = false;
  for (;;) {
    ssize_t n = read(g_inotify, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const inotify_event* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      overflow = overflow || (ev->mask & IN_Q_OVERFLOW);
      if (ev->mask & (IN_DELETE_SELF | IN_IGNORED)) BufferGone(ev);
      if (!(ev->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))) continue;
      for (auto& [k, e] : g_entries) {
        if (e.wd != ev->wd || e.live < 0) continue;
        e.writers = e.writers > 0 ? e.writers - 1 : 0;
        const int none = NoWriter(e.live);
        if (none == 1 || (none < 0 && e.writers == 0)) Commit(k, e);
        break;
      }
    }
  }
  // Events were lost (the queue's limit: many buffers gone at once): every writers' buffer no
  // description writes any more is committed now, as its lost close event would have.
  for (auto& [k, e] : g_entries) {
    if (overflow && e.live >= 0 && NoWriter(e.live) == 1) Commit(k, e);
  }
}

Key KeyOf(int dir_fd, const std::string& name, int handle, int* err) {
  struct stat sb;
  *err = fstat(dir_fd, &sb) < 0 ? -errno : 0;
  return Key{sb.st_dev, sb.st_ino, name, handle};
}

// The entry's committed buffer, for the on-disk file `disk` (decrypted when there is none, or
// when the file on disk is not the one it was made from). 0, -EBADMSG or -errno. Holds g_mu.
int EnsureCommitted(Entry& e, int handle, int disk, const struct stat& dsb) {
  // Ours: the last write-back's file, or one the name had before write-backs still in flight.
  const bool ours = dsb.st_ino == e.disk_ino || (e.pending && std::find(e.older.begin(), e.older.end(), dsb.st_ino) != e.older.end());
  if (dsb.st_ino == e.disk_ino) {
    e.pending = false;
    e.older.clear();
  }
  if (e.committed >= 0 && ours) return 0;
  // Changed on disk by someone else (or never read): the disk decides, unless writers are at work.
  if (e.committed >= 0 && e.live >= 0) return 0;
  SetCommitted(e, -1);
  int buf = NewBuffer(e.tmp_dir);
  if (buf < 0) return buf;
  // SAFETY: a 0-byte file is empty only when this sandbox created it and its write-back has not
  // landed yet; any other 0-byte file does not verify (truncated: never released as empty).
  const bool created = dsb.st_ino == e.created_ino && dsb.st_size == 0;
  // SAFETY: the plaintext may reach `buf` before the tag is checked (CryptDecryptFile): `buf` is
  // never linked and is closed here on failure, so nothing of it is ever released.
  int64_t r = created ? 0 : CryptDecryptFile(handle, disk, buf);
  if (r < 0) {
    close(buf);
    return static_cast<int>(r);
  }
  // Its times are the file's (an entry dropped and decrypted again is no change of content).
  const struct timespec times[2] = {dsb.st_atim, dsb.st_mtim};
  futimens(buf, times);
  int s = Seal(buf, !e.tmp_dir.empty());
  if (s < 0) {
    close(buf);
    return s;
  }
  SetCommitted(e, buf);
  WatchGone(buf);
  e.disk_ino = dsb.st_ino;
  e.pending = false;
  e.older.clear();
  return 0;
}

// The writers' buffer: a copy of committed (or empty: O_TRUNC), watched. 0 or -errno. Holds g_mu.
int EnsureLive(Entry& e, bool truncating) {
  if (e.live >= 0) return 0;
  int buf = NewBuffer(e.tmp_dir);
  if (buf < 0) return buf;
  int r = truncating || e.committed < 0 ? 0 : CopyAll(e.committed, buf);
  // tsyd keeps a read-only description (NoWriter: its own must not count as a writer); the
  // program's are reopened from it with the program's flags.
  int ro = r < 0 ? r : Reopen(buf, O_RDONLY);
  close(buf);
  if (ro < 0) return ro;
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", ro);
  int wd = Inotify() < 0 ? -1 : inotify_add_watch(g_inotify, p, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
  if (wd < 0) {
    r = -errno;
    close(ro);
    return r;
  }
  e.live = ro;
  e.wd = wd;
  e.writers = 0;
  return 0;
}

// A device and inode no other file has while the sandbox runs: a memfd's (the kernel numbers
// them from a counter that does not go back; the memfd is closed at once). Not the on-disk
// file's: each write-back frees the inode the name had, and the file system gives its number to
// the next file created (cp saw two crypt files as "the same file"). `dsb` when no memfd can be made.
CryptIdentity NewIdentity(const struct stat& dsb) {
  CryptIdentity id{dsb.st_dev, dsb.st_ino, 0, 0, 0};
  int fd = static_cast<int>(syscall(SYS_memfd_create, "tsyd-crypt-id", MFD_CLOEXEC));
  struct stat sb;
  if (fd >= 0 && fstat(fd, &sb) == 0) id.dev = sb.st_dev, id.ino = sb.st_ino;
  if (fd >= 0) close(fd);
  return id;
}

// The name's identity (made at its first open or stat), its mode and owner as on disk now, and
// the entry's buffers mapped to it. Holds g_mu.
void NoteIdentity(const Key& k, const struct stat& dsb, const Entry& e) {
  auto it = g_identities.find(k);
  if (it == g_identities.end()) it = g_identities.emplace(k, NewIdentity(dsb)).first;
  CryptIdentity& id = it->second;
  id.mode = dsb.st_mode & 07777, id.uid = dsb.st_uid, id.gid = dsb.st_gid;
  for (int fd : {e.committed, e.live}) {
    struct stat b;
    if (fd >= 0 && fstat(fd, &b) == 0) g_buffer_names.insert_or_assign({b.st_dev, b.st_ino}, k);
  }
  g_any_buffer = true;
}

// The identities of key `handle` go (its sandbox ended). Holds g_mu.
void ForgetIdentities(int handle) {
  for (auto it = g_identities.begin(); it != g_identities.end();) it = it->first.handle == handle ? g_identities.erase(it) : std::next(it);
  for (auto it = g_buffer_names.begin(); it != g_buffer_names.end();) it = it->second.handle == handle ? g_buffer_names.erase(it) : std::next(it);
}

// The entry `it` (end(): none) goes when it holds no buffer. Holds g_mu.
void EraseIfEmpty(std::map<Key, Entry>::iterator it) {
  if (it == g_entries.end() || it->second.committed >= 0 || it->second.live >= 0) return;
  CloseIf(it->second.dir_fd);
  g_entries.erase(it);
}

// An open that created its file (O_CREAT, unnamed: OpenDisk) failed after it: the file is never
// linked under the name, as natively a failed open creates nothing. Only while no other open of
// the new file was handed out (`ours`: the descriptions of its writers' buffer this open counted)
// and no write-back of it is on its way; false otherwise (the caller names the file after all).
// The entry keeps no buffer (its writers' buffer, when `ours`, leaves the name and is dropped at
// its close: `e` is then gone). Holds g_mu.
bool UndoCreate(const Key& k, Entry& e, const struct stat& dsb, int ours) {
  if (e.created_ino != dsb.st_ino || e.writers > ours || e.dir_fd < 0) return false;
  auto job = ReadyJobOf(k);  // a reader's create: the write-back of its empty content
  if (e.pending && job == g_ready.end()) return false;
  if (job != g_ready.end()) {
    CloseIf(job->plain_fd), CloseIf(job->dir_fd), CloseIf(job->tmp_fd);
    g_ready.erase(job);
  }
  g_identities.erase(k);
  e.created_ino = 0, e.disk_ino = 0, e.pending = false;
  e.older.clear();
  SetCommitted(e, -1);
  if (e.live >= 0 && ours > 0) {
    DetachUnlinked(g_entries.find(k));
  } else if (e.live >= 0) {
    if (e.wd >= 0) inotify_rm_watch(g_inotify, e.wd);
    e.wd = -1;
    CloseIf(e.live);
  }
  return true;
}

constexpr int kWriteModes = O_WRONLY | O_RDWR;
// What a buffer's new description keeps of the program's flags (O_DIRECT: a memfd has none).
constexpr int kBufferFlags = O_ACCMODE | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_NOATIME;

// The buffer description for the program: the on-disk file is opened as checked (created with
// the program's O_CREAT/O_EXCL and mode, never truncated), then its buffer is reopened with the
// program's flags. ≥ 0: tsyd's fd to inject; kNotCrypt; -errno.
// `for_stat`: no description for the program, a copy of tsyd's committed buffer (its identity
// and size are what the program's stat of the name shows). `made`: set when this open created
// the file on disk (for UndoCreate when the program does not get its fd).
struct CreatedFile {
  bool yes = false;
  bool writer = false;
  Key key{0, 0, "", -1};
  struct stat disk {};
  int disk_fd = -1;  // the new file, not yet named (-1: named already); the caller closes both
  int dir_fd = -1;
};

// The on-disk file of an open (`how`: with the program's O_CREAT/O_EXCL): its fd or -errno;
// `created`: this open made it. SAFETY: a new file is made unnamed (O_TMPFILE) and named only
// once the program has its fd (NameCreated): an open that fails after it leaves nothing, and
// tsyd never removes a file by name (a file renamed onto the name meanwhile would be removed;
// found by an attack). `unnamed` false (a file system without O_TMPFILE): made under the name,
// and left there (empty) if the open fails after all.
int OpenDisk(int dir_fd, const std::string& name, const open_how& how, bool* created, bool* unnamed) {
  *created = false, *unnamed = false;
  const auto at2 = [&](const open_how& h) {
    const int fd = static_cast<int>(syscall(SYS_openat2, dir_fd, name.c_str(), &h, sizeof h));
    return fd < 0 ? -errno : fd;
  };
  if (!(how.flags & O_CREAT)) return at2(how);
  open_how existing = how;
  existing.flags &= ~static_cast<uint64_t>(O_CREAT | O_EXCL);
  existing.mode = 0;  // openat2: EINVAL with a mode and no O_CREAT
  struct stat sb;
  if (!(how.flags & O_EXCL)) {
    const int fd = at2(existing);
    if (fd != -ENOENT) return fd;
  } else if (fstatat(dir_fd, name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0) {
    return -EEXIST;
  } else if (errno != ENOENT) {
    return -errno;
  }
  int fd = openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, static_cast<mode_t>(how.mode));
  if (fd >= 0) {
    *created = *unnamed = true;
    return fd;
  }
  if (errno != EOPNOTSUPP && errno != EISDIR) return -errno;
  open_how excl = how;
  excl.flags |= O_EXCL;
  fd = at2(excl);
  *created = fd >= 0;
  return fd == -EEXIST && !(how.flags & O_EXCL) ? at2(existing) : fd;
}

// The unnamed new file `disk_fd` gets its name (in `dir_fd`): 0 or -errno (EEXIST: another file
// took the name meanwhile; it stays there, as after a rename onto the new file).
int NameCreated(int disk_fd, int dir_fd, const std::string& name) {
  char p[64];
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", disk_fd);
  return linkat(AT_FDCWD, p, dir_fd, name.c_str(), AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}
int OpenBuffer(ThreadState* st, int handle, const std::string& path, int flags, unsigned mode, const std::string& tmp_dir, bool for_stat = false, CreatedFile* made = nullptr) {
  // Only a regular file (or a new one) is a crypt file: a FIFO or device is not opened here.
  struct stat psb;
  const int missing = StatPath(path, &st->anchor, &psb, false);
  if (missing == 0 && !S_ISREG(psb.st_mode)) return kNotCrypt;
  const size_t slash = path.rfind('/');
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  const std::string name = path.substr(slash + 1);
  const uint64_t no_links = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int dir_fd = Openat2Path(dir, &st->anchor, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, no_links);
  if (dir_fd < 0) return dir_fd;
  // A crypt file holds fds in tsyd until its write-back lands: never all of them (a thread of
  // tsyd that cannot start fails the supervisor, and the buffers not written back are lost).
  if (FdsShort()) {
    close(dir_fd);
    std::lock_guard<std::mutex> lock(g_mu);
    g_fd_pressure = true;
    return -EMFILE;
  }
  const bool writer = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
  NoteRefusal(nullptr);
  // SAFETY: a writer whose content could not be written back is refused before anything is
  // made; with O_CREAT before the open, which must not leave a file it cannot replace. So is a
  // reader that creates the file (its empty content is written back at once).
  const bool dir_checked = (flags & O_CREAT) && (writer || missing == -ENOENT);
  if (dir_checked) {
    WriteBackRefusal no = WhyNoWriteBack(dir_fd, -1, nullptr, false);
    if (no.err != 0) {
      close(dir_fd);
      NoteRefusal(no.why);
      return -no.err;
    }
  }
  open_how how{};
  // SAFETY: never O_TRUNC on disk: the old ciphertext stays whole until the write-back's rename.
  how.flags = static_cast<uint64_t>((writer ? O_RDWR : O_RDONLY) | (flags & (O_CREAT | O_EXCL | O_DIRECTORY)) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = no_links | RESOLVE_BENEATH;
  // Created by this open: its 0 bytes on disk are an empty file, not a truncated one.
  bool created = false, unnamed = false;
  int disk = OpenDisk(dir_fd, name, how, &created, &unnamed);
  if (disk < 0) {
    close(dir_fd);
    return disk;
  }
  // Named now when no caller names it once the program has its fd.
  if (unnamed && !made) {
    const int named = NameCreated(disk, dir_fd, name);
    unnamed = false;
    if (named < 0) {
      close(disk);
      close(dir_fd);
      return named;
    }
  }
  struct stat dsb;
  if (fstat(disk, &dsb) < 0 || !S_ISREG(dsb.st_mode)) {
    close(disk);
    close(dir_fd);
    return kNotCrypt;
  }
  if (writer) {
    WriteBackRefusal no = WhyNoWriteBack(dir_fd, disk, &dsb, dir_checked);
    if (no.err != 0) {
      close(disk);
      close(dir_fd);
      NoteRefusal(no.why);
      return -no.err;
    }
  }
  int err = 0;
  std::lock_guard<std::mutex> lock(g_mu);
  DrainEvents();
  Key k = KeyOf(dir_fd, name, handle, &err);
  if (err < 0) {
    close(disk);
    close(dir_fd);
    return err;
  }
  Entry& e = g_entries[k];
  if (e.dir_fd < 0) {
    e.dir_fd = dir_fd;
    e.tmp_dir = tmp_dir;
  } else {
    close(dir_fd);
  }
  e.mode = dsb.st_mode & 07777, e.uid = dsb.st_uid, e.gid = dsb.st_gid;
  e.last_use = NowMs();
  if (created) e.created_ino = dsb.st_ino;
  int r = 0;
  if (!(writer && (flags & O_TRUNC) && e.live < 0)) {
    r = EnsureCommitted(e, handle, disk, dsb);
  } else if (e.committed < 0 && !e.pending) {
    // Truncated without being read: the file on disk is still the one the write-back replaces.
    e.disk_ino = dsb.st_ino;
  }
  if (r == 0 && writer) r = EnsureLive(e, (flags & O_TRUNC) != 0);
  // Created by a reader (O_CREAT|O_RDONLY): no writer will write it back, so its empty content
  // is written back now (its 0 bytes on disk would not verify once the entry is gone); with
  // `made`, once the program has its fd (WriteBackCreated: not if the open fails after all).
  if (r == 0 && created && !writer && !made) QueueWriteBack(k, e);
  // Failed after the create: the new file stays unnamed (unless another open of it was handed out).
  if (r < 0 && created && !UndoCreate(k, e, dsb, 0) && unnamed) NameCreated(disk, e.dir_fd, name);
  if (r < 0) {
    close(disk);
    EraseIfEmpty(g_entries.find(k));
    return r;
  }
  NoteIdentity(k, dsb, e);
  if (for_stat) {
    // The writers' buffer while there is one, as natively stat during a write shows the file
    // being written: sqlite compares stat by name with fstat of its fd and took the snapshot's
    // identity for a moved database ("attempt to write a readonly database"; found by an attack).
    int copy = fcntl(e.live >= 0 ? e.live : e.committed, F_DUPFD_CLOEXEC, 0);
    close(disk);
    return copy < 0 ? -errno : copy;
  }
  int fd = Reopen(writer ? e.live : e.committed, flags & kBufferFlags & (writer ? ~0 : ~(kWriteModes | O_TRUNC | O_APPEND)));
  // Counted before the program has it: its close event may come as soon as it is injected.
  if (fd >= 0 && writer) e.writers++;
  if (fd < 0 && created) {
    if (!UndoCreate(k, e, dsb, 0) && unnamed) NameCreated(disk, e.dir_fd, name);
    EraseIfEmpty(g_entries.find(k));
  }
  if (fd >= 0 && created && made) {
    *made = CreatedFile{true, writer, k, dsb};
    if (unnamed) made->disk_fd = disk, made->dir_fd = fcntl(e.dir_fd, F_DUPFD_CLOEXEC, 0), disk = -1;
  }
  CloseIf(disk);
  return fd;
}

// The program did not get the fd `fd` of the file its open created (its own fd table is full):
// the file is not named (UndoCreate), unless another open of it was handed out; closes `fd`.
void UndoCreatedOpen(const CreatedFile& made, int fd) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_entries.find(made.key);
  const bool undone = it != g_entries.end() && UndoCreate(it->first, it->second, made.disk, made.writer ? 1 : 0);
  if (!undone && made.disk_fd >= 0) NameCreated(made.disk_fd, made.dir_fd, made.key.name);
  close(fd);
  DrainEvents();  // its close: the writers' buffer is dropped (unlinked) now
  EraseIfEmpty(g_entries.find(made.key));
}

// The program got its fd of the file its reader's open created: the empty content is written
// back (unless a writer's write-back comes, or is on its way).
void WriteBackCreated(const CreatedFile& made) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_entries.find(made.key);
  if (it == g_entries.end()) return;
  Entry& e = it->second;
  if (e.committed >= 0 && e.live < 0 && !e.pending && e.created_ino == made.disk.st_ino) QueueWriteBack(it->first, e);
}

int CurrentHandle(const Napi::CallbackInfo& info) { return info[0].As<Napi::Number>().Int32Value(); }

// The entry of `path` (a byte string) when there is one: `fn(key, entry)` under g_mu, after the
// queued close events. 0 when there is none.
template <typename F>
int WithEntry(int handle, const std::string& path, F fn, bool new_identity = false) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return -EINVAL;
  const std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  int dir_fd = Openat2Path(dir, nullptr, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (dir_fd < 0) return dir_fd == -ENOENT ? 0 : dir_fd;
  int err = 0;
  std::lock_guard<std::mutex> lock(g_mu);
  DrainEvents();
  Key k = KeyOf(dir_fd, path.substr(slash + 1), handle, &err);
  close(dir_fd);
  if (err < 0) return err;
  auto it = g_entries.find(k);
  const int r = it == g_entries.end() ? 0 : fn(it);
  // Another file takes the name (or none): it is no longer the file the identity was of.
  if (new_identity) g_identities.erase(k);
  return r;
}

// The entry `it`, whose name is unlinked while its writers are at work, leaves the name: the next
// open of the name reads the disk (a new file), never this buffer. It goes under a key no name
// has (device 0, a number of its own, no name: a call by name on it fails ENOENT) with the
// file's identity (fstat of its fds shows it, as natively the deleted inode's), and is dropped
// at its writers' last close (`unlinked`: never written back, as natively its content goes
// with the deleted inode). Holds g_mu.
void DetachUnlinked(std::map<Key, Entry>::iterator it) {
  static ino_t next_orphan = 1;
  const Key k = it->first;
  const Key orphan{0, next_orphan++, "", k.handle};
  Entry e = std::move(it->second);
  g_entries.erase(it);
  e.unlinked = true;
  e.pending = false, e.older.clear(), e.disk_ino = 0, e.created_ino = 0, e.retry_err = 0;
  SetCommitted(e, -1);
  auto id = g_identities.find(k);
  if (id != g_identities.end()) g_identities.insert_or_assign(orphan, id->second);
  for (auto& [buf, key] : g_buffer_names) {
    if (!(key < k) && !(k < key)) key = orphan;
  }
  g_entries.emplace(orphan, std::move(e));
}

// cryptForget(handle, path: Buffer, unlinking) → 0 or -errno, before the name `path` goes or
// another file takes it (unlink, rename): its buffers are forgotten, so that the next open
// reads the disk. -EBUSY (rename) while the program still writes the file; unlinking, its
// writers' buffer is dropped at their last close instead of written back.
Napi::Value CryptForget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Buffer<char> b = info[1].As<Napi::Buffer<char>>();
  const bool unlinking = info[2].ToBoolean().Value();
  int r = WithEntry(CurrentHandle(info), std::string(b.Data(), b.Length()), [&](std::map<Key, Entry>::iterator it) {
    Entry& e = it->second;
    if (e.live >= 0) {
      if (!unlinking) return -EBUSY;
      DetachUnlinked(it);
      return 0;
    }
    // SAFETY: a content whose write-back waits for a retry is written back before its name moves
    // (it would be dropped with the entry); when it still cannot be, the rename fails with why.
    if (!unlinking && e.retry_err != 0 && e.committed >= 0) {
      QueueWriteBack(it->first, e);
      if (e.retry_err != 0) return -e.retry_err;
    }
    SetCommitted(e, -1);
    CloseIf(e.dir_fd);
    g_entries.erase(it);
    return 0;
  }, true);
  return Napi::Number::New(env, r);
}

// cryptOpenInject(handle, flags, mode, tmpDir) → the fd number in the program, kNotCrypt (not a
// regular file: nothing answered, open it as any file), or -errno (answered; -EBADMSG: the file
// does not verify). The path is the checked one in the path buffer.
Napi::Value CryptOpenInject(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "cryptOpenInject");
  if (!st) return env.Undefined();
  const int handle = CurrentHandle(info);
  const int flags = info[1].As<Napi::Number>().Int32Value();
  unsigned mode = info[2].As<Napi::Number>().Uint32Value() & 07777;
  const std::string tmp_dir = info[3].IsString() ? info[3].As<Napi::String>().Utf8Value() : std::string();
  if (st->path_len == 0 || st->slots[kPathMagic] != 0) return Napi::Number::New(env, kNotCrypt);
  const std::string path(reinterpret_cast<const char*>(st->path), st->path_len);
  if (flags & O_CREAT) {
    int um = UmaskOf(static_cast<pid_t>(st->req->pid));
    if (um < 0) {
      Respond(st, 1, um == -ESRCH ? ESRCH : -um);
      return Napi::Number::New(env, um);
    }
    mode &= ~static_cast<unsigned>(um);
  }
  CreatedFile made;
  int fd = OpenBuffer(st, handle, path, flags, mode, tmp_dir, false, &made);
  if (fd == kNotCrypt) return Napi::Number::New(env, kNotCrypt);
  if (fd < 0) {
    int r = Respond(st, 1, -fd);
    return Napi::Number::New(env, r == -ENOENT ? -ESRCH : fd);
  }
  int remote = InstallFd(st->notify_fd, st->req->id, fd, (flags & O_CLOEXEC) != 0);
  // Refused (EMFILE: the program's fd table is full): as natively, the open creates nothing.
  if (remote < 0 && remote != -ENOENT && made.yes) {
    UndoCreatedOpen(made, fd);
  } else {
    close(fd);  // a description the program did not get gives its close event now
    // The program has its fd: the new file gets its name (another file that took the name
    // meanwhile is not replaced by a reader's empty content).
    const int named = made.disk_fd >= 0 ? NameCreated(made.disk_fd, made.dir_fd, made.key.name) : 0;
    if (made.yes && !made.writer && named == 0) WriteBackCreated(made);
  }
  if (made.disk_fd >= 0) close(made.disk_fd);
  if (made.dir_fd >= 0) close(made.dir_fd);
  if (remote >= 0) {
    int r = Respond(st, 2, remote);
    return Napi::Number::New(env, r == -ENOENT ? -ESRCH : remote);
  }
  if (remote == -ENOENT) {
    st->have_req = false;
    EndBusy(st);
    return Napi::Number::New(env, -ESRCH);
  }
  Respond(st, 1, -remote);
  return Napi::Number::New(env, remote);
}

// cryptStatBuffer(handle, tmpDir) → a copy of the committed buffer of the checked crypt file whose
// stat is held back (fsOp hold kHoldFiles; the caller closes it), -EISDIR when what is held is
// no regular file (a directory: finishStat), or -errno (-EBADMSG: it does not verify).
Napi::Value CryptStatBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "cryptStatBuffer");
  if (!st) return env.Undefined();
  const std::string tmp_dir = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  struct stat sb;
  if (st->pend_kind == 0 || st->pend_fd < 0 || st->path_len == 0) return Napi::Number::New(env, -EINVAL);
  if (fstat(st->pend_fd, &sb) < 0 || !S_ISREG(sb.st_mode)) return Napi::Number::New(env, -EISDIR);
  const std::string path(reinterpret_cast<const char*>(st->path), st->path_len);
  int r = OpenBuffer(st, CurrentHandle(info), path, O_RDONLY, 0, tmp_dir, true);
  return Napi::Number::New(env, r == kNotCrypt ? -EISDIR : r);
}

// cryptTruncate(handle, lengthArg, tmpDir) → 0 or -errno (answered): truncate(path, length) of
// the checked crypt file: its writers' buffer is truncated through a description of tsyd's own,
// whose close is the write-back (the ciphertext on disk is never cut).
Napi::Value CryptTruncate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "cryptTruncate");
  if (!st) return env.Undefined();
  const int length_arg = info[1].As<Napi::Number>().Int32Value();
  const std::string tmp_dir = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
  if (length_arg < 0 || length_arg > 5 || st->path_len == 0) return Napi::Number::New(env, -EINVAL);
  const int64_t length = static_cast<int64_t>(st->req->data.args[length_arg]);
  const std::string path(reinterpret_cast<const char*>(st->path), st->path_len);
  int r = length < 0 ? -EINVAL : OpenBuffer(st, CurrentHandle(info), path, O_WRONLY, 0, tmp_dir);
  if (r == kNotCrypt) r = -EINVAL;  // not a regular file: truncate(2) says EINVAL
  if (r >= 0) {
    const int fd = r;
    r = ftruncate(fd, length) < 0 ? -errno : 0;
    close(fd);  // the close event: its last writer, unless the program writes it too
  }
  return AnswerResult(env, st, r);
}

// cryptCollect(how, handle) → the write-backs ready: [{ handle, plainFd, dirFd, name, tmpFd } |
// { name, err }]. how 0: the buffers whose last writer went; 1 (the monitor's loop): and the
// snapshots idle for kIdleMs whose write-back landed are dropped (their plaintext freed); 2 (the
// program of key `handle` has ended): every buffer of that key still live is written back as it
// is now, and its entries whose write-back landed are dropped; 3 (its write-backs are done, the
// key is dropped next): every entry of that key is dropped (a later key may get its number).
Napi::Value CryptCollect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int how = info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : 0;
  const int handle = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : -1;
  const bool all = how >= 2;
  std::vector<WriteBack> ready;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    DrainEvents();
    const int64_t now = NowMs();
    // Too many bytes of snapshots: those written back go now (at any collect, not only the monitor's).
    const bool bytes_pressure = g_snapshot_bytes > kSnapshotBytes;
    const bool pressure = g_fd_pressure || bytes_pressure;
    if (how > 0) g_fd_pressure = false;
    size_t dropped = 0;
    for (auto it = g_entries.begin(); (how > 0 || bytes_pressure) && it != g_entries.end();) {
      Entry& e = it->second;
      // SAFETY: the end of one sandbox touches only its own key's files: another sandbox of
      // this process may be writing its own right now.
      if (all && it->first.handle != handle) {
        ++it;
        continue;
      }
      // A buffer no description writes that a lease kept from being sealed: tried again.
      if (e.seal_blocked && e.live >= 0 && NoWriter(e.live) == 1) Commit(it->first, e);
      // A write-back that could not be made for a passing want is made again.
      if (how < 3 && e.retry_err != 0 && e.live < 0 && e.committed >= 0) QueueWriteBack(it->first, e);
      if (all && e.live >= 0 && !Commit(it->first, e)) {
        // Still mapped for writing by a description tsyd did not hand out: taken as it is now.
        if (e.wd >= 0) inotify_rm_watch(g_inotify, e.wd);
        e.wd = -1;
        SetCommitted(e, e.live);
        e.live = -1;
        if (!e.unlinked) QueueWriteBack(it->first, e);
      }
      struct stat sb;
      // Short of fds: every snapshot whose write-back landed goes now, not after kIdleMs.
      const bool idle = all || pressure || now - e.last_use >= kIdleMs;
      if (how == 3 && e.retry_err != 0 && e.committed >= 0) NoteLostWriteBack(handle, e.dir_fd, it->first.name, "retry", e.retry_err);
      const bool done = how == 3 || (idle && e.live < 0 && e.retry_err == 0 &&
                        (!e.pending || (fstatat(e.dir_fd, it->first.name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_ino == e.disk_ino)));
      if (done) {
        if (e.wd >= 0) inotify_rm_watch(g_inotify, e.wd);
        SetCommitted(e, -1);
        CloseIf(e.live), CloseIf(e.dir_fd);
        it = g_entries.erase(it);
        // Each buffer gone is two events: read as they come, the queue's limit is not reached.
        if (++dropped % 1024 == 0) DrainEvents();
      } else {
        ++it;
      }
    }
    if (how == 3) ForgetIdentities(handle);
    ready.insert(ready.end(), std::make_move_iterator(g_ready.begin()), std::make_move_iterator(g_ready.end()));
    g_ready.clear();
    for (const WriteBack& w : ready) if (!w.err) g_handing++;
  }
  // The end of the sandbox: every write-back of its key that failed for good, one per file.
  const std::vector<LostWriteBack> lost = how == 3 ? TakeLostWriteBacks(handle) : std::vector<LostWriteBack>();
  Napi::Array out = Napi::Array::New(env, ready.size() + lost.size());
  for (size_t i = 0; i < lost.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, lost[i].name));
    o.Set("err", Napi::Number::New(env, lost[i].err));
    o.Set("lost", Napi::Boolean::New(env, true));
    o.Set("stage", Napi::String::New(env, lost[i].stage));
    if (!lost[i].stray.empty()) o.Set("stray", Napi::String::New(env, lost[i].stray));
    out.Set(static_cast<uint32_t>(ready.size() + i), o);
  }
  for (size_t i = 0; i < ready.size(); i++) {
    const WriteBack& w = ready[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, w.name));
    if (w.err) {
      o.Set("err", Napi::Number::New(env, w.err));
    } else {
      o.Set("handle", Napi::Number::New(env, w.handle));
      o.Set("plainFd", Napi::Number::New(env, w.plain_fd));
      o.Set("dirFd", Napi::Number::New(env, w.dir_fd));
      o.Set("tmpFd", Napi::Number::New(env, w.tmp_fd));
      o.Set("seq", Napi::Number::New(env, static_cast<double>(w.seq)));
    }
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

// True when the content of a write-back whose ciphertext (`tmp_fd`: its file) did not replace
// the name is not lost: a newer content of the file was queued after it (or the name was
// unlinked), or, failed for a passing want, the entry still holds it: kept, made again by the
// next cryptCollect. SAFETY: never lose written content for a passing want.
bool KeptOrSuperseded(int handle, int dir_fd, const std::string& name, int tmp_fd, int err) {
  struct stat tsb;
  int kerr = 0;
  if (fstat(tmp_fd, &tsb) < 0) return false;
  Key k = KeyOf(dir_fd, name, handle, &kerr);
  if (kerr < 0) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_entries.find(k);
  if (it == g_entries.end()) return false;
  Entry& e = it->second;
  if (e.disk_ino != tsb.st_ino) return true;
  if (!Transient(err) || e.committed < 0) return false;
  // The name still has the file it had before this write-back.
  e.disk_ino = e.older.empty() ? 0 : e.older.back();
  if (!e.older.empty()) e.older.pop_back();
  e.pending = !e.older.empty();
  e.retry_err = err;
  return true;
}

// A write-back that did not replace the name, at `stage`: kept for a retry, or lost (the end of
// the sandbox names it and exits 101). stray: its temporary name, left in the directory.
void WriteBackFailed(int handle, int dir_fd, const std::string& name, int tmp_fd, const char* stage, int err, const std::string& stray) {
  if (!KeptOrSuperseded(handle, dir_fd, name, tmp_fd, err)) NoteLostWriteBack(handle, dir_fd, name, stage, err, stray);
}

// cryptHanded(done) → the jobs cryptCollect returned that are not yet handed on; `done`: one more
// was handed to the AES worker or written back (or failed).
Napi::Value CryptHanded(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].ToBoolean().Value()) g_handing--;
  return Napi::Number::New(info.Env(), g_handing.load());
}

// cryptDue() → true when a write-back may be due (a close event not yet read, a job not yet
// handed on): cheap, under no lock, for the calls that wait for the write-backs due only when some are.
Napi::Value CryptDue(const Napi::CallbackInfo& info) {
  int queued = 0;
  const bool events = g_inotify >= 0 && ioctl(g_inotify, FIONREAD, &queued) == 0 && queued > 0;
  bool ready;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    ready = !g_ready.empty();
  }
  return Napi::Boolean::New(info.Env(), events || ready || g_handing.load() > 0);
}

// cryptBuffers() → { entries, live, writers }: what the registry holds (tests, the exit's log).
Napi::Value CryptBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(g_mu);
  DrainEvents();
  int live = 0, writers = 0, retrying = 0;
  for (auto& [k, e] : g_entries) {
    if (e.retry_err != 0) retrying++;
    if (e.live >= 0) live++;
    writers += e.writers;
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("entries", Napi::Number::New(env, static_cast<double>(g_entries.size())));
  o.Set("live", Napi::Number::New(env, live));
  o.Set("writers", Napi::Number::New(env, writers));
  o.Set("retrying", Napi::Number::New(env, retrying));
  return o;
}

// cryptBufferNames() → how many buffers' names (identities) the registry holds: those of buffers
// still open somewhere (tests). Apart from cryptBuffers(), whose record shape is kept.
Napi::Value CryptBufferNames(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_mu);
  DrainEvents();
  return Napi::Number::New(info.Env(), static_cast<double>(g_buffer_names.size()));
}

// cryptWriteBackNow(job) → 0 or -errno: what the AES worker does with a job (aesSubmit), on this
// thread: encrypt into tmpFd, fsync, link it beside the file, rename it onto the name; closes the
// job's fds. Until the AES worker runs.
Napi::Value CryptWriteBackNow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object job = info[0].As<Napi::Object>();
  const int handle = job.Get("handle").As<Napi::Number>().Int32Value();
  int plain = job.Get("plainFd").As<Napi::Number>().Int32Value();
  int dir = job.Get("dirFd").As<Napi::Number>().Int32Value();
  int tmp = job.Get("tmpFd").As<Napi::Number>().Int32Value();
  const std::string name = job.Get("name").As<Napi::String>().Utf8Value();
  const char* stage = "encrypt";
  int r = static_cast<int>(std::min<int64_t>(0, CryptEncryptFile(handle, plain, tmp)));
  if (r == 0 && (stage = "fsync", fsync(tmp) < 0)) r = -errno;
  char link[64], tmpname[64];
  snprintf(link, sizeof link, "/proc/thread-self/fd/%d", tmp);
  snprintf(tmpname, sizeof tmpname, ".tsyd-crypt-%d-%ld", getpid(), static_cast<long>(syscall(SYS_gettid)));
  if (r == 0 && (stage = "link", linkat(AT_FDCWD, link, dir, tmpname, AT_SYMLINK_FOLLOW) < 0)) r = -errno;
  std::string stray;
  if (r == 0 && (stage = "rename", renameat(dir, tmpname, dir, name.c_str()) < 0)) {
    r = -errno;
    if (unlinkat(dir, tmpname, 0) < 0) stray = tmpname;
  }
  if (r < 0) WriteBackFailed(handle, dir, name, tmp, stage, -r, stray);
  // Committed; the rename made durable where the directory can be synced (as the AES worker).
  if (r == 0) fsync(dir);
  close(plain), close(dir), close(tmp);
  return Napi::Number::New(env, r);
}

}  // namespace

bool IsCryptSnapshot(dev_t dev, ino_t ino) {
  if (!g_any_buffer) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  auto b = g_buffer_names.find({dev, ino});
  if (b == g_buffer_names.end()) return false;
  // The writers' buffer is written through any of its descriptions, as a plain file is (`tee
  // /dev/stdout > f`, `echo x > /proc/self/fd/3`): only the others are snapshots.
  auto e = g_entries.find(b->second);
  struct stat lsb;
  return e == g_entries.end() || e->second.live < 0 || fstat(e->second.live, &lsb) != 0 || lsb.st_dev != dev || lsb.st_ino != ino;
}

bool CryptIdentityOf(dev_t buf_dev, ino_t buf_ino, const struct stat* disk_now, CryptIdentity* out) {
  if (!g_any_buffer) return false;
  std::lock_guard<std::mutex> lock(g_mu);
  auto b = g_buffer_names.find({buf_dev, buf_ino});
  if (b == g_buffer_names.end()) return false;
  auto id = g_identities.find(b->second);
  if (id == g_identities.end()) return false;
  if (disk_now) id->second.mode = disk_now->st_mode & 07777, id->second.uid = disk_now->st_uid, id->second.gid = disk_now->st_gid;
  *out = id->second;
  return true;
}

void CryptWriteBackFailed(int handle, int dir_fd, const std::string& name, int tmp_fd, const char* stage, int err, const std::string& stray) {
  WriteBackFailed(handle, dir_fd, name, tmp_fd, stage, err, stray);
}

void CryptWriteBackSuperseded(int handle, int dir_fd, const std::string& name, int tmp_fd) {
  struct stat tsb;
  int kerr = 0;
  if (fstat(tmp_fd, &tsb) < 0) return;
  Key k = KeyOf(dir_fd, name, handle, &kerr);
  if (kerr < 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_entries.find(k);
  if (it == g_entries.end()) return;
  // Its ciphertext never reaches the disk: not an inode the name may have.
  std::vector<ino_t>& older = it->second.older;
  older.erase(std::remove(older.begin(), older.end(), tsb.st_ino), older.end());
}

void InitCryptFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("cryptOpenInject", Napi::Function::New(env, CryptOpenInject, "cryptOpenInject"));
  exports.Set("cryptCollect", Napi::Function::New(env, CryptCollect, "cryptCollect"));
  exports.Set("cryptForget", Napi::Function::New(env, CryptForget, "cryptForget"));
  exports.Set("cryptStatBuffer", Napi::Function::New(env, CryptStatBuffer, "cryptStatBuffer"));
  exports.Set("cryptTruncate", Napi::Function::New(env, CryptTruncate, "cryptTruncate"));
  exports.Set("cryptWriteBackNow", Napi::Function::New(env, CryptWriteBackNow, "cryptWriteBackNow"));
  exports.Set("cryptBuffers", Napi::Function::New(env, CryptBuffers, "cryptBuffers"));
  exports.Set("cryptBufferNames", Napi::Function::New(env, CryptBufferNames, "cryptBufferNames"));
  exports.Set("cryptHanded", Napi::Function::New(env, CryptHanded, "cryptHanded"));
  exports.Set("cryptDue", Napi::Function::New(env, CryptDue, "cryptDue"));
  exports.Set("CRYPT_NOT_REGULAR", Napi::Number::New(env, kNotCrypt));
}

}  // namespace tsyd
