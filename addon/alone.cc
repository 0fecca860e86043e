// When the kernel may perform a decided call itself (CONTINUE) although the call reads the
// program's memory and fds again: when the caller is the sandbox's only task. Some answers only
// the kernel gives right, because it takes them from the task that makes the call: SO_PEERCRED
// (connect, listen) and the implicit SCM_CREDENTIALS of a datagram name the caller's pid. tsyd,
// which performs decided calls on its own copy of the socket, cannot give them.
// SAFETY: CONTINUE is racy when anything of the program runs between the check and the kernel's
// second read — another thread rewriting the address, dup2()ing another socket onto the fd
// number, renaming a directory on the path. When the caller (blocked in the call until tsyd
// answers) is the only task of the sandbox, nothing of the program runs until then: no task can
// be created but by a task of the program. What still writes a blocked task's memory is refused
// here: AIO (a read that completes later: no AIO context allowed) and shared mappings (another
// process, a device or the kernel writing them: the address must lie in private mappings, not
// [vvar] and such). io_uring, ptrace, process_vm_writev and userfaultfd are refused to the
// program by its filter. Accepted: a process outside the sandbox, or a device the program set up
// for DMA into its private memory (RDMA), changing the bytes in the microseconds of the window —
// what such a helper could do for the program, it can do as well without it.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace tsyd {

// A small /proc file whole (at most `max` bytes); false when it cannot be read.
static bool ReadSmall(const char* path, std::string* out, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->assign(max, '\0');
  size_t at = 0;
  ssize_t n;
  while (at < max && (n = read(fd, &(*out)[at], max - at)) > 0) at += static_cast<size_t>(n);
  close(fd);
  out->resize(at);
  return at < max;  // a file that fills `max` may go on: not read whole
}

// Whether `tid` is its process's only thread (its thread group in *tgid).
static bool OnlyThread(pid_t tid, pid_t* tgid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  std::string s;
  if (!ReadSmall(path, &s, 4096)) return false;
  const char* g = strstr(s.c_str(), "\nTgid:");
  const char* t = strstr(s.c_str(), "\nThreads:");
  if (g == nullptr || t == nullptr) return false;
  *tgid = static_cast<pid_t>(strtol(g + 6, nullptr, 10));
  return strtol(t + 9, nullptr, 10) == 1;
}

// The pids /proc/<pid>/task/<tid>/children lists, as that file writes them ("1 2 ").
static bool ChildrenAre(pid_t pid, pid_t tid, const std::string& expected) {
  char path[80];
  snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, tid);
  std::string s;
  return ReadSmall(path, &s, 256) && s == expected;
}

// SAFETY: read in this order — the caller's thread count, its children, the reaper's children —
// so that a task alive at any time of the reading shows in one of them: a thread that ends hands
// its children to the caller before the count drops; a process that ends hands its children to
// the reaper (the subreaper) or to the caller. Once the caller is alone, no task can appear.
static bool Alone(ThreadState* st) {
  const pid_t tid = static_cast<pid_t>(st->req->pid);
  pid_t tgid = 0;
  if (st->reaper <= 0 || !OnlyThread(tid, &tgid) || tgid <= 0) return false;
  return ChildrenAre(tgid, tid, "") && ChildrenAre(st->reaper, st->reaper, std::to_string(tgid) + " ");
}

// Whether one line of /proc/<pid>/maps names a mapping whose bytes only the task itself writes:
// private, and memory or a regular file (no device, no [vvar]-like special mapping).
static bool PrivateMapping(const char* perms, const char* name) {
  if (perms[3] != 'p') return false;
  if (*name == 0) return true;
  if (strcmp(name, "[heap]") == 0 || strncmp(name, "[stack", 6) == 0) return true;
  return name[0] == '/' && strncmp(name, "/dev/", 5) != 0;
}

// SAFETY (see the file comment): the `len` bytes at `addr` lie in private mappings, and the
// process has no AIO context.
static bool StableMemory(pid_t tgid, uint64_t addr, size_t len) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/maps", tgid);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return false;
  char line[PATH_MAX + 128];
  uint64_t covered = addr;
  bool ok = true;
  while (ok && fgets(line, sizeof line, f) != nullptr) {
    unsigned long long start, end;
    char perms[8];
    int name_at = 0;
    if (sscanf(line, "%llx-%llx %7s %*s %*s %*s %n", &start, &end, perms, &name_at) < 3 || name_at == 0) {
      ok = false;
      break;
    }
    char* name = line + name_at;
    name[strcspn(name, "\n")] = 0;
    if (strstr(name, "[aio]") != nullptr) ok = false;
    else if (start <= covered && covered < end && covered < addr + len) {
      ok = PrivateMapping(perms, name);
      covered = end;
    }
  }
  fclose(f);
  return ok && covered >= addr + len;
}

// The address bytes read for the decision are still what the caller's memory holds.
static bool SameBytes(ThreadState* st, uint64_t addr) {
  std::string now(st->sockaddr.size(), '\0');
  if (!now.empty() && ReadRemote(static_cast<pid_t>(st->req->pid), addr, &now[0], now.size()) < 0) return false;
  return now == st->sockaddr;
}

// The caller's fd (arg 0) still names the socket tsyd took before it knew it alone, if it took one.
static bool SameSocket(ThreadState* st) {
  if (st->taken_fd < 0) return true;
  const int now = TakeFd(st, static_cast<int>(static_cast<int32_t>(st->req->data.args[0])));
  if (now < 0) return false;
  struct stat a, b;
  const bool same = fstat(st->taken_fd, &a) == 0 && fstat(now, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
  close(now);
  return same;
}

// callerAlone(addrArg) → 1 when the kernel may perform the current request itself (CONTINUE):
// the caller is the sandbox's only task, the socket (arg 0) is the one tsyd looked at, and —
// addrArg ≥ 0 — the address (args[addrArg], as readSockaddr() read it) is unchanged and cannot
// change. 0 when not, -ESRCH when the caller is gone.
static Napi::Value CallerAlone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "callerAlone");
  if (!st) return env.Undefined();
  const int addr_arg = info[0].As<Napi::Number>().Int32Value();
  if (addr_arg > 5) return Napi::Number::New(env, 0);
  bool ok = Alone(st) && SameSocket(st);
  if (ok && addr_arg >= 0) {
    const uint64_t addr = st->req->data.args[addr_arg];
    pid_t tgid = TgidOf(static_cast<pid_t>(st->req->pid));
    ok = tgid > 0 && StableMemory(tgid, addr, st->sockaddr.size()) && SameBytes(st, addr);
  }
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  return Napi::Number::New(env, ok ? 1 : 0);
}

void InitAlone(Napi::Env env, Napi::Object exports) {
  exports.Set("callerAlone", Napi::Function::New(env, CallerAlone, "callerAlone"));
}

}  // namespace tsyd
