// The addon's own native threads: see native-thread.h.
#include "native-thread.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

namespace tsyd {

int ConfineThisThread(const std::vector<sock_filter>& filter) {
  sock_fprog prog;
  prog.len = static_cast<unsigned short>(filter.size());
  prog.filter = const_cast<sock_filter*>(filter.data());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return errno;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) return errno;
  return 0;
}

int CreateSignalFreeThread(pthread_t* thread, size_t stack, void* (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack);
  // SAFETY: created with every signal blocked, so it never takes SIGALRM (meant for emulators and
  // job threads) nor an async signal meant for the main thread, not even before its first line.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const int rc = pthread_create(thread, &attr, fn, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return rc;
}

bool FilterFromJs(Napi::Value v, std::vector<sock_filter>& out) {
  if (!v.IsTypedArray()) return true;
  Napi::Uint8Array bpf = v.As<Napi::Uint8Array>();
  const size_t n = bpf.ByteLength() / sizeof(sock_filter);
  if (bpf.ByteLength() == 0 || bpf.ByteLength() % sizeof(sock_filter) != 0 || n > 4096) return false;
  const sock_filter* ins = reinterpret_cast<const sock_filter*>(bpf.Data());
  out.assign(ins, ins + n);
  return true;
}

}  // namespace tsyd
