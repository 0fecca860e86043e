// FdsLeft (fds-left.h): the open fds counted with getdents64 on /proc/self/fd.
#include "fds-left.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsyd {

int FdsLeft() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY) return -1;
  const int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return 0;
  alignas(8) char buf[8192];
  long open_fds = -1;  // the directory's own fd
  for (;;) {
    const long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0) {
      close(dir);
      if (n < 0) return 0;
      break;
    }
    for (long off = 0; off < n;) {
      const unsigned short reclen = *reinterpret_cast<unsigned short*>(buf + off + 16);  // d_reclen
      const char* name = buf + off + 19;                                                  // d_name
      if (name[0] != '.') open_fds++;
      off += reclen;
    }
  }
  const long left = static_cast<long>(rl.rlim_cur) - open_fds;
  return left < 0 ? 0 : static_cast<int>(left > 0x7fffffff ? 0x7fffffff : left);
}

}  // namespace tsyd
