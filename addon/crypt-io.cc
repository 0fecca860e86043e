// Plumbing for `tsyd crypt` (src/cli/crypt.ts): a memfd to hold a whole input or output, and a
// kernel-side copy (splice, sendfile) between stdin/stdout and it. The bytes never pass through JS.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tsyd {

namespace {

constexpr size_t kStep = 1 << 20;

// read/write fallback (a tty, a socket: what splice and sendfile refuse): bytes copied or -errno.
int64_t ReadWriteCopy(int src, int dst) {
  char buf[64 * 1024];
  int64_t total = 0;
  for (;;) {
    ssize_t n = read(src, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return total;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = write(dst, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return -errno;
      done += w;
    }
    total += n;
  }
}

// All of `src` from its offset 0 (a pipe, a socket: to its end) to `dst` at dst's own position: the bytes
// copied, or -errno.
int64_t CopyAll(int src, int dst) {
  struct stat st;
  if (fstat(src, &st) < 0) return -errno;
  int64_t total = 0;
  if (S_ISFIFO(st.st_mode)) {
    for (;;) {
      const ssize_t n = splice(src, nullptr, dst, nullptr, kStep, SPLICE_F_MORE);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return total == 0 && errno == EINVAL ? ReadWriteCopy(src, dst) : -errno;
      if (n == 0) return total;
      total += n;
    }
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) return ReadWriteCopy(src, dst);  // a socket, a tty
  off_t off = 0;
  for (;;) {
    const ssize_t n = sendfile(dst, src, &off, kStep);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return total == 0 && (errno == EINVAL || errno == ENOSYS) ? ReadWriteCopy(src, dst) : -errno;
    if (n == 0) return total;
    total += n;
  }
}

// cryptMemfd() → a fresh memfd (close-on-exec), or -errno.
Napi::Value Memfd(const Napi::CallbackInfo& info) {
  const int fd = memfd_create("tsyd-crypt", MFD_CLOEXEC);
  return Napi::Number::New(info.Env(), fd < 0 ? -errno : fd);
}

// cryptCopy(srcFd, dstFd) → bytes copied (see CopyAll), or -errno.
Napi::Value Copy(const Napi::CallbackInfo& info) {
  const int src = info[0].As<Napi::Number>().Int32Value(), dst = info[1].As<Napi::Number>().Int32Value();
  return Napi::Number::New(info.Env(), static_cast<double>(CopyAll(src, dst)));
}

}  // namespace

void InitCryptIo(Napi::Env env, Napi::Object exports) {
  exports.Set("cryptMemfd", Napi::Function::New(env, Memfd, "cryptMemfd"));
  exports.Set("cryptCopy", Napi::Function::New(env, Copy, "cryptCopy"));
}

}  // namespace tsyd
