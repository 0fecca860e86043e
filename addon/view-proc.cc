// tsyd agent: whether a container's /proc leaves the kernel's own ptrace-access checks sound when
// tsyd's emulator (acting with the caller's credentials) opens another process's guarded entries
// (exe, cwd, root, fd, environ, mem, ...) in it.
// The kernel's check (ptrace_may_access, FSCREDS mode in procfs) compares the opener's fsuid,
// fsgid and effective capabilities — the caller's, as the emulator takes them (act-as.cc) —
// with the target's. One exemption is not about credentials: a thread may always reach the
// entries of its own thread group. For the emulator that group is tsyd: none of tsyd's
// processes may be nameable in that /proc.
#include "common.h"

#include <errno.h>
#include <sys/vfs.h>

namespace tsyd {

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

bool ViewProcHidesTsyd() {
  // SAFETY: a procfs lists the processes of the pid namespace it was mounted for and of the
  // namespaces below it; /proc/self there names the reader (this emulator thread, in tsyd's
  // process) in that namespace, or fails with ENOENT when the reader has no pid in it. No pid
  // there, then no process of tsyd (nor tsyd's own thread group) is below it either: every
  // /proc/<pid> of that procfs is someone else, checked by the kernel against the caller's
  // credentials alone. Anything else (a host /proc bound into the container, a procfs of an
  // ancestor namespace, not a procfs at all) counts as showing tsyd. The container cannot
  // change what is mounted at /proc: mount, umount2 and new namespaces are refused to it.
  struct statfs sf;
  if (StatfsPath("/proc", nullptr, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC) return false;
  char link[32];
  return ReadlinkPath("/proc/self", nullptr, link, sizeof link) == -ENOENT;
}

}  // namespace tsyd
