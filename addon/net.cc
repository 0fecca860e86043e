// net/connect and net/bind: the address a program passes to connect, bind, sendto, sendmsg
// and sendmmsg is read once and classified for JS to decide; an allowed call is then performed
// by tsyd on a copy of the program's socket (pidfd_getfd) with tsyd's own copy of the address.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

// Slots (see common.h ReqSlot: 24-27 are free for this facility).
enum NetSlot { kNetFamily = kNetSlots, kNetPort = kNetSlots + 1, kNetControl = kNetSlots + 2, kNetNameLen = kNetSlots + 3 };

enum NetOp { kNetConnect = 0, kNetBind = 1, kNetSendto = 2, kNetSendmsg = 3 };

static constexpr size_t kMaxSend = 4u << 20;   // bytes tsyd sends for one call
static constexpr size_t kMaxIov = 1024;         // UIO_MAXIOV

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

static uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

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
  if (a.size() < sizeof(sa_family_t)) return kSockShort;
  sa_family_t family;
  memcpy(&family, b, sizeof family);
  st->slots[kNetFamily] = family;
  switch (family) {
    case AF_INET:
      if (a.size() < sizeof(sockaddr_in)) return kSockShort;
      SetInet(st, 4, b + offsetof(sockaddr_in, sin_addr), 4, Be16(b + offsetof(sockaddr_in, sin_port)));
      return kSockInet;
    case AF_INET6:
      if (a.size() < 24) return kSockShort;  // SIN6_LEN_RFC2133: the kernel's minimum
      SetInet(st, 6, b + offsetof(sockaddr_in6, sin6_addr), 16, Be16(b + offsetof(sockaddr_in6, sin6_port)));
      return kSockInet;
    case AF_UNSPEC:
      // SAFETY: connect(AF_UNSPEC) only dissolves an association. But IPv4 bind accepts
      // AF_UNSPEC with INADDR_ANY, and IPv4 sendto sends to an AF_UNSPEC address as if it were
      // AF_INET: there it is decided as the IPv4 address it holds.
      if (connecting) return kSockUnspec;
      if (a.size() < sizeof(sockaddr_in)) return kSockShort;
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
  ResolveResult res;
  long len = Canonicalize(static_cast<pid_t>(st->req->pid), AT_FDCWD, raw.c_str(), opts,
                          reinterpret_cast<char*>(st->path), kDecideAsOffset, &res);
  if (len < 0) {
    SetFailedPath(st, res);
    return len;
  }
  st->path_len = static_cast<size_t>(len);
  st->slots[kPathMagic] = res.magic ? 1 : 0;
  st->slots[kPathMissing] = res.missing ? 1 : 0;
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
  ThreadState* st = State(env);
  st->slots[kPathFailLen] = 0;
  int addr_arg = info[0].As<Napi::Number>().Int32Value();
  int len_arg = info[1].As<Napi::Number>().Int32Value();
  int op = info[2].As<Napi::Number>().Int32Value();
  if (!st->have_req || addr_arg < 0 || addr_arg > 5 || len_arg < 0 || len_arg > 5) return Napi::Number::New(env, -EINVAL);
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
  ThreadState* st = State(env);
  st->slots[kPathFailLen] = 0;
  int msg_arg = info[0].As<Napi::Number>().Int32Value();
  int index = info[1].As<Napi::Number>().Int32Value();
  if (!st->have_req || msg_arg < 0 || msg_arg > 5) return Napi::Number::New(env, -EINVAL);
  uint64_t at = st->req->data.args[msg_arg];
  if (index >= 0) at += static_cast<uint64_t>(index) * sizeof(mmsghdr);
  msghdr m;
  int r = ReadRemote(static_cast<pid_t>(st->req->pid), at, &m, sizeof m);
  if (!NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  if (r < 0) return Napi::Number::New(env, -EFAULT);
  st->msg.assign(reinterpret_cast<const char*>(&m), sizeof m);
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
  } else {
    held->fd = OpenChecked(st, path.c_str(), magic, O_PATH | O_CLOEXEC | (magic ? 0 : O_NOFOLLOW), 0);
    if (held->fd < 0) return held->fd;
    n = snprintf(un->sun_path, sizeof un->sun_path, "/proc/thread-self/fd/%d", held->fd);
  }
  // A name near the 108-byte limit does not fit behind the /proc prefix.
  if (n < 0 || static_cast<size_t>(n) >= sizeof un->sun_path) return -ENAMETOOLONG;
  *outlen = static_cast<socklen_t>(off + static_cast<size_t>(n) + 1);
  return 0;
}

// bind of a UNIX path on tsyd's copy of the socket. The kernel gives the socket file the mode
// of the socket's inode less the umask — tsyd's umask is 0, so the program's is applied to the
// inode first and the inode's mode restored after: the file is created with the right mode in
// one step (no window in which it has more permissions, nothing to chmod by name afterwards).
static long BindWithUmask(ThreadState* st, int sock, const sockaddr* sa, socklen_t len) {
  struct stat sb;
  if (fstat(sock, &sb) < 0) return -errno;
  int um = UmaskOf(static_cast<pid_t>(st->req->pid));
  if (um < 0) return um;
  const mode_t before = sb.st_mode & 07777;
  if (fchmod(sock, before & ~static_cast<mode_t>(um)) < 0) return -errno;
  long r = bind(sock, sa, len) < 0 ? -errno : 0;
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

static long Perform(ThreadState* st, int op) {
  const int fd = static_cast<int>(static_cast<int32_t>(st->req->data.args[0]));
  Fd sock;
  if ((sock.fd = TakeFd(st, fd)) < 0) return sock.fd;
  sockaddr_storage sa;
  socklen_t salen = 0;
  Fd held;
  std::string base;
  long r = BuildAddress(st, op, &sa, &salen, &held, &base);
  if (r < 0) return r;
  const sockaddr* addr = reinterpret_cast<const sockaddr*>(&sa);
  if (op == kNetConnect) return connect(sock.fd, addr, salen) < 0 ? -errno : 0;
  if (op == kNetBind) {
    if (sa.ss_family == AF_UNIX && !base.empty()) return BindWithUmask(st, sock.fd, addr, salen);
    return bind(sock.fd, addr, salen) < 0 ? -errno : 0;
  }
  std::vector<char> data;
  if ((r = GatherData(st, op, sock.fd, &data)) < 0) return r;
  const int flags = static_cast<int>(static_cast<int32_t>(st->req->data.args[op == kNetSendto ? 3 : 2]));
  // SAFETY: MSG_NOSIGNAL for tsyd itself; the program gets its SIGPIPE below, as the kernel
  // would have sent it.
  ssize_t n = sendto(sock.fd, data.data(), data.size(), flags | MSG_NOSIGNAL, addr, salen);
  if (n < 0) {
    int e = errno;
    if (e == EPIPE && !(flags & MSG_NOSIGNAL)) {
      pid_t tid = static_cast<pid_t>(st->req->pid);
      pid_t tgid = TgidOf(tid);
      if (tgid > 0 && NotifIdValid(st->notify_fd, st->req->id)) syscall(SYS_tgkill, tgid, tid, SIGPIPE);
    }
    return -e;
  }
  return n;
}

// netOp(op) → the result given to the program (≥ 0 or -errno) after answering it, or -ESRCH
// when the caller is gone (nothing answered). Acts on the address read by the last
// readSockaddr()/readMsgName() and decided by JS.
static Napi::Value NetOpJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  int op = info[0].As<Napi::Number>().Int32Value();
  if (!st->have_req || op < kNetConnect || op > kNetSendmsg) return Napi::Number::New(env, -EINVAL);
  long r = Perform(st, op);
  // The call was the part that may block: the interrupter must not touch what follows.
  __atomic_store_n(&st->slots[kSlotBlocking], 0, __ATOMIC_SEQ_CST);
  if (r == -ESRCH && !NotifIdValid(st->notify_fd, st->req->id)) return Napi::Number::New(env, -ESRCH);
  return AnswerResult(env, st, r);
}

void InitNet(Napi::Env env, Napi::Object exports) {
  exports.Set("readSockaddr", Napi::Function::New(env, ReadSockaddr, "readSockaddr"));
  exports.Set("readMsgName", Napi::Function::New(env, ReadMsgName, "readMsgName"));
  exports.Set("netOp", Napi::Function::New(env, NetOpJs, "netOp"));
}

}  // namespace tsyd
