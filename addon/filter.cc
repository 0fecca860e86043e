// Seccomp BPF programs, generated here: no libseccomp at build or run time.
#include "common.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <stddef.h>
#include <sys/syscall.h>

#include <vector>

namespace tsyd {

#if defined(__x86_64__)
static constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
static constexpr uint32_t kArchName = 0;
#elif defined(__aarch64__)
static constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
static constexpr uint32_t kArchName = 1;
#else
#error "tsyd supports x86_64 and aarch64"
#endif

#ifndef __X32_SYSCALL_BIT
#define __X32_SYSCALL_BIT 0x40000000
#endif

static sock_filter Stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
static sock_filter Jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  return sock_filter{code, jt, jf, k};
}

// buildFilter(notify: number[], deny: Array<[nr, errno]>, fallback: 'allow'|number) → Buffer
// Program: foreign arch or x32 → ENOSYS; nr in notify → USER_NOTIF; nr in deny → ERRNO(e);
// anything else → ALLOW (or ERRNO(fallback)).
// SAFETY: the arch check comes first so a 32-bit `int 0x80` (other syscall numbers) or an x32
// call can never reach the number comparisons meant for the native ABI.
static Napi::Value BuildFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray()) {
    Napi::TypeError::New(env, "buildFilter(notify: number[], deny: [nr, errno][])").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array notify = info[0].As<Napi::Array>();
  Napi::Array deny = info[1].As<Napi::Array>();
  uint32_t fallback = SECCOMP_RET_ALLOW;
  if (info.Length() > 2 && info[2].IsNumber()) {
    fallback = SECCOMP_RET_ERRNO | (info[2].As<Napi::Number>().Uint32Value() & SECCOMP_RET_DATA);
  }
  const uint32_t n = notify.Length();
  const uint32_t d = deny.Length();
  if (n + 2 * d > 4000) {
    Napi::RangeError::New(env, "buildFilter: too many system calls").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<sock_filter> prog;
  prog.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  prog.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  // Indices of the three shared return instructions at the end of the program.
  const size_t first_check = prog.size() + 1;
  const size_t ret_allow = first_check + n + 2 * d;
  const size_t ret_notify = ret_allow + 1;
  const size_t ret_enosys = ret_allow + 2;
  auto rel = [](size_t from, size_t to) -> uint8_t { return static_cast<uint8_t>(to - (from + 1)); };
  size_t at = prog.size();
#if defined(__x86_64__)
  prog.push_back(Jump(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 0));
  prog.back().jt = 0;  // patched below once offsets are known to fit
#else
  prog.push_back(Jump(BPF_JMP | BPF_JA, 0, 0, 0));
#endif
  for (uint32_t i = 0; i < n; i++) {
    uint32_t nr = notify.Get(i).As<Napi::Number>().Uint32Value();
    size_t here = prog.size();
    if (ret_notify - (here + 1) > 255) {
      Napi::RangeError::New(env, "buildFilter: program too long for BPF jumps").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, nr, rel(here, ret_notify), 0));
  }
  for (uint32_t i = 0; i < d; i++) {
    Napi::Array pair = deny.Get(i).As<Napi::Array>();
    uint32_t nr = pair.Get(0u).As<Napi::Number>().Uint32Value();
    uint32_t e = pair.Get(1u).As<Napi::Number>().Uint32Value() & SECCOMP_RET_DATA;
    prog.push_back(Jump(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1));
    prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | e));
  }
  prog.push_back(Stmt(BPF_RET | BPF_K, fallback));
  prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
  prog.push_back(Stmt(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
#if defined(__x86_64__)
  if (ret_enosys - (at + 1) > 255) {
    // Keep the x32 check reachable: bounce through the ENOSYS at index 2 is impossible
    // (BPF only jumps forward), so refuse over-long programs.
    Napi::RangeError::New(env, "buildFilter: program too long for BPF jumps").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  prog[at].jt = rel(at, ret_enosys);
#else
  (void)at;
  (void)ret_enosys;
#endif
  return Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(prog.data()),
                                     prog.size() * sizeof(sock_filter));
}

static void AddSyscalls(Napi::Env env, Napi::Object exports) {
  Napi::Object s = Napi::Object::New(env);
#define NR(name) s.Set(#name, Napi::Number::New(env, __NR_##name));
#ifdef __NR_open
  NR(open)
  NR(creat)
  NR(stat)
  NR(lstat)
  NR(access)
  NR(readlink)
  NR(mkdir)
  NR(rmdir)
  NR(unlink)
  NR(rename)
  NR(link)
  NR(symlink)
  NR(mknod)
  NR(chmod)
  NR(chown)
  NR(lchown)
  NR(utimes)
  NR(utime)
  NR(futimesat)
  NR(getdents)
#endif
#ifdef __NR_iopl
  NR(iopl)
  NR(ioperm)
#endif
  NR(utimensat)
  NR(fchmodat)
  NR(fchownat)
  NR(setxattr)
  NR(lsetxattr)
  NR(removexattr)
  NR(lremovexattr)
  NR(statfs)
  NR(getxattr)
  NR(lgetxattr)
  NR(listxattr)
  NR(llistxattr)
  NR(inotify_add_watch)
  NR(name_to_handle_at)
  NR(fchmod)
  NR(fchown)
  NR(fsetxattr)
  NR(fremovexattr)
  NR(fanotify_init)
  NR(perf_event_open)
  NR(sendmmsg)
  NR(openat)
  NR(openat2)
  NR(newfstatat)
  NR(statx)
  NR(faccessat)
  NR(faccessat2)
  NR(readlinkat)
  NR(mkdirat)
  NR(unlinkat)
  NR(renameat2)
  NR(linkat)
  NR(symlinkat)
  NR(mknodat)
  NR(truncate)
  NR(chdir)
  NR(fchdir)
  NR(getdents64)
  NR(execve)
  NR(execveat)
  NR(bind)
  NR(connect)
  NR(sendto)
  NR(sendmsg)
  NR(sendmmsg)
  NR(io_uring_setup)
  NR(io_uring_enter)
  NR(io_uring_register)
  NR(ptrace)
  NR(process_vm_writev)
  NR(process_vm_readv)
  NR(open_by_handle_at)
  NR(seccomp)
  NR(prctl)
  NR(chroot)
  NR(pivot_root)
  NR(getpid)
  NR(getppid)
  NR(mount)
#ifdef __NR_renameat
  NR(renameat)
#endif
#ifdef __NR_fork
  NR(fork)
  NR(vfork)
#endif
  NR(rt_sigaction)
  NR(umount2)
  NR(kexec_load)
  NR(kexec_file_load)
  NR(init_module)
  NR(finit_module)
  NR(delete_module)
  NR(bpf)
  NR(setns)
  NR(unshare)
  NR(reboot)
  NR(swapon)
  NR(swapoff)
  NR(acct)
  NR(userfaultfd)
  NR(socket)
  NR(listen)
  NR(setsockopt)
  NR(accept4)
  NR(accept)
  NR(socketpair)
  NR(personality)
  NR(pidfd_getfd)
  NR(open_tree)
  NR(move_mount)
  NR(fsopen)
  NR(fsmount)
  NR(fspick)
  NR(mount_setattr)
  NR(kcmp)
  NR(setuid)
  NR(setgid)
  NR(setreuid)
  NR(setregid)
  NR(setresuid)
  NR(setresgid)
  NR(setfsuid)
  NR(setfsgid)
  NR(setgroups)
  NR(capset)
#undef NR
  // Newer than some system headers; numbered alike on every architecture since 5.1.
  s.Set("fchmodat2", Napi::Number::New(env, 452));
  s.Set("setxattrat", Napi::Number::New(env, 463));
  s.Set("getxattrat", Napi::Number::New(env, 464));
  s.Set("listxattrat", Napi::Number::New(env, 465));
  s.Set("file_getattr", Napi::Number::New(env, 468));
  s.Set("removexattrat", Napi::Number::New(env, 466));
  s.Set("file_setattr", Napi::Number::New(env, 469));
  exports.Set("syscalls", s);
  exports.Set("arch", Napi::String::New(env, kArchName == 0 ? "x86_64" : "aarch64"));
  // The one native ABI of the filter's first instructions, for the agent's emulators (src/syscalls/abi.ts).
  exports.Set("auditArch", Napi::Number::New(env, kArch));
}

void InitFilter(Napi::Env env, Napi::Object exports) {
  exports.Set("buildFilter", Napi::Function::New(env, BuildFilter, "buildFilter"));
  AddSyscalls(env, exports);
}

}  // namespace tsyd
