// How many fds this process may still open (addon/fds-left.cc): for Crypt sandboxing's reserve.
#pragma once

namespace tsyd {

// RLIMIT_NOFILE less the fds open now (counted in /proc/self/fd: fds freed out of order leave
// holes, so the lowest free fd says nothing of how many are left); -1 when unlimited; 0 when
// none is left (or the count cannot be made).
int FdsLeft();

}  // namespace tsyd
