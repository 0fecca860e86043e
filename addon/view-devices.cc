// A container's device rules, applied by tsyd agent to the character devices it opens for the
// container (view-devices.h). The kernel checks a device open against the opener's device
// cgroup: an emulator of the agent is in the agent's cgroup, not the container's, so the
// container's rules (runc: nothing but null, zero, full, random, urandom, tty, ptmx, tun, pts) must be
// applied here, or a container with CAP_MKNOD (Docker's and podman's default), or a device node
// shipped in its image, would open /dev/kvm, the host's consoles, a raw disk's sg node.
#include "view-devices.h"

#include <fcntl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace tsyd {

namespace {

// The whole of a small file (/proc/PID/cgroup, devices.list), or "" with *ok false.
std::string ReadSmall(const std::string& path, bool* ok) {
  *ok = false;
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return {};
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    // SAFETY: a list longer than this is not the kernel's (each rule is one short line).
    if (text.size() > (1 << 20)) {
      close(fd);
      return {};
    }
  }
  close(fd);
  *ok = true;
  return text;
}

// The devices controller's cgroup of `pid` (v1: "N:devices:/path" in /proc/PID/cgroup), as tsyd's
// cgroup namespace names it; false when it has none (cgroup v2 only) or is gone.
bool DevicesCgroupOf(pid_t pid, std::string* path, bool* gone) {
  bool ok = false;
  const std::string text = ReadSmall("/proc/" + std::to_string(pid) + "/cgroup", &ok);
  *gone = !ok;
  size_t at = 0;
  while (ok && at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string::npos ? std::string::npos : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    const std::string controllers = "," + line.substr(c1 + 1, c2 - c1 - 1) + ",";
    if (controllers.find(",devices,") == std::string::npos) continue;
    *path = line.substr(c2 + 1);
    return true;
  }
  return false;
}

// One rule of devices.list ("c 1:3 rwm", "a *:* rwm", "c 136:* rwm") covers `rdev` for `access`.
bool RuleCovers(const char* line, dev_t rdev, const char* access) {
  char type = 0;
  char ma[16], mi[16], acc[8];
  if (sscanf(line, "%c %15[0-9*]:%15[0-9*] %7s", &type, ma, mi, acc) != 4) return false;
  if (type != 'a' && type != 'c') return false;
  if (strcmp(ma, "*") != 0 && strtoul(ma, nullptr, 10) != major(rdev)) return false;
  if (strcmp(mi, "*") != 0 && strtoul(mi, nullptr, 10) != minor(rdev)) return false;
  for (const char* a = access; *a; a++) {
    if (!strchr(acc, *a)) return false;
  }
  return true;
}

// Some line of `list` covers `rdev` for `access` (the kernel's v1 check: one rule covers it all).
bool ListAllows(const std::string& list, dev_t rdev, const char* access) {
  size_t at = 0;
  while (at < list.size()) {
    size_t end = list.find('\n', at);
    if (end == std::string::npos) end = list.size();
    if (RuleCovers(list.substr(at, end - at).c_str(), rdev, access)) return true;
    at = end + 1;
  }
  return false;
}

// runc's default rules for a container (libcontainer's AllowedDevices; Docker's and podman's are
// the same; runc 1.1.5 here lists these in devices.list): applied where the container's own cannot be read (cgroup v2 keeps them in a BPF
// program). SAFETY: a container given more devices is refused them under the agent (README).
constexpr const char* kDefaultRules =
    "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\nc 10:200 rwm\nc 136:* rwm\n";

}  // namespace

int ViewDeviceAccess(pid_t caller, dev_t rdev, uint64_t oflags) {
  const int acc = static_cast<int>(oflags & O_ACCMODE);
  // O_ACCMODE 3 ("ioctl only") is checked by the kernel as read and write; O_TRUNC asks write.
  const bool reads = acc != O_WRONLY;
  const bool writes = acc != O_RDONLY || (oflags & O_TRUNC);
  const char* access = reads && writes ? "rw" : writes ? "w" : "r";
  std::string cgroup;
  bool gone = false;
  if (!DevicesCgroupOf(caller, &cgroup, &gone)) return gone ? -ESRCH : (ListAllows(kDefaultRules, rdev, access) ? 0 : -EPERM);
  bool ok = false;
  // SAFETY: the caller's cgroup as the kernel has it now (the container cannot leave it: cgroup
  // files are not writable to it), read from tsyd's own /sys (not the container's view).
  const std::string list = ReadSmall("/sys/fs/cgroup/devices" + cgroup + "/devices.list", &ok);
  // SAFETY: a cgroup that allows all but some devices lists only "a *:* rwm" (v1 shows no
  // exceptions of a default-allow cgroup): taken at its word only for the root cgroup, which has
  // none; any other such cgroup (a privileged container's too) gets the default rules.
  if (!ok || (cgroup != "/" && list.compare(0, 9, "a *:* rwm") == 0)) return ListAllows(kDefaultRules, rdev, access) ? 0 : -EPERM;
  return ListAllows(list, rdev, access) ? 0 : -EPERM;
}

}  // namespace tsyd
