// SafeSetID: the kernel's same-process exemptions for /proc, kept for a caller tsyd acts as.
// Natively a process may always enter its own /proc/<pid>/fd (proc_fd_permission: same thread
// group) and read its own ptrace-guarded entries (ptrace_may_access: same thread group), even
// after a drop made it non-dumpable and its /proc entries root's. The emulator acting with the
// caller's credentials is another process: the kernel refuses it. For the caller's OWN
// /proc/<tgid> (or /proc/<tgid>/task/<tid>) only, it raises what stands for that exemption:
// CAP_SYS_PTRACE (ptrace access), and CAP_DAC_READ_SEARCH where the fd directory is entered —
// never for opening a file reached through it (tsyd reopens those from its copy of the fd:
// open.cc), so the file's own mode is checked against the caller's credentials as natively.
#include "common.h"

#include <linux/capability.h>
#include <stdlib.h>

#include <string>

namespace tsyd {

static thread_local pid_t t_caller_tid = 0;   // the program thread this thread acts as; 0: none
static thread_local pid_t t_caller_tgid = 0;  // its thread group, read on first use

void ActForOwnProc(pid_t tid) {
  t_caller_tid = tid;
  t_caller_tgid = 0;
}

bool ActingForCaller() { return t_caller_tid > 0; }

// "/proc/<digits>" at `at` of `path`: the number, and *end past it; -1 otherwise.
static long NumberAt(const std::string& path, size_t at, size_t* end) {
  size_t j = at;
  while (j < path.size() && path[j] >= '0' && path[j] <= '9') j++;
  if (j == at || j - at > 9 || (j < path.size() && path[j] != '/')) return -1;
  *end = j;
  return strtol(path.c_str() + at, nullptr, 10);
}

// The part of `path` after /proc/<pid>[/task/<tid>] when <pid> is the caller's own process
// (its tgid, or one of its threads); false otherwise. (/proc/<tgid>/task/<tid> exists only for
// a thread of that group.)
static bool OwnProcRest(const std::string& path, std::string* rest) {
  if (t_caller_tid <= 0 || path.compare(0, 6, "/proc/") != 0) return false;
  size_t end;
  const long pid = NumberAt(path, 6, &end);
  if (pid <= 0) return false;
  if (t_caller_tgid == 0) t_caller_tgid = TgidOf(t_caller_tid);
  if (t_caller_tgid <= 0) return false;
  // SAFETY: another process's /proc never gets these capabilities (a pid reused meanwhile is
  // not the caller's: TgidOf reads its thread group now).
  if (pid != t_caller_tgid && TgidOf(static_cast<pid_t>(pid)) != t_caller_tgid) return false;
  *rest = path.substr(end);
  size_t tend;
  if (rest->compare(0, 6, "/task/") == 0 && NumberAt(*rest, 6, &tend) > 0) *rest = rest->substr(tend);
  return true;
}

OwnProcAccess::OwnProcAccess(const std::string& path, bool lookup_only) {
  std::string rest;
  if (!OwnProcRest(path, &rest) || rest.empty()) return;
  ptrace_ = !IsEffectiveCapability(CAP_SYS_PTRACE) && RaiseCapability(CAP_SYS_PTRACE);
  // The fd directory itself (opened to list it), or a name in it looked up without opening
  // what it leads to (readlink, lstat, stat, O_PATH).
  const bool fd_dir = rest == "/fd" || (lookup_only && rest.compare(0, 4, "/fd/") == 0 && rest.find('/', 4) == std::string::npos);
  dac_ = fd_dir && !IsEffectiveCapability(CAP_DAC_READ_SEARCH) && RaiseCapability(CAP_DAC_READ_SEARCH);
}

OwnProcAccess::~OwnProcAccess() {
  if (dac_) LowerCapability(CAP_DAC_READ_SEARCH);
  if (ptrace_) LowerCapability(CAP_SYS_PTRACE);
}

}  // namespace tsyd
