// net/connect and net/bind: the address a program passes to connect, bind, sendto, sendmsg
// and sendmmsg is read once and classified for JS to decide; an allowed call is then performed
// by tsyd on a copy of the program's socket (pidfd_getfd) with tsyd's own copy of the address,
// of the data and of the control messages. listen and the sends of a datagram socket are
// decided as the bind the kernel makes on its own (autobind) as well; setsockopt(IP_OPTIONS)
// is performed with the options tsyd checked. A UNIX path is bound under the program's own name
// (unixbind.cc); where the kernel must make a call itself (SO_PEERCRED), see alone.cc.
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace tsyd {

// What readSockaddr()/readMsgName() found (src/native/addon.ts SockKind).
enum SockKind {
  kSockNone = 0,      // no address (a connected socket): nothing to decide
  kSockInet = 1,      // IPv4/IPv6: address bytes in the path buffer, family 4|6 and port in slots
  kSockUnixPath = 2,  // AF_UNIX path, canonical, in the path buffer
  kSockAbstract = 3,  // AF_UNIX abstract name as "@" + its bytes (NULs kept) in the path buffer
  kSockUnnamed = 4,   // AF_UNIX with no name (bind: autobind)
  kSockUnspec = 5,    // AF_UNSPEC connect: dissolves the association
  kSockNetlink = 6,   // AF_NETLINK: kernel-local
  kSockOther = 7,     // another family (number in kNetFamily)
  kSockShort = 8,     // shorter than any address: the kernel refuses it, nothing to decide
};

// The socket's own address bytes (4 or 16) sit at this offset of the path buffer, after any
// path or destination address (which start at 0).
static constexpr size_t kLocalOff = kLocalAddrOffset;

enum NetOp { kNetConnect = 0, kNetBind = 1, kNetSendto = 2, kNetSendmsg = 3, kNetListen = 4 };

// netOp() flags (src/native/addon.ts NetFlag).
enum NetFlag {
  kNoAnswer = 1,      // return the result to JS, do not answer (sendmmsg answers once, at the end)
  kBindLoopback = 2,  // bind the socket to the loopback address (port 0) before sending
  kPostCheck = 4,     // after the call, compare the socket's own address with sockInfo()'s
};
// netOp(): the socket's own address changed during the call (the kernel bound it on its own):
// nothing is answered yet; JS decides the new address and calls netSettle().
static constexpr long kRecheck = -100000;
// readControl() / ipOptions(): a control message or option that routes the data elsewhere.
static constexpr long kRefusedRoute = 1;

static constexpr size_t kMaxControl = 128u << 10;  // net.core.optmem_max's default: ENOBUFS above
static constexpr int kScmMaxFd = 253;              // SCM_MAX_FD

// Control message types and levels (numbers from the kernel's uapi, stable ABI).
enum : int {
  kSolUdp = 17, kSolAlg = 279, kSolTls = 282,
  kScmRights = 1, kScmCredentials = 2, kSoPriority = 12, kSoMark = 36, kSoTimestampingOld = 37,
  kScmTxtime = 61, kScmTsOptId = 81,
  kIpTos = 1, kIpTtl = 2, kIpRetopts = 7, kIpPktinfo = 8, kIpProtocol = 52,
  kIpv6_2292Pktinfo = 2, kIpv6_2292Hopopts = 3, kIpv6_2292Dstopts = 4, kIpv6_2292Rthdr = 5,
  kIpv6_2292Hoplimit = 8, kIpv6Flowinfo = 11, kIpv6Pktinfo = 50, kIpv6Hoplimit = 52,
  kIpv6Hopopts = 54, kIpv6Rthdrdstopts = 55, kIpv6Rthdr = 57, kIpv6Dstopts = 59,
  kIpv6Dontfrag = 62, kIpv6Tclass = 67,
};

static constexpr size_t kMaxSend = 4u << 20;   // bytes tsyd sends for one call
static constexpr size_t kMaxIov = 1024;         // UIO_MAXIOV

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

static uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

static bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return false;
  return true;
}

// The IP address at `at` (4 or 16 bytes) made the loopback address if it is the unspecified
// one: 0.0.0.0 → 127.0.0.1, :: → ::1, ::ffff:0.0.0.0 → ::ffff:127.0.0.1. True when it was.
static bool LoopbackForAny(uint8_t* at, int family) {
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  uint8_t* v4 = family == 4 ? at : at + 12;
  if (family == 6 && AllZero(at, 16)) {
    at[15] = 1;
    return true;
  }
  if ((family == 4 || memcmp(at, kMapped, sizeof kMapped) == 0) && AllZero(v4, 4)) {
    v4[0] = 127;
    v4[3] = 1;
    return true;
  }
  return false;
}

// SAFETY: the unspecified address as a destination (connect, sends) reaches this host: the
// kernel goes to the loopback address (or, for a socket with a source address or a device of
// its own, to that address). tsyd decides it as loopback and passes loopback to the kernel too
// (st->sockaddr), so the call goes where it was decided: a loopback deny cannot be passed with
// 0.0.0.0, and a device or source set meanwhile by another thread changes nothing. kNetGivenAny
// tells JS, which logs the address the program gave beside the one decided. (A bind of it is
// "every address of this host", decided as written.)
static void DecideAnyAsLoopback(ThreadState* st, size_t addr_off, int family) {
  uint8_t* at = reinterpret_cast<uint8_t*>(&st->sockaddr[addr_off]);
  st->slots[kNetGivenAny] = LoopbackForAny(at, family) ? 1 : 0;
}

static void SetInet(ThreadState* st, int family, const uint8_t* bytes, size_t n, uint16_t port) {
  memcpy(st->path, bytes, n);
  st->path_len = 0;  // not a path: no file op may act on it
  st->slots[kNetFamily] = family;
  st->slots[kNetPort] = port;
}

// Classifies st->sockaddr (already read) for a call that binds (or not).
static long Classify(ThreadState* st, bool binding, bool connecting) {
  const std::string& a = st->sockaddr;
  const uint8_t* b = reinterpret_cast<const uint8_t*>(a.data());
  st->path_len = 0;
  st->slots[kNetFamily] = 0;
  st->slots[kNetPort] = 0;
  st->slots[kNetGivenAny] = 0;
  if (a.size() < sizeof(sa_family_t)) return kSockShort;
  sa_family_t family;
  memcpy(&family, b, sizeof family);
  st->slots[kNetFamily] = family;
  switch (family) {
    case AF_INET:
      if (a.size() < sizeof(sockaddr_in)) return kSockShort;
      if (!binding) DecideAnyAsLoopback(st, offsetof(sockaddr_in, sin_addr), 4);
      SetInet(st, 4, b + offsetof(sockaddr_in, sin_addr), 4, Be16(b + offsetof(sockaddr_in, sin_port)));
      return kSockInet;
    case AF_INET6:
      if (a.size() < 24) return kSockShort;  // SIN6_LEN_RFC2133: the kernel's minimum
      if (!binding) DecideAnyAsLoopback(st, offsetof(sockaddr_in6, sin6_addr), 6);
      SetInet(st, 6, b + offsetof(sockaddr_in6, sin6_addr), 16, Be16(b + offsetof(sockaddr_in6, sin6_port)));
      return kSockInet;
    case AF_UNSPEC:
      // SAFETY: connect(AF_UNSPEC) only dissolves an association. But IPv4 bind accepts
      // AF_UNSPEC with INADDR_ANY, and IPv4 sendto sends to an AF_UNSPEC address as if it were
      // AF_INET: there it is decided as the IPv4 address it holds.
      if (connecting) return kSockUnspec;
      if (a.size() < sizeof(sockaddr_in)) return kSockShort;
      if (!binding) DecideAnyAsLoopback(st, offsetof(sockaddr_in, sin_addr), 4);
      SetInet(st, 4, b + offsetof(sockaddr_in, sin_addr), 4, Be16(b + offsetof(sockaddr_in, sin_port)));
      return kSockInet;
    case AF_NETLINK:
      return kSockNetlink;
    case AF_UNIX:
      break;
    default:
      return kSockOther;
  }
  if (a.size() > sizeof(sockaddr_un)) return -EINVAL;
  const size_t off = offsetof(sockaddr_un, sun_path);
  if (a.size() == off) return kSockUnnamed;
  if (b[off] == 0) {
    // Abstract: every byte up to the length is the name, NULs included.
    const size_t n = a.size() - off - 1;
    st->path[0] = '@';
    memcpy(st->path + 1, b + off + 1, n);
    st->path[n + 1] = 0;
    st->path_len = 0;  // a name, not a file: no file op may act on it
    st->slots[kNetNameLen] = static_cast<int32_t>(n + 1);
    return kSockAbstract;
  }
  // A path ends at its first NUL or at the length, as the kernel reads it.
  std::string raw(reinterpret_cast<const char*>(b + off), a.size() - off);
  raw.resize(strlen(raw.c_str()));
  ResolveOpts opts;
  // bind creates the last component and never follows it; connect follows it.
  opts.nofollow_last = binding;
  // "name/" is that name as bind makes it (as mknod): not followed, and never a new directory.
  opts.slash_entry = binding;
  // SAFETY: the reaper's /proc entries are refused as for every other path (it is tsyd's).
  opts.reaper = st->reaper;
  opts.anchor_start = st->acting_as;
  ResolveResult res;
  long len = Canonicalize(static_cast<pid_t>(st->req->pid), AT_FDCWD, raw.c_str(), opts,
                          reinterpret_cast<char*>(st->path), kDecideAsOffset, &res);
  if (len < 0) {
    SetFailedPath(st, res);
    return len;
  }
  if (binding && res.missing && !raw.empty() && raw.back() == '/') return -ENOENT;
  // SAFETY: the directories walked into and out of ("hidden/sub/../../x.sock"), for JS: a walk
  // through a hidden directory finds nothing (else names under it could be told apart). Too
  // many to check: refused.
  if (!SetLeft(st, res.left)) return -ENAMETOOLONG;
  st->path_len = static_cast<size_t>(len);
  st->slots[kPathMagic] = res.magic ? 1 : 0;
  st->slots[kPathMissing] = res.missing ? 1 : 0;
  st->anchor = std::move(res.anchor);
  return kSockUnixPath;
}

// Reads `len` address bytes at `addr` into st->sockaddr, with the kernel's checks
// (move_addr_to_kernel): a negative or too long length is EINVAL, a bad pointer EFAULT.
static long ReadAddress(ThreadState* st, uint64_t addr, int64_t len) {
  if (len < 0 || len > static_cast<int64_t>(sizeof(sockaddr_storage))) return -EINVAL;
  st->sockaddr.assign(static_cast<size_t>(len), '\0');
  int r = len == 0 ? 0 : ReadRemote(static_cast<pid_t>(st->req->pid), addr, &st->sockaddr[0], static_cast<size_t>(len));
  // SAFETY: the tid may name another process once the caller died: trust the bytes only
  // while the request is still valid.
  if (!NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
  return r < 0 ? -EFAULT : 0;
}

// readSockaddr(addrArg, lenArg, op) → SockKind or -errno. sendto with a NULL address (or a
// zero length) has no address to decide.
static Napi::Value ReadSockaddr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readSockaddr");
  if (!st) return env.Undefined();
  st->slots[kPathFailLen] = 0;
  st->slots[kPathLeftLen] = 0;
  st->mmsg_index = -1;
  int addr_arg = info[0].As<Napi::Number>().Int32Value();
  int len_arg = info[1].As<Napi::Number>().Int32Value();
  int op = info[2].As<Napi::Number>().Int32Value();
  if (addr_arg < 0 || addr_arg > 5 || len_arg < 0 || len_arg > 5) return Napi::Number::New(env, -EINVAL);
  const uint64_t addr = st->req->data.args[addr_arg];
  const int64_t len = static_cast<int32_t>(st->req->data.args[len_arg]);
  st->sockaddr.clear();
  if (op == kNetSendto && (addr == 0 || len == 0)) return Napi::Number::New(env, kSockNone);
  long r = ReadAddress(st, addr, len);
  if (r < 0) return Napi::Number::New(env, static_cast<double>(r));
  return Napi::Number::New(env, static_cast<double>(Classify(st, op == kNetBind, op == kNetConnect)));
}

// readMsgName(msgArg, index) → SockKind or -errno, for sendmsg (index -1) or entry `index` of
// sendmmsg's vector. Keeps the msghdr for the emulation; kNetControl = 1 with control data.
static Napi::Value ReadMsgName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readMsgName");
  if (!st) return env.Undefined();
  st->slots[kPathFailLen] = 0;
  st->slots[kPathLeftLen] = 0;
  int msg_arg = info[0].As<Napi::Number>().Int32Value();
  int index = info[1].As<Napi::Number>().Int32Value();
  if (msg_arg < 0 || msg_arg > 5) return Napi::Number::New(env, -EINVAL);
  uint64_t at = st->req->data.args[msg_arg];
  if (index >= 0) at += static_cast<uint64_t>(index) * sizeof(mmsghdr);
  msghdr m;
  int r = ReadRemote(static_cast<pid_t>(st->req->pid), at, &m, sizeof m);
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  if (r < 0) return Napi::Number::New(env, -EFAULT);
  st->msg.assign(reinterpret_cast<const char*>(&m), sizeof m);
  st->mmsg_index = index;
  st->slots[kNetControl] = m.msg_controllen != 0 ? 1 : 0;
  st->sockaddr.clear();
  // As the kernel's copy_msghdr: no name pointer means no name; a longer name is cut to the
  // size of sockaddr_storage; a negative length is EINVAL.
  int64_t len = static_cast<int32_t>(m.msg_namelen);
  if (m.msg_name == nullptr || len == 0) return Napi::Number::New(env, kSockNone);
  if (len < 0) return Napi::Number::New(env, -EINVAL);
  if (len > static_cast<int64_t>(sizeof(sockaddr_storage))) len = sizeof(sockaddr_storage);
  long rr = ReadAddress(st, reinterpret_cast<uint64_t>(m.msg_name), len);
  if (rr < 0) return Napi::Number::New(env, static_cast<double>(rr));
  return Napi::Number::New(env, static_cast<double>(Classify(st, false, false)));
}

// SAFETY: the IPC sockets (guardSocket: every one of this process) are decided by their
// identity, on the very file tsyd would connect to: a hard link, a renamed path or a
// /proc/PID/fd/N name of one are all refused.
static bool IsGuarded(ThreadState* st, int fd) {
  if (st->guarded.empty()) return false;
  struct stat sb;
  // A file tsyd cannot look at is not let through either (fail closed).
  if (fstat(fd, &sb) < 0) return true;
  if (!S_ISSOCK(sb.st_mode)) return false;
  for (size_t i = 0; i + 1 < st->guarded.size(); i += 2)
    if (static_cast<uint64_t>(sb.st_dev) == st->guarded[i] && static_cast<uint64_t>(sb.st_ino) == st->guarded[i + 1]) return true;
  return false;
}

// guardSocket(dev, ino, dev2, ino2, ...: bigint) | guardSocket(): the IPC socket files of this
// process (every sandbox's) that the program of the sandbox this emulator serves never reaches.
static Napi::Value GuardSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  std::vector<uint64_t> ids;
  if (info.Length() % 2 != 0) {
    Napi::TypeError::New(env, "guardSocket(dev: bigint, ino: bigint, ...)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (size_t i = 0; i < info.Length(); i++) {
    if (!info[i].IsBigInt()) {
      Napi::TypeError::New(env, "guardSocket(dev: bigint, ino: bigint, ...)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    bool lossless = true;
    ids.push_back(info[i].As<Napi::BigInt>().Uint64Value(&lossless));
  }
  st->guarded.swap(ids);
  return env.Undefined();
}

// SO_PEERCRED of the connected UNIX socket info[0], one field of it (`pick`), or -errno.
static Napi::Value PeerCredField(const Napi::CallbackInfo& info, const char* usage, double (*pick)(const struct ucred&)) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, usage).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(info[0].As<Napi::Number>().Int32Value(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) return Napi::Number::New(env, -errno);
  return Napi::Number::New(env, pick(cred));
}

// peerUid(fd): the uid SO_PEERCRED gives for the connected UNIX socket `fd` (the IPC worker's
// client), or -errno.
static Napi::Value PeerUid(const Napi::CallbackInfo& info) {
  return PeerCredField(info, "peerUid(fd)", [](const struct ucred& c) { return static_cast<double>(c.uid); });
}

// peerPid(fd): the pid SO_PEERCRED gives for the connected UNIX socket `fd` (for a client: the
// process that called listen), 0 when the kernel has none to tell, or -errno.
static Napi::Value PeerPid(const Napi::CallbackInfo& info) {
  return PeerCredField(info, "peerPid(fd)", [](const struct ucred& c) { return static_cast<double>(c.pid); });
}

// bindUnixSocket(address: Buffer, mode) → fd or -errno: a UNIX stream socket bound to `address`
// (a path, or a NUL and an abstract name, padded to the whole sun_path as libuv does), exactly
// these bytes, for the IPC worker to listen on. SAFETY: a path's file is created with `mode`
// (the socket inode's mode is set before bind; tsyd's umask is 0): no moment with more.
static Napi::Value BindUnixSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "bindUnixSocket(address: Buffer, mode: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<char> address = info[0].As<Napi::Buffer<char>>();
  sockaddr_un un;
  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  if (address.Length() == 0 || address.Length() >= sizeof un.sun_path) return Napi::Number::New(env, -ENAMETOOLONG);
  memcpy(un.sun_path, address.Data(), address.Length());
  const bool abstract = address.Data()[0] == 0;
  socklen_t len = abstract ? sizeof un : static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.Length() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Napi::Number::New(env, -errno);
  if ((!abstract && fchmod(fd, static_cast<mode_t>(info[1].As<Napi::Number>().Uint32Value())) < 0) || bind(fd, reinterpret_cast<sockaddr*>(&un), len) < 0) {
    int err = errno;
    close(fd);
    return Napi::Number::New(env, -err);
  }
  return Napi::Number::New(env, fd);
}

// The address tsyd passes to the kernel, built from what it checked. For a UNIX path the
// checked file (connect) or directory (bind) is opened without following symlinks and named
// through this thread's fd table, so a path swapped after the check is never used.
static long BuildAddress(ThreadState* st, int op, sockaddr_storage* out, socklen_t* outlen, Fd* held, std::string* base) {
  memset(out, 0, sizeof *out);
  const std::string& a = st->sockaddr;
  sa_family_t family = AF_UNSPEC;
  if (a.size() >= sizeof family) memcpy(&family, a.data(), sizeof family);
  const size_t off = offsetof(sockaddr_un, sun_path);
  const bool unix_path = family == AF_UNIX && a.size() > off && a[off] != 0;
  if (!unix_path) {
    memcpy(out, a.data(), a.size());
    *outlen = static_cast<socklen_t>(a.size());
    return 0;
  }
  if (st->path_len == 0) return -EINVAL;
  const std::string path(reinterpret_cast<const char*>(st->path), st->path_len);
  const bool magic = st->slots[kPathMagic] != 0;
  sockaddr_un* un = reinterpret_cast<sockaddr_un*>(out);
  un->sun_family = AF_UNIX;
  int n;
  if (op == kNetBind) {
    size_t slash = path.rfind('/');
    if (magic || path.size() <= 1 || slash == std::string::npos) return -EADDRINUSE;
    *base = path.substr(slash + 1);
    std::string dir = slash == 0 ? std::string("/") : path.substr(0, slash);
    held->fd = OpenChecked(st, dir.c_str(), false, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (held->fd < 0) return held->fd;
    n = snprintf(un->sun_path, sizeof un->sun_path, "/proc/thread-self/fd/%d/%s", held->fd, base->c_str());
    // Only a fallback (BindUnixPath): a name near the 108-byte limit has no room behind the
    // /proc prefix, and then there is none (length 0).
    if (n < 0 || static_cast<size_t>(n) >= sizeof un->sun_path) {
      *outlen = 0;
      return 0;
    }
  } else {
    held->fd = OpenChecked(st, path.c_str(), magic, O_PATH | O_CLOEXEC | (magic ? 0 : O_NOFOLLOW), 0);
    if (held->fd < 0) return held->fd;
    if (IsGuarded(st, held->fd)) return -EACCES;
    n = snprintf(un->sun_path, sizeof un->sun_path, "/proc/thread-self/fd/%d", held->fd);
  }
  // A name near the 108-byte limit does not fit behind the /proc prefix.
  if (n < 0 || static_cast<size_t>(n) >= sizeof un->sun_path) return -ENAMETOOLONG;
  *outlen = static_cast<socklen_t>(off + static_cast<size_t>(n) + 1);
  return 0;
}

// The bind of a UNIX path: under the program's own name, in the checked directory `dirfd`
// (BindUnixName: getsockname and the peers see the name the program gave); where that cannot be
// done, under the directory's /proc name `sa` (none when it does not fit in 108 bytes).
static long BindUnixPath(ThreadState* st, int sock, const sockaddr* sa, socklen_t len, int dirfd, const std::string& base) {
  long r = BindUnixName(sock, dirfd, st->sockaddr, base);
  if (r != kBindNameUnavailable) return r;
  if (len == 0) return -ENAMETOOLONG;
  return bind(sock, sa, len) < 0 ? -errno : 0;
}

// bind of a UNIX path on tsyd's copy of the socket. The kernel gives the socket file the mode
// of the socket's inode less the umask — tsyd's umask is 0, so the program's is applied to the
// inode first and the inode's mode restored after: the file is created with the right mode in
// one step (no window in which it has more permissions, nothing to chmod by name afterwards).
static long BindWithUmask(ThreadState* st, int sock, const sockaddr* sa, socklen_t len, int dirfd, const std::string& base) {
  struct stat sb;
  if (fstat(sock, &sb) < 0) return -errno;
  int um = UmaskOf(static_cast<pid_t>(st->req->pid));
  if (um < 0) return um;
  const mode_t before = sb.st_mode & 07777;
  if (fchmod(sock, before & ~static_cast<mode_t>(um)) < 0) return -errno;
  long r = BindUnixPath(st, sock, sa, len, dirfd, base);
  fchmod(sock, before);
  return r;
}

// The data of sendto (buf, len) or of sendmsg's iovecs, gathered into one buffer.
static long GatherData(ThreadState* st, int op, int sock, std::vector<char>* data) {
  const pid_t tid = static_cast<pid_t>(st->req->pid);
  std::vector<iovec> iov;
  if (op == kNetSendto) {
    iov.push_back({reinterpret_cast<void*>(st->req->data.args[1]), static_cast<size_t>(st->req->data.args[2])});
  } else {
    msghdr m;
    memcpy(&m, st->msg.data(), sizeof m);
    if (m.msg_iovlen > kMaxIov) return -EMSGSIZE;
    iov.resize(m.msg_iovlen);
    if (!iov.empty() && ReadRemote(tid, reinterpret_cast<uint64_t>(m.msg_iov), iov.data(), iov.size() * sizeof(iovec)) < 0)
      return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
  }
  size_t total = 0;
  for (const iovec& v : iov) {
    if (static_cast<ssize_t>(v.iov_len) < 0) return -EINVAL;
    total += v.iov_len;
  }
  if (total > kMaxSend) {
    // A stream may send less than asked (the program sends the rest); a datagram is all or nothing.
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return -errno;
    if (type != SOCK_STREAM) return -EMSGSIZE;
    total = kMaxSend;
  }
  data->resize(total);
  size_t at = 0;
  for (const iovec& v : iov) {
    size_t n = v.iov_len < total - at ? v.iov_len : total - at;
    if (n > 0 && ReadRemote(tid, reinterpret_cast<uint64_t>(v.iov_base), data->data() + at, n) < 0)
      return NotifIdValid(st->notify_fd, st->req->id) ? -EFAULT : -ESRCH;
    at += n;
    if (at == total) break;
  }
  if (!NotifIdValid(st->notify_fd, st->req->id)) return -ESRCH;
  return 0;
}

// The request's copy of the program's socket (arg 0), taken once: every check and the call
// itself act on the same socket, whatever the program dup2()s onto the number meanwhile.
static int Sock(ThreadState* st) {
  if (st->taken_fd >= 0) return st->taken_fd;
  const int fd = static_cast<int>(static_cast<int32_t>(st->req->data.args[0]));
  int copy = TakeFd(st, fd);
  if (copy >= 0) st->taken_fd = copy;
  return copy;
}

// The socket's own address (getsockname) into *out and the local slots for JS.
static long LoadLocal(ThreadState* st, int sock, std::string* out) {
  sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = sizeof ss;
  if (getsockname(sock, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -errno;
  out->assign(reinterpret_cast<const char*>(&ss), len);
  uint8_t* at = st->path + kLocalOff;
  st->slots[kNetLocalPort] = 0;
  if (ss.ss_family == AF_INET) {
    const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(&ss);
    memcpy(at, &in->sin_addr, 4);
    st->slots[kNetLocalFamily] = 4;
    st->slots[kNetLocalPort] = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    memcpy(at, &in6->sin6_addr, 16);
    st->slots[kNetLocalFamily] = 6;
    st->slots[kNetLocalPort] = ntohs(in6->sin6_port);
  } else {
    st->slots[kNetLocalFamily] = 1000 + ss.ss_family;
  }
  return 0;
}

// SAFETY (loopback fallback, decided in JS as a bind of this address): the address the socket
// is bound to before a send from an unbound datagram socket to a loopback destination, when
// net/bind denies the address the kernel would choose (0.0.0.0 / ::) — so that the socket
// cannot receive from other hosts. 127.0.0.1, ::1, or ::ffff:127.0.0.1 for a v4-mapped
// destination of an IPv6 socket.
static long BindLoopback(ThreadState* st, int sock) {
  sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  sa_family_t fam = AF_UNSPEC;
  if (st->local.size() >= sizeof fam) memcpy(&fam, st->local.data(), sizeof fam);
  if (fam == AF_INET) {
    sockaddr_in* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  } else if (fam == AF_INET6) {
    sockaddr_in6* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    bool mapped = false;
    if (st->sockaddr.size() >= sizeof(sockaddr_in6)) {
      sockaddr_in6 dst;
      memcpy(&dst, st->sockaddr.data(), sizeof dst);
      mapped = dst.sin6_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&dst.sin6_addr);
    }
    if (mapped) {
      in6->sin6_addr.s6_addr[10] = 0xff;
      in6->sin6_addr.s6_addr[11] = 0xff;
      in6->sin6_addr.s6_addr[12] = 127;
      in6->sin6_addr.s6_addr[15] = 1;
    } else {
      in6->sin6_addr = in6addr_loopback;
    }
    len = sizeof *in6;
  } else {
    return -EINVAL;
  }
  // EINVAL: bound meanwhile by another thread; the post-check looks at what it is bound to.
  if (bind(sock, reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINVAL) return -errno;
  return LoadLocal(st, sock, &st->local);
}

// Whether a connect on this socket can wait for another process: a blocking stream socket
// (TCP's handshake, a UNIX listener's full backlog). Datagram connects never wait.
// The outcome of a connect that was in progress and is now done: a connect again, which the
// kernel answers with the error of the attempt (or success) and which leaves the socket as a
// blocking connect would have (a failed one unconnected again, not "connecting").
static long ConnectResult(int sock, const sockaddr* addr, socklen_t len) {
  if (connect(sock, addr, len) == 0 || errno == EISCONN) return 0;
  return -errno;
}

static bool WaitsOnConnect(int sock) {
  int fl = fcntl(sock, F_GETFL);
  int type = 0;
  socklen_t tl = sizeof type;
  if (fl < 0 || (fl & O_NONBLOCK) || getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return false;
  return type == SOCK_STREAM || type == SOCK_SEQPACKET;
}

// A socket with a send timeout (SO_SNDTIMEO): the kernel never restarts its connect or send
// that a signal cut short, not even after a stop (EINTR after SIGCONT).
static bool HasSendTimeout(int sock) {
  timeval tv{};
  socklen_t len = sizeof tv;
  return getsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, &len) == 0 && (tv.tv_sec != 0 || tv.tv_usec != 0);
}

// fds a job owns (its copy of the socket, the checked path's O_PATH fd, SCM_RIGHTS copies):
// closed once the job has used them, or with the job when it never runs (the table was full).
struct OwnedFds {
  std::vector<int> fds;
  ~OwnedFds() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
};

// A job's own copy of the socket, owned by `owned` with the checked path's fd (which the
// address names as /proc/thread-self/fd/N: kept open until the job is done). -errno on failure.
static int JobSocket(int sock, Fd* held, OwnedFds* owned) {
  owned->fds.push_back(held->fd);
  held->fd = -1;
  const int job_sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (job_sock < 0) return -errno;
  owned->fds.push_back(job_sock);
  return job_sock;
}

// A blocking connect of a stream socket waits for the handshake, or for room in a full backlog
// (a listener of the program's own that never accepts): started without waiting (the usual
// loopback connect completes at once), and when it would wait, waited for on a job thread with
// its own copies of the socket and of the checked path's O_PATH fd (offload.cc).
static long ConnectStream(ThreadState* st, int sock, const sockaddr_storage& sa, socklen_t salen, Fd* held) {
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&sa);
  const int fl = fcntl(sock, F_GETFL);
  // SAFETY (accepted): O_NONBLOCK is set on the socket's open file for the microseconds of the
  // connect; another thread of the program looking at its flags then would see it.
  fcntl(sock, F_SETFL, fl | O_NONBLOCK);
  int rc = connect(sock, addr, salen);
  const int e = errno;
  fcntl(sock, F_SETFL, fl);
  if (rc == 0) return 0;
  // EALREADY: an earlier connect of the socket still waits for the handshake (one a signal cut
  // short, restarted now): a blocking connect waits for it, as in the kernel.
  const bool in_progress = e == EINPROGRESS || e == EALREADY;
  if (in_progress) {
    pollfd pf = {sock, POLLOUT, 0};
    if (poll(&pf, 1, 2) == 1) return ConnectResult(sock, addr, salen);
  } else if (e != EAGAIN) {
    return -e;  // refused, unreachable...: a blocking connect would say the same
  }
  auto owned = std::make_shared<OwnedFds>();
  const int job_sock = JobSocket(sock, held, owned.get());
  if (job_sock < 0) return job_sock;
  return Offload(st, [owned, job_sock, sa, salen, in_progress](Job& job) mutable {
    long r;
    job.restartable = !HasSendTimeout(job_sock);
    JobBlocking(job, true);
    if (in_progress) {
      // The handshake goes on: wait for it, as a blocking connect does (a signal cuts the
      // wait short with EINTR and leaves it going on, as in the kernel).
      pollfd pf = {job_sock, POLLOUT, 0};
      r = poll(&pf, 1, -1) < 0 ? -errno : ConnectResult(job_sock, reinterpret_cast<const sockaddr*>(&sa), salen);
    } else {
      // A UNIX listener's backlog was full: the blocking connect waits for room.
      r = connect(job_sock, reinterpret_cast<const sockaddr*>(&sa), salen) < 0 ? -errno : 0;
    }
    JobBlocking(job, false);
    owned.reset();
    JobAnswer(job, r);
  });
}

// A send that failed with EPIPE: the program gets its SIGPIPE, as the kernel would have sent it
// (tsyd sends with MSG_NOSIGNAL), unless it asked for none or is gone.
static void SigpipeUnlessAsked(int notify_fd, uint64_t id, pid_t caller, int e, int msg_flags) {
  if (e != EPIPE || (msg_flags & MSG_NOSIGNAL)) return;
  pid_t tgid = TgidOf(caller);
  if (tgid > 0 && NotifIdValid(notify_fd, id)) syscall(SYS_tgkill, tgid, caller, SIGPIPE);
}

// sendmmsg: the length sent of entry `index` into its msg_len, as the kernel writes it.
static long WriteMsgLen(int notify_fd, uint64_t id, pid_t caller, uint64_t vec, int index, ssize_t n) {
  const uint32_t len32 = static_cast<uint32_t>(n);
  const uint64_t at = vec + static_cast<uint64_t>(index) * sizeof(mmsghdr) + offsetof(mmsghdr, msg_len);
  if (!NotifIdValid(notify_fd, id)) return -ESRCH;
  return WriteRemote(caller, at, &len32, sizeof len32) < 0 ? -EFAULT : 0;
}

// What an offloaded stream send carries at most. SAFETY (bounded memory): a send that waits
// holds its copy of the program's data for as long as the peer likes; a stream send may send
// less than asked (the program sends the rest, as after a signal), so one that waits carries
// 64 KiB, not the 4 MiB one call may gather: 1024 waiting sends hold 64 MiB, not 4 GiB.
static constexpr size_t kMaxWaitingStream = 64u << 10;

// SAFETY: SCM_CREDENTIALS naming the program's pid was judged for the program
// (CheckCredentials), or is the program's own (AddProgramCredentials); the kernel judges it
// again against tsyd's pid, so CAP_SYS_ADMIN is raised for this one send only (the thread's
// effective set is the program's otherwise).
static ssize_t SendAs(int sock, const msghdr* mh, int flags, bool as_program) {
  if (as_program) RaiseCapability(CAP_SYS_ADMIN);
  const ssize_t n = sendmsg(sock, mh, flags);
  const int e = errno;
  if (as_program) LowerCapability(CAP_SYS_ADMIN);
  errno = e;
  return n;
}

// Cuts the data of a send that will wait to what it keeps: a stream's first kMaxWaitingStream
// bytes (the rest freed now); a datagram or record whole (all or nothing: the kernel accepted
// its size, and kMaxWaitingKib bounds them all).
static long KeepForWaiting(int sock, std::vector<char>* data) {
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return -errno;
  // A fresh vector of the kept bytes (shrink_to_fit does nothing without C++ exceptions).
  if (type == SOCK_STREAM && data->size() > kMaxWaitingStream) std::vector<char>(data->begin(), data->begin() + kMaxWaitingStream).swap(*data);
  return 0;
}

// Sends a send that would wait (tried without waiting: EAGAIN) on a job thread, which answers
// when it returns (kOffloaded; kOffloadFull / kOffloadMemory: answered EAGAIN). The job has its
// own copies of all it needs: the socket, the data (KeepForWaiting; counted against
// kMaxWaitingKib with the program's control data, `own_control` bytes of `control`), tsyd's
// control data and SCM_RIGHTS fds, a UNIX path's fd.
// sendmmsg's first message: the job writes its msg_len and answers 1 (a short count, which the
// kernel's sendmmsg may give too).
static long OffloadSend(ThreadState* st, int sock, std::vector<char>* gathered, const std::string& control, size_t own_control,
                        const sockaddr_storage& sa, socklen_t salen, Fd* held, int msg_flags, bool as_program) {
  long r = KeepForWaiting(sock, gathered);
  if (r < 0) return r;
  auto owned = std::make_shared<OwnedFds>();
  owned->fds.swap(st->control_fds);  // the job sends them, then closes them
  const int job_sock = JobSocket(sock, held, owned.get());
  if (job_sock < 0) return job_sock;
  const pid_t caller = static_cast<pid_t>(st->req->pid);
  const bool mmsg = st->mmsg_index == 0;
  const uint64_t vec = st->req->data.args[1];
  const size_t bytes = gathered->size() + own_control;  // the program's (not credentials tsyd added)
  return Offload(st, [owned, job_sock, to = sa, salen, data = std::move(*gathered), ctl = control, msg_flags, as_program, caller, mmsg, vec](Job& job) mutable {
    iovec jiov = {data.data(), data.size()};
    msghdr jm;
    memset(&jm, 0, sizeof jm);
    jm.msg_name = salen > 0 ? reinterpret_cast<void*>(&to) : nullptr;
    jm.msg_namelen = salen;
    jm.msg_iov = &jiov;
    jm.msg_iovlen = 1;
    if (!ctl.empty()) {
      jm.msg_control = &ctl[0];
      jm.msg_controllen = ctl.size();
    }
    job.restartable = !HasSendTimeout(job_sock);
    JobBlocking(job, true);
    ssize_t sent = SendAs(job_sock, &jm, msg_flags | MSG_NOSIGNAL, as_program);
    const int e = errno;
    JobBlocking(job, false);
    owned.reset();
    data = std::vector<char>();
    SigpipeUnlessAsked(job.notify_fd, job.id, caller, e, msg_flags);
    long r = sent < 0 ? -e : sent;
    if (sent >= 0 && mmsg) {
      r = WriteMsgLen(job.notify_fd, job.id, caller, vec, 0, sent);
      if (r == -ESRCH) return;  // the caller is gone: nothing to answer
      if (r == 0) r = 1;
    }
    JobAnswer(job, r);
  }, bytes);
}

static bool AddProgramCredentials(ThreadState* st, int sock, std::string* control);

// sendto, sendmsg and one message of sendmmsg, with the address tsyd checked.
static long PerformSend(ThreadState* st, int op, int flags, int sock, const sockaddr_storage& sa, socklen_t salen, Fd* held) {
  long r;
  if ((flags & kBindLoopback) && (r = BindLoopback(st, sock)) < 0) return r;
  std::vector<char> data;
  if ((r = GatherData(st, op, sock, &data)) < 0) return r;
  const bool mmsg = op == kNetSendmsg && st->mmsg_index >= 0;
  // The flags argument: sendto(fd, buf, len, FLAGS, ...), sendmsg(fd, msg, FLAGS),
  // sendmmsg(fd, vec, vlen, FLAGS).
  const int flags_arg = op == kNetSendto || mmsg ? 3 : 2;
  const int msg_flags = static_cast<int>(static_cast<int32_t>(st->req->data.args[flags_arg]));
  // SAFETY: MSG_NOSIGNAL for tsyd itself; the program gets its SIGPIPE below, as the kernel
  // would have sent it. The control data is tsyd's copy (readControl): SCM_RIGHTS names
  // tsyd's copies of the program's fds, and nothing the program changes now reaches the kernel.
  iovec iov = {data.data(), data.size()};
  msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = salen > 0 ? reinterpret_cast<void*>(const_cast<sockaddr_storage*>(&sa)) : nullptr;
  mh.msg_namelen = salen;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  std::string control = op == kNetSendmsg && st->have_control ? st->control : std::string();
  const size_t own_control = control.size();
  const bool implicit_creds = AddProgramCredentials(st, sock, &control);
  if (!control.empty()) {
    mh.msg_control = &control[0];
    mh.msg_controllen = control.size();
  }
  // A blocking send waits for buffer space as long as the peer likes: tried without waiting
  // first. SAFETY: an emulator never waits on the program (a blocked send would hold a whole
  // Node isolate, and enough of them every emulator):
  //  - sendto, sendmsg and sendmmsg's first message that would wait go to a job thread
  //    (OffloadSend), which answers when the send returns;
  //  - a later message of sendmmsg that would wait ends the batch with the count sent so far
  //    (the kernel's sendmmsg may return a short count too; the program sends the rest again),
  //    and so does a stream message that went out only in part (the next must not follow a gap);
  //  - a send whose binding is checked after it (net/bind on: an IP datagram socket) stays:
  //    it waits only for its own buffer to drain into the device, never for a peer.
  const int sock_fl = fcntl(sock, F_GETFL);
  const bool may_wait = sock_fl >= 0 && !(sock_fl & O_NONBLOCK) && !(msg_flags & MSG_DONTWAIT) && !(flags & kPostCheck);
  const bool as_program = (op == kNetSendmsg && st->have_control && st->creds_as_program) || implicit_creds;
  st->slots[kNetBatchEnd] = 0;
  ssize_t n = SendAs(sock, &mh, msg_flags | MSG_NOSIGNAL | (may_wait ? MSG_DONTWAIT : 0), as_program);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && may_wait) {
    if (mmsg && st->mmsg_index > 0) return -EAGAIN;  // ends the batch: JS answers the count
    return OffloadSend(st, sock, &data, control, own_control, sa, salen, held, msg_flags, as_program);
  }
  const pid_t caller = static_cast<pid_t>(st->req->pid);
  if (n < 0) {
    const int e = errno;
    SigpipeUnlessAsked(st->notify_fd, st->req->id, caller, e, msg_flags);
    return -e;
  }
  if (!mmsg) return n;
  if (may_wait && static_cast<size_t>(n) < data.size()) st->slots[kNetBatchEnd] = 1;
  r = WriteMsgLen(st->notify_fd, st->req->id, caller, st->req->data.args[1], st->mmsg_index, n);
  return r < 0 ? r : n;
}

static long Perform(ThreadState* st, int op, int flags) {
  const int sock = Sock(st);
  if (sock < 0) return sock;
  if (op == kNetListen) {
    const int backlog = static_cast<int>(static_cast<int32_t>(st->req->data.args[1]));
    return listen(sock, backlog) < 0 ? -errno : 0;
  }
  sockaddr_storage sa;
  socklen_t salen = 0;
  Fd held;
  std::string base;
  long r = BuildAddress(st, op, &sa, &salen, &held, &base);
  if (r < 0) return r;
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&sa);
  if (op == kNetConnect) {
    if (!WaitsOnConnect(sock)) return connect(sock, addr, salen) < 0 ? -errno : 0;
    return ConnectStream(st, sock, sa, salen, &held);
  }
  if (op == kNetBind) {
    if (!base.empty()) return BindWithUmask(st, sock, addr, salen, held.fd, base);
    return bind(sock, addr, salen) < 0 ? -errno : 0;
  }
  return PerformSend(st, op, flags, sock, sa, salen, &held);
}

// After a call that may have bound the socket on its own: compares its own address with the
// one JS decided on (sockInfo); a change is handed to JS (kRecheck) with the new address in
// the local slots, the result kept for netSettle(). A connect that failed on a datagram socket
// may have left it autobound (the kernel binds before it routes), and so does a send without an
// address (EDESTADDRREQ): a datagram socket with a port is handed over then too (decided again
// as a bind; an explicit bind was allowed, so only an autobind on a denied address is undone).
static long PostCheck(ThreadState* st, int op, int flags, long r) {
  if (r == -ESRCH || st->taken_fd < 0) return r;
  const int sock = st->taken_fd;
  std::string now;
  // A send without an address fails with EDESTADDRREQ on an unconnected datagram socket, after
  // the kernel bound it: tsyd must not leave an autobind of its own send undecided either.
  const bool unaddressed_send = (op == kNetSendto || op == kNetSendmsg) && !(flags & kPostCheck) && r == -EDESTADDRREQ;
  if (op == kNetConnect || unaddressed_send) {
    sa_family_t fam = AF_UNSPEC;
    if (st->sockaddr.size() >= sizeof fam) memcpy(&fam, st->sockaddr.data(), sizeof fam);
    if (op == kNetConnect && (r >= 0 || (fam != AF_INET && fam != AF_INET6))) return r;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_DGRAM) return r;
    if (LoadLocal(st, sock, &now) < 0 || st->slots[kNetLocalPort] == 0) return r;
    // Only a socket on the wildcard address: one that was connected before keeps the source
    // address of its route, and its association stays as the kernel left it.
    const size_t n = st->slots[kNetLocalFamily] == 4 ? 4 : st->slots[kNetLocalFamily] == 6 ? 16 : 0;
    for (size_t i = 0; i < n; i++)
      if (st->path[kLocalOff + i] != 0) return r;
  } else {
    if (!(flags & kPostCheck)) return r;
    if (LoadLocal(st, sock, &now) < 0 || now == st->local) return r;
  }
  st->local = now;
  st->pending = r;
  st->pending_op = op;
  return kRecheck;
}

// netOp(op) → the result given to the program (≥ 0 or -errno) after answering it, or -ESRCH
// when the caller is gone (nothing answered). Acts on the address read by the last
// readSockaddr()/readMsgName() and decided by JS.
static Napi::Value NetOpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "netOp");
  if (!st) return env.Undefined();
  int op = info[0].As<Napi::Number>().Int32Value();
  int flags = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (op < kNetConnect || op > kNetListen) return Napi::Number::New(env, -EINVAL);
  long r = Perform(st, op, flags);
  // The call was the part that may block: the interrupter must not touch what follows.
  __atomic_store_n(&st->slots[kSlotBlocking], 0, __ATOMIC_SEQ_CST);
  // Handed to a job thread (which answers), or answered EAGAIN at the job or memory limit.
  if (r == kOffloaded || r == kOffloadFull || r == kOffloadMemory) {
    for (int fd : st->control_fds) close(fd);
    st->control_fds.clear();
    return Napi::Number::New(env, static_cast<double>(r));
  }
  // The fds of SCM_RIGHTS are in flight (or the send failed): tsyd's copies go at once.
  for (int fd : st->control_fds) close(fd);
  st->control_fds.clear();
  if (r == -ESRCH && !NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  r = PostCheck(st, op, flags, r);
  if (r == kRecheck || (flags & kNoAnswer)) return Napi::Number::New(env, static_cast<double>(r));
  return AnswerResult(env, st, r);
}

// netSettle(allowed, flags): ends a call netOp() handed over (kRecheck). Not allowed: the bind
// the kernel made on its own is undone — connect(AF_UNSPEC) dissolves it, and the kernel
// releases a port that was not bound explicitly (an autobind never is) — and a listen answers
// EACCES (nothing listens any more); a send keeps its result (the data went to the address
// tsyd checked). Answers unless kNoAnswer; returns the result.
// SAFETY: between the kernel's bind and this undo (microseconds) the socket is reachable at a
// port nobody knows yet: accepted, documented in the README.
static Napi::Value NetSettle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "netSettle");
  if (!st) return env.Undefined();
  const bool allowed = info[0].ToBoolean().Value();
  const int flags = info.Length() > 1 ? info[1].As<Napi::Number>().Int32Value() : 0;
  if (st->pending_op < 0) return Napi::Number::New(env, -EINVAL);
  long r = st->pending;
  if (!allowed && st->taken_fd >= 0) {
    sockaddr unspec;
    memset(&unspec, 0, sizeof unspec);
    unspec.sa_family = AF_UNSPEC;
    connect(st->taken_fd, &unspec, sizeof unspec);
    if (st->pending_op == kNetListen) r = -EACCES;
  }
  st->pending_op = -1;
  if (flags & kNoAnswer) return Napi::Number::New(env, static_cast<double>(r));
  return AnswerResult(env, st, r);
}

// sockInfo() → SO_TYPE of the program's socket (arg 0; tsyd's copy, kept for the request), or
// -errno; its own address in the local slots (kNetLocalFamily, kNetLocalPort, the bytes at
// kLocalOff of the path buffer), kept for netOp()'s post-check.
static Napi::Value SockInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "sockInfo");
  if (!st) return env.Undefined();
  const int sock = Sock(st);
  if (sock < 0) return Napi::Number::New(env, sock);
  int type = 0;
  socklen_t tl = sizeof type;
  if (getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0) return Napi::Number::New(env, -errno);
  long r = LoadLocal(st, sock, &st->local);
  return Napi::Number::New(env, r < 0 ? static_cast<double>(r) : type);
}

// SAFETY: IPv4 options walked as the kernel's ip_options_compile walks them (padded with END
// to a multiple of 4). A loose or strict source route (LSRR, SSRR) sends the packet to its
// first hop instead of the destination tsyd checked → kRefusedRoute. Options the kernel grants
// only with CAP_NET_RAW (CIPSO, security, stream id, unknown ones) → EINVAL, the kernel's answer
// to the program (which has no CAP_NET_RAW while a net capability is on): tsyd may hold it.
static long CheckIpOptions(const uint8_t* data, size_t n) {
  uint8_t b[40];
  memset(b, 0, sizeof b);
  if (n > sizeof b) n = sizeof b;
  memcpy(b, data, n);
  const size_t len = (n + 3) & ~static_cast<size_t>(3);
  size_t i = 0;
  while (i < len) {
    const uint8_t t = b[i];
    if (t == 0) break;  // IPOPT_END: the rest is padding
    if (t == 1) {       // IPOPT_NOOP
      i++;
      continue;
    }
    if (len - i < 2) return -EINVAL;
    const uint8_t ol = b[i + 1];
    if (ol < 2 || ol > len - i) return -EINVAL;
    if (t == 131 || t == 137) return kRefusedRoute;  // IPOPT_LSRR, IPOPT_SSRR
    if (t != 7 && t != 68 && t != 148) return -EINVAL;  // only RR, TIMESTAMP, RA without privilege
    i += ol;
  }
  return 0;
}

// The credentials the kernel checks SCM_CREDENTIALS against, from /proc/<tid>/status.
struct ProcCreds {
  pid_t tgid = -1;
  uint32_t uid[3] = {0, 0, 0};
  uint32_t gid[3] = {0, 0, 0};
  uint64_t cap_eff = 0;
};

static long ReadCreds(pid_t tid, ProcCreds* c) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", tid);
  FILE* f = fopen(path, "re");
  if (f == nullptr) return -errno;
  char line[256];
  int found = 0;
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long long cap;
    if (sscanf(line, "Tgid: %d", &c->tgid) == 1) found |= 1;
    else if (sscanf(line, "Uid: %u %u %u", &c->uid[0], &c->uid[1], &c->uid[2]) == 3) found |= 2;
    else if (sscanf(line, "Gid: %u %u %u", &c->gid[0], &c->gid[1], &c->gid[2]) == 3) found |= 4;
    else if (sscanf(line, "CapEff: %llx", &cap) == 1) {
      c->cap_eff = cap;
      found |= 8;
    }
  }
  fclose(f);
  return found == 15 ? 0 : -ESRCH;
}

// SAFETY: SCM_CREDENTIALS as the kernel's scm_check_creds would judge it for the program (not
// for tsyd, which may be root): its own tgid unless it has CAP_SYS_ADMIN, one of its real,
// effective or saved uids (gids) unless it has CAP_SETUID (CAP_SETGID). tsyd then sends the
// same credentials, and the kernel checks them again against tsyd: an unprivileged tsyd cannot
// send the program's pid (EPERM, documented).
static long CheckCredentials(ThreadState* st, const cmsghdr* c) {
  if (c->cmsg_len != CMSG_LEN(sizeof(ucred))) return -EINVAL;
  ucred u;
  memcpy(&u, CMSG_DATA(c), sizeof u);
  if (u.uid == static_cast<uid_t>(-1) || u.gid == static_cast<gid_t>(-1)) return -EINVAL;
  ProcCreds pc;
  long r = ReadCreds(static_cast<pid_t>(st->req->pid), &pc);
  if (r < 0) return r;
  auto cap = [&](int n) { return (pc.cap_eff >> n) & 1; };
  const bool pid_ok = u.pid == pc.tgid || cap(21);  // CAP_SYS_ADMIN
  const bool uid_ok = u.uid == pc.uid[0] || u.uid == pc.uid[1] || u.uid == pc.uid[2] || cap(7);  // CAP_SETUID
  const bool gid_ok = u.gid == pc.gid[0] || u.gid == pc.gid[1] || u.gid == pc.gid[2] || cap(6);  // CAP_SETGID
  if (!(pid_ok && uid_ok && gid_ok)) return -EPERM;
  // tsyd sends it: the kernel checks the pid against tsyd's own (CAP_SYS_ADMIN otherwise).
  if (u.pid != getpid()) st->creds_as_program = true;
  return 0;
}

// Whether tsyd's copy of the control data carries SCM_CREDENTIALS (walked as readControl did).
static bool HasCredentials(const std::string& control) {
  for (size_t off = 0; off + sizeof(cmsghdr) <= control.size();) {
    cmsghdr c;
    memcpy(&c, control.data() + off, sizeof c);
    if (c.cmsg_level == SOL_SOCKET && c.cmsg_type == kScmCredentials) return true;
    if (c.cmsg_len < sizeof(cmsghdr)) return false;
    off += CMSG_ALIGN(c.cmsg_len);
  }
  return false;
}

// SAFETY: a send of the program's own on a UNIX socket carries its pid, real uid and gid
// (SCM_CREDENTIALS at a receiver with SO_PASSCRED); tsyd's send would carry tsyd's pid. So tsyd
// adds them explicitly when the program gave none — only when it may raise CAP_SYS_ADMIN for the
// send (SendAs: the kernel checks a pid not its own): an unprivileged tsyd's sends carry its own
// pid (README). They are the program's own credentials, as the kernel would read them now.
static bool AddProgramCredentials(ThreadState* st, int sock, std::string* control) {
  int domain = 0;
  socklen_t dl = sizeof domain;
  if (getsockopt(sock, SOL_SOCKET, SO_DOMAIN, &domain, &dl) < 0 || domain != AF_UNIX) return false;
  ProcCreds pc;
  if (HasCredentials(*control) || !MayRaiseCapability(CAP_SYS_ADMIN) || ReadCreds(static_cast<pid_t>(st->req->pid), &pc) < 0) return false;
  const ucred u = {pc.tgid, pc.uid[0], pc.gid[0]};
  cmsghdr c;
  memset(&c, 0, sizeof c);
  c.cmsg_len = CMSG_LEN(sizeof u);
  c.cmsg_level = SOL_SOCKET;
  c.cmsg_type = kScmCredentials;
  const size_t at = CMSG_ALIGN(control->size());
  control->resize(at + CMSG_SPACE(sizeof u), '\0');
  memcpy(&(*control)[at], &c, sizeof c);
  memcpy(&(*control)[at] + (CMSG_DATA(&c) - reinterpret_cast<unsigned char*>(&c)), &u, sizeof u);
  return true;
}

// One control message of sendmsg: 0 to pass it on (after any change in place), -errno, or
// kRefusedRoute (the message type in the kNetControl slot).
static long CheckCmsg(ThreadState* st, cmsghdr* c, int* nfds) {
  const size_t dlen = c->cmsg_len - CMSG_LEN(0);
  uint8_t* d = CMSG_DATA(c);
  switch (c->cmsg_level) {
    case SOL_SOCKET:
      switch (c->cmsg_type) {
        case kScmRights: {
          // SAFETY: tsyd passes its own copies of the fds the program names (pidfd_getfd, at
          // the moment of the send, as the kernel would read the numbers): no number the program
          // changes afterwards reaches the kernel. The kernel's limit, checked first.
          const size_t n = dlen / sizeof(int);
          if (n == 0) return 0;
          if (n > static_cast<size_t>(kScmMaxFd) || *nfds + n > static_cast<size_t>(kScmMaxFd)) return -EINVAL;
          for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, d + i * sizeof(int), sizeof fd);
            int copy = TakeFd(st, fd);
            if (copy < 0) return copy == -ESRCH ? -ESRCH : -EBADF;
            st->control_fds.push_back(copy);
            memcpy(d + i * sizeof(int), &copy, sizeof copy);
          }
          *nfds += static_cast<int>(n);
          return 0;
        }
        case kScmCredentials:
          return CheckCredentials(st, c);
        case kSoMark:
          // SAFETY: needs CAP_NET_ADMIN, which the program does not have (tsyd may).
          return -EPERM;
        case kSoPriority: {
          // SAFETY: above 6 needs CAP_NET_RAW or CAP_NET_ADMIN (sk_set_prio_allowed).
          if (c->cmsg_len != CMSG_LEN(sizeof(uint32_t))) return -EINVAL;
          uint32_t prio;
          memcpy(&prio, d, sizeof prio);
          return prio <= 6 ? 0 : -EPERM;
        }
        case kSoTimestampingOld:
        case kScmTxtime:
        case kScmTsOptId:
          return 0;
        default:
          return -EINVAL;  // the kernel's answer to a type it does not know (fail closed)
      }
    case IPPROTO_IP:
      switch (c->cmsg_type) {
        case kIpRetopts: {
          long r = CheckIpOptions(d, dlen < 40 ? dlen : 40);
          if (r == kRefusedRoute) st->slots[kNetControl] = kIpRetopts;
          return r;
        }
        case kIpPktinfo:
        case kIpTtl:
        case kIpTos:
        case kIpProtocol:
          return 0;
        default:
          return -EINVAL;
      }
    case IPPROTO_IPV6:
      switch (c->cmsg_type) {
        case kIpv6Rthdr:
        case kIpv6_2292Rthdr:
          // SAFETY: a routing header sends the packet to its segments first, not to the
          // destination tsyd checked.
          st->slots[kNetControl] = c->cmsg_type;
          return kRefusedRoute;
        case kIpv6Hopopts:
        case kIpv6_2292Hopopts:
        case kIpv6Dstopts:
        case kIpv6_2292Dstopts:
        case kIpv6Rthdrdstopts:
          return -EPERM;  // SAFETY: CAP_NET_RAW, which the program does not have
        case kIpv6Pktinfo:
        case kIpv6_2292Pktinfo:
        case kIpv6Hoplimit:
        case kIpv6_2292Hoplimit:
        case kIpv6Tclass:
        case kIpv6Dontfrag:
        case kIpv6Flowinfo:
          return 0;
        default:
          return -EINVAL;
      }
    case kSolUdp:  // UDP_SEGMENT
    case kSolAlg:  // AF_ALG operation, IV, AAD length
    case kSolTls:  // TLS record type
      return 0;
    default:
      // SAFETY: fail closed: a level tsyd does not know may carry a destination (SCTP's
      // SCTP_DSTADDRV4/V6 do) or need a privilege tsyd has and the program has not.
      return -EINVAL;
  }
}

// readControl() → 0: tsyd's copy of the control data of the msghdr read last (readMsgName) is
// ready for netOp(), with its own copies of the fds of SCM_RIGHTS; -errno; or kRefusedRoute
// (the refused type in the kNetControl slot). Walked as the kernel walks it (CMSG_FIRSTHDR /
// CMSG_NXTHDR, a bad cmsg_len is EINVAL), and sent as it was walked: the same bytes.
static Napi::Value ReadControl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "readControl");
  if (!st) return env.Undefined();
  if (st->msg.size() != sizeof(msghdr)) return Napi::Number::New(env, -EINVAL);
  ClearNetState(st);
  msghdr m;
  memcpy(&m, st->msg.data(), sizeof m);
  const size_t len = m.msg_controllen;
  st->have_control = true;
  if (len == 0) return Napi::Number::New(env, 0);
  if (len > kMaxControl) return Napi::Number::New(env, -ENOBUFS);
  std::vector<uint64_t> buf((len + 7) / 8, 0);  // aligned for cmsghdr
  uint8_t* b = reinterpret_cast<uint8_t*>(buf.data());
  const pid_t tid = static_cast<pid_t>(st->req->pid);
  int rr = ReadRemote(tid, reinterpret_cast<uint64_t>(m.msg_control), b, len);
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  if (rr < 0) return Napi::Number::New(env, -EFAULT);
  int nfds = 0;
  for (size_t off = 0; off + sizeof(cmsghdr) <= len;) {
    cmsghdr* c = reinterpret_cast<cmsghdr*>(b + off);
    if (c->cmsg_len < sizeof(cmsghdr) || c->cmsg_len > len - off) {
      ClearNetState(st);
      return Napi::Number::New(env, -EINVAL);
    }
    long r = CheckCmsg(st, c, &nfds);
    if (r != 0) {
      ClearNetState(st);
      return Napi::Number::New(env, static_cast<double>(r));
    }
    off += CMSG_ALIGN(c->cmsg_len);
  }
  st->control.assign(reinterpret_cast<const char*>(b), len);
  st->have_control = true;
  return Napi::Number::New(env, 0);
}

// ipOptions() for setsockopt(fd, IPPROTO_IP, IP_OPTIONS, optval, optlen), optlen > 0:
// kRefusedRoute (nothing answered: JS refuses), or the result of tsyd's own setsockopt on its
// copy of the socket with the options it checked (answered; 0, -errno, -ESRCH caller gone).
static Napi::Value IpOptions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = CurrentRequest(env, "ipOptions");
  if (!st) return env.Undefined();
  const int64_t len = static_cast<int32_t>(st->req->data.args[4]);
  long r;
  uint8_t opts[40];
  if (len < 0 || len > 40) {
    r = -EINVAL;  // as the kernel: optlen < 0, or more than 40 bytes of options
  } else {
    const pid_t tid = static_cast<pid_t>(st->req->pid);
    int rr = len == 0 ? 0 : ReadRemote(tid, st->req->data.args[3], opts, static_cast<size_t>(len));
    if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
    r = rr < 0 ? -EFAULT : CheckIpOptions(opts, static_cast<size_t>(len));
    if (r == kRefusedRoute) return Napi::Number::New(env, static_cast<double>(r));
    if (r == 0) {
      const int sock = Sock(st);
      if (sock < 0) r = sock;
      else r = setsockopt(sock, IPPROTO_IP, IP_OPTIONS, opts, static_cast<socklen_t>(len)) < 0 ? -errno : 0;
    }
  }
  if (r == -ESRCH && !NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  return AnswerResult(env, st, r);
}

void ClearNetState(ThreadState* st) {
  for (int fd : st->control_fds) close(fd);
  st->control_fds.clear();
  st->control.clear();
  st->have_control = false;
  st->creds_as_program = false;
  st->pending_op = -1;
}

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("readSockaddr", Napi::Function::New(env, ReadSockaddr, "readSockaddr"));
  exports.Set("guardSocket", Napi::Function::New(env, GuardSocket, "guardSocket"));
  exports.Set("peerUid", Napi::Function::New(env, PeerUid, "peerUid"));
  exports.Set("peerPid", Napi::Function::New(env, PeerPid, "peerPid"));
  exports.Set("bindUnixSocket", Napi::Function::New(env, BindUnixSocket, "bindUnixSocket"));
  exports.Set("readMsgName", Napi::Function::New(env, ReadMsgName, "readMsgName"));
  exports.Set("netOp", Napi::Function::New(env, NetOpJs, "netOp"));
  exports.Set("netSettle", Napi::Function::New(env, NetSettle, "netSettle"));
  exports.Set("sockInfo", Napi::Function::New(env, SockInfo, "sockInfo"));
  exports.Set("readControl", Napi::Function::New(env, ReadControl, "readControl"));
  exports.Set("ipOptions", Napi::Function::New(env, IpOptions, "ipOptions"));
}

}  // namespace tsyd
