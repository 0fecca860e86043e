// SafeSetID and tsyd agent: the kernel's same-process exemptions for /proc, kept for a caller tsyd acts as.
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
#include <linux/openat2.h>
#include <fcntl.h>
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

// The length of the /proc/<pid>[/task/<tid>] that starts `path`, when that is the caller's own
// process (its tgid, or one of its threads) and `path` goes below it, opened as `pin`; 0 otherwise. (/proc/<tgid>/task/<tid>
// exists only for a thread of that group.)
static size_t PinOwnProc(const std::string& path, Anchor* pin) {
  if (t_caller_tid <= 0 || path.compare(0, 6, "/proc/") != 0) return 0;
  // A container's /proc (tsyd agent) names pids of its own namespace: its caller is pinned there,
  // by its pid in that namespace. SAFETY: only where that /proc is a procfs showing no process of
  // tsyd (view-proc.cc): else a pid of it could name the agent itself.
  const bool view = t_view.fd >= 0;
  size_t end;
  if (NumberAt(path, 6, &end) <= 0) return 0;
  size_t tend;
  if (path.compare(end, 6, "/task/") == 0 && NumberAt(path, end + 6, &tend) > 0) end = tend;
  if (end == path.size()) return 0;  // the directory itself: nothing below it is reached
  // (Asked only now: its own lookups, /proc and /proc/self, never come back here.)
  if (view && !ViewProcHidesTsyd()) return 0;
  if (t_caller_tgid == 0) t_caller_tgid = view ? NsIdOf(t_caller_tid, "NStgid:") : TgidOf(t_caller_tid);
  if (t_caller_tgid <= 0) return 0;
  // SAFETY: the process is pinned before it is checked, and the operation then starts from the
  // pin: a /proc/<pid> directory fd stays with the process it was opened on (once that exits,
  // every lookup below it fails with ENOENT), so a pid reused by another process after the check
  // is never reached with the capabilities raised. Its status is read without them (0444).
  // In a view, through its root (Openat2Path pins nothing for the directory itself); its status
  // then names the tgid in the container's namespace.
  const std::string dir = path.substr(0, end);
  pin->fd = view ? Openat2Path(dir, nullptr, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
                 : open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pin->fd < 0 || TgidInProcDir(pin->fd, "status") != t_caller_tgid) {
    pin->Reset();
    return 0;
  }
  pin->path = path.substr(0, end);
  return end;
}

OwnProcAccess::OwnProcAccess(const std::string& path, bool lookup_only) {
  const size_t end = PinOwnProc(path, &pin_);
  if (end == 0) return;
  const std::string rest = path.substr(end);
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
