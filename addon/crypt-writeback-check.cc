// Can a crypt file be written back? Checked when a writer opens it, before any buffer is made
// (README "Crypt sandboxing"): natively an in-place write needs only the file's write permission;
// tsyd's whole-old-or-whole-new write-back needs the directory too. Each check is the kernel's
// rule for one step of the write-back (O_TMPFILE, fchown, fchmod, link, rename onto the name).
// SAFETY: a writer open that could not be written back is refused (fail closed), never accepted
// to lose its content at the close; the new inode never changes the file's owner (write access
// would become ownership).
#include "crypt-writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace tsyd {

namespace {

thread_local const char* t_refusal = nullptr;

// In the calling thread's effective set (capabilities are per thread).
bool HasCap(int cap) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  return syscall(SYS_capget, &hdr, data) == 0 && (data[cap / 32].effective >> (cap % 32)) & 1;
}

bool InMyGroups(gid_t gid) {
  if (gid == getegid()) return true;
  gid_t groups[256];
  const int n = getgroups(256, groups);
  return n > 0 && std::find(groups, groups + n, gid) != groups + n;
}

// FS_IOC_GETFLAGS (0: none, or a file system without them).
int InodeFlags(int fd) {
  int flags = 0;
  return fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 ? flags : 0;
}

// The directory's immutable and append-only flags (FS_*_FL), or -errno when they cannot be known.
// statx on the O_PATH fd needs no read access to the directory (a 0333 one); a file system that
// does not report them there is asked by FS_IOC_GETFLAGS (one without flags has none).
int DirFlags(int dir_fd) {
  struct statx sx;
  constexpr uint64_t kBoth = STATX_ATTR_APPEND | STATX_ATTR_IMMUTABLE;
  if (statx(dir_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0, &sx) == 0 && (sx.stx_attributes_mask & kBoth) == kBoth) {
    return ((sx.stx_attributes & STATX_ATTR_APPEND) ? FS_APPEND_FL : 0) | ((sx.stx_attributes & STATX_ATTR_IMMUTABLE) ? FS_IMMUTABLE_FL : 0);
  }
  const int dir = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
  if (dir < 0) return -errno;
  int flags = 0;
  const int r = ioctl(dir, FS_IOC_GETFLAGS, &flags);
  const int err = errno;
  close(dir);
  if (r == 0) return flags;
  return err == ENOTTY || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL ? 0 : -err;
}

WriteBackRefusal DirRefusal(int dir_fd) {
  const int flags = DirFlags(dir_fd);
  // SAFETY: fail closed: flags that cannot be known may be append-only (the rename would fail).
  if (flags < 0) return {-flags, "the directory's append-only and immutable flags cannot be read"};
  if (flags & FS_IMMUTABLE_FL) return {EPERM, "the directory is immutable: no file can be renamed onto the name"};
  if (flags & FS_APPEND_FL) return {EPERM, "the directory is append-only: no file can be renamed onto the name"};
  if (faccessat(dir_fd, ".", W_OK | X_OK, AT_EACCESS) < 0) {
    return {errno, "tsyd cannot create and rename files in the directory (no write and search permission)"};
  }
  return {0, nullptr};
}

}  // namespace

WriteBackRefusal WhyNoWriteBack(int dir_fd, int disk_fd, const struct stat* disk, bool dir_checked) {
  if (!dir_checked) {
    WriteBackRefusal r = DirRefusal(dir_fd);
    if (r.err != 0 || disk == nullptr) return r;
  }
  if (disk == nullptr) return {0, nullptr};
  const int flags = InodeFlags(disk_fd);
  if (flags & FS_IMMUTABLE_FL) return {EPERM, "the file is immutable"};
  if (flags & FS_APPEND_FL) return {EPERM, "the file is append-only"};
  struct stat dsb;
  if (fstat(dir_fd, &dsb) < 0) return {errno, "the directory cannot be stat'ed"};
  const uid_t me = geteuid();
  // The kernel's sticky rule for the rename onto the name (check_sticky).
  if ((dsb.st_mode & S_ISVTX) && disk->st_uid != me && dsb.st_uid != me && !HasCap(CAP_FOWNER)) {
    return {EPERM, "sticky directory: tsyd owns neither the file nor the directory, so it cannot rename onto the name"};
  }
  // The new inode is tsyd's, with the directory's group when it is setgid: it gets the file's
  // owner and group by fchown (the owner: CAP_CHOWN, then CAP_FOWNER for its mode; a group:
  // one of tsyd's, or CAP_CHOWN), then its mode.
  const gid_t new_gid = (dsb.st_mode & S_ISGID) ? dsb.st_gid : getegid();
  if (disk->st_uid != me && !(HasCap(CAP_CHOWN) && HasCap(CAP_FOWNER))) {
    return {EPERM, "the file's owner is not tsyd's user: its new inode could not keep the owner"};
  }
  if (disk->st_gid != new_gid && !InMyGroups(disk->st_gid) && !HasCap(CAP_CHOWN)) {
    return {EPERM, "the file's group is none of tsyd's groups: its new inode could not keep the group"};
  }
  return {0, nullptr};
}

void NoteRefusal(const char* why) { t_refusal = why; }

namespace {

// cryptRefusal() → why this thread's last crypt open was refused for a write-back that could not
// land (then forgotten), or undefined: the open failed for another reason.
Napi::Value CryptRefusal(const Napi::CallbackInfo& info) {
  const char* why = t_refusal;
  t_refusal = nullptr;
  return why ? Napi::Value(Napi::String::New(info.Env(), why)) : info.Env().Undefined();
}

}  // namespace

void InitCryptWriteBackCheck(Napi::Env env, Napi::Object exports) {
  exports.Set("cryptRefusal", Napi::Function::New(env, CryptRefusal, "cryptRefusal"));
}

}  // namespace tsyd
