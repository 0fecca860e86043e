// Reading the sandboxed program's memory: process_vm_readv, /proc/<tid>/mem as fallback.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tsyd {

static constexpr uint64_t kPage = 4096;

// One read that never crosses a page boundary, so a partially mapped range reads what is
// mapped instead of failing as a whole. Returns bytes read or -errno.
static long ReadChunkOnce(pid_t tid, uint64_t addr, void* out, size_t len) {
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
  if (n >= 0) return n;
  if (errno != ENOSYS) return -errno;
  // Kernels without CONFIG_CROSS_MEMORY_ATTACH.
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/mem", tid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  n = pread(fd, out, len, static_cast<off_t>(addr));
  int e = errno;
  close(fd);
  return n < 0 ? -(e == EIO ? EFAULT : e) : n;
}

static long ReadChunk(pid_t tid, uint64_t addr, void* out, size_t len) {
  return AsCaller([&] { return ReadChunkOnce(tid, addr, out, len); });
}

long ReadRemoteString(pid_t tid, uint64_t addr, char* out, size_t max) {
  if (addr == 0) return -EFAULT;
  size_t total = 0;
  while (total < max) {
    uint64_t at = addr + total;
    if (at < addr) return -EFAULT;  // wrapped around
    size_t chunk = static_cast<size_t>(kPage - (at % kPage));
    if (chunk > max - total) chunk = max - total;
    long n = ReadChunk(tid, at, out + total, chunk);
    if (n < 0) return n == -ESRCH ? -ESRCH : -EFAULT;
    if (n == 0) return -EFAULT;
    void* nul = memchr(out + total, 0, static_cast<size_t>(n));
    if (nul) return static_cast<char*>(nul) - out;
    total += static_cast<size_t>(n);
    if (static_cast<size_t>(n) < chunk) return -EFAULT;
  }
  return -ENAMETOOLONG;
}

int ReadRemote(pid_t tid, uint64_t addr, void* out, size_t len) {
  size_t total = 0;
  while (total < len) {
    uint64_t at = addr + total;
    if (at < addr) return -EFAULT;
    size_t chunk = static_cast<size_t>(kPage - (at % kPage));
    if (chunk > len - total) chunk = len - total;
    long n = ReadChunk(tid, at, static_cast<char*>(out) + total, chunk);
    if (n < 0) return n == -ESRCH ? -ESRCH : -EFAULT;
    if (n == 0) return -EFAULT;
    total += static_cast<size_t>(n);
  }
  return 0;
}

// readMemory(tid, addr, len) → Buffer | null (unreadable). len ≤ 4096.
static Napi::Value ReadMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  double a = info[1].As<Napi::Number>().DoubleValue();
  size_t len = info[2].As<Napi::Number>().Uint32Value();
  if (a < 0 || a >= 18446744073709551616.0 || len == 0 || len > 4096) return env.Null();
  char buf[4096];
  if (ReadRemote(tid, static_cast<uint64_t>(a), buf, len) < 0) return env.Null();
  return Napi::Buffer<char>::Copy(env, buf, len);
}

int WriteRemote(pid_t tid, uint64_t addr, const void* data, size_t len) {
  if (len == 0) return 0;
  if (addr == 0 || addr + len < addr) return -EFAULT;
  iovec local{const_cast<void*>(data), len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  long n = AsCaller([&]() -> long {
    ssize_t w = process_vm_writev(tid, &local, 1, &remote, 1, 0);
    return w < 0 ? -errno : w;
  });
  if (n == static_cast<long>(len)) return 0;
  if (n >= 0) return -EFAULT;  // part of the range is not mapped (or not writable)
  return n == -ESRCH ? -ESRCH : -EFAULT;
}

void InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("readMemory", Napi::Function::New(env, ReadMemory, "readMemory"));
}

}  // namespace tsyd
