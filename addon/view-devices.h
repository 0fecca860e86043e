// The device rules of a container (tsyd agent) for the character devices tsyd opens for it.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace tsyd {

// Whether the device cgroup of `caller` (a container's process) lets it open character device
// `rdev` with `oflags`' access mode: 0, -EPERM (the kernel's errno for a device the cgroup
// refuses), or -ESRCH (the caller is gone). Where the rules cannot be read (cgroup v2), runc's
// default devices only.
int ViewDeviceAccess(pid_t caller, dev_t rdev, uint64_t oflags);

}  // namespace tsyd
