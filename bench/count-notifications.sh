#!/bin/bash
# The notifications tsyd receives for one workload, and the calls most notified, counted from
# tsyd's side: strace of tsyd's SECCOMP_IOCTL_NOTIF_RECV answers (each one that returns a
# notification prints data={nr=...}, also when strace splits it into unfinished/resumed lines).
# strace slows the run: use it for counts, not for times.
# usage: bench/count-notifications.sh CHECKOUT [TSYD OPTIONS...] -- PROG [ARGS...]
# e.g.:  bench/count-notifications.sh . -p user -- find /usr -name x
set -euo pipefail
root=$1
shift
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
strace -f -qq -e trace=ioctl -e signal=none -o "$out" node "$root/bin/tsyd.js" run "${opts[@]}" -- "$@" >/dev/null 2>&1 || true
total=$(grep -c 'data={nr=' "$out" || true)
top=$(grep -o 'data={nr=__NR_[a-z0-9_]*' "$out" | sed 's/.*__NR_//' | sort | uniq -c | sort -rn | head -6 | awk '{printf "%s %s, ", $2, $1}')
echo "$total notifications: ${top%, }"
