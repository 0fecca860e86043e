// Shared helpers for the tsyd addon: errno-carrying errors and the per-thread state.
#pragma once

#include <napi.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <errno.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tsyd {

// Throws a JS Error with `errno` (positive) and `syscall`, as Node's system errors do.
// Returns an empty value for the caller to return.
Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err);

// The words of one emulator's slot (an Int32Array over the supervisor's shared memory, bound
// with bindBuffers()). src/shared/slot.ts is the table JS reads; the loader compares it with
// this one (the addon exports it as slotLayout, notify.cc), so the two cannot drift apart.
enum SlotWord {
  // The request, written by Recv.
  kReqPid = 0,      // thread id of the caller (in tsyd's pid namespace)
  kReqNr = 1,       // system call number
  kReqArch = 2,     // AUDIT_ARCH_*
  kReqIdLo = 3,     // notification id, low/high 32 bits: the request JS acts on (CurrentRequest)
  kReqIdHi = 4,
  kReqArgs = 5,     // args[i] low 32 bits at kReqArgs+2i, high 32 bits at kReqArgs+2i+1
  kHowFlagsLo = 17, // readOpenHow(): struct open_how
  kHowFlagsHi = 18,
  kHowMode = 19,
  kHowResolveLo = 20,
  kHowResolveHi = 21,
  kPathMagic = 22,  // resolvePath(): 1 when the result is a /proc magic link to the caller's own fd
  kPathMissing = 23,  // resolvePath(): 0 exists, 1 the last component does not exist (yet),
                      // 2 / 3: the path ends in "." / ".." (exists, but names no entry)
  // The pool's words (src/shared/worker-data.ts, the interrupter).
  kSlotState = 24,     // JS only: the emulator's state
  kSlotTid = 25,       // JS only: the emulator thread's id
  kSlotKind = 26,      // JS only: core or helper
  kSlotRecvGen = 27,   // odd while this thread is inside NOTIF_RECV (see Recv), even otherwise
  kSlotBlocking = 28,  // set by JS before a call that may block, cleared here once it returned
  kSlotSeq = 29,       // bumped by JS for every request this thread takes
  kSlotCounted = 30,   // 1 while this thread's request counts as busy (for the monitor, if it dies)
  kSlotRestart = 31,   // the interrupter: the seq of the request it cut short for a restart
  // net.cc: readSockaddr()/readMsgName(): the address family (4|6, else the AF_ number) and
  // port; 1 with control data (readControl(): the refused type); an abstract name's length.
  kNetFamily = 32,
  kNetPort = 33,
  kNetControl = 34,
  kNetNameLen = 35,
  // resolvePath() / readSockaddr() failed: the path at which the resolution stopped (in the path
  // buffer, never acted on: path_len stays 0) and the length of its part that exists, so that
  // JS can answer ENOENT when that object is hidden (see ResolveResult::fail).
  kPathFailLen = 36,
  kPathFailOut = 37,
  // The name a checked magic path (kPathMagic) is decided by, when it differs from the magic
  // path itself: a deleted file's former path, at offset kDecideAsOffset of the path buffer.
  kPathDecideLen = 38,
  // The directories a resolution walked into and left again through "..", the deepest of each
  // excursion, and the symlinks it followed (marked by a leading kLeftLink byte): NUL-separated
  // at kLeftOffset of the path buffer (total length, 0: none).
  // JS answers ENOENT when one is hidden (a walk through a hidden directory finds nothing).
  kPathLeftLen = 39,
  // net.cc sockInfo()/a recheck: the socket's own address: 4|6, else 1000 + AF_ number; port.
  kNetLocalFamily = 40,
  kNetLocalPort = 41,
  // resolvePath(kTakeEmpty): 1 when the path was empty and named the dirfd (or the cwd): tsyd
  // took a copy of it (taken_fd) and the path buffer holds the copy's path; ops act on the copy.
  kPathTaken = 42,
  // resolvePath(): 1 when the result is below /proc/<pid> of a process outside the sandbox
  // (tsyd's own are refused outright): readable as a neighbour's, never written (JS refuses).
  kPathForeignProc = 43,
  kNetGivenAny = 44,   // net.cc: 1: the program gave the unspecified address, decided as loopback
  kNetBatchEnd = 45,   // net.cc netOp() of a sendmmsg message: 1 when the batch must end after it
  // resolvePath(kSlashEntry): bit 1 the raw path ended in '/', bit 2 its last component (not
  // followed) is a directory: JS gives the kernel's answers for "name/" (see kSlashEntry).
  kPathSlash = 46,
  kSlotVisited = 47,   // the pool's: the emulator machine's states this slot has been in (never written here)
  kSlotWords = 48,
};

// The job table (offload.cc): kJobWords int32 per entry, in the supervisor's shared words.
// kJobKib: the KiB of the program's data the job holds (a waiting send's copy), counted against
// kMaxWaitingKib over the whole table.
// kJobRestart: the kJobSeq of the job the interrupter cut short for a restart (see RestartAnswer).
enum JobWord { kJobState = 0, kJobTid = 1, kJobCaller = 2, kJobIdLo = 3, kJobIdHi = 4, kJobSeq = 5, kJobKib = 6, kJobRestart = 7, kJobWords = 8 };
enum JobState { kJobFree = 0, kJobStarting = 1, kJobRunning = 2, kJobBlocking = 3 };
// What an op returns to JS when its call went to a job thread (answered later), or when the
// job table was full (answered EAGAIN now).
constexpr int kOffloaded = -1000;
constexpr int kOffloadFull = -1001;
// ... or when the data the waiting calls hold would pass kMaxWaitingKib (answered EAGAIN now).
constexpr int kOffloadMemory = -1003;
// What all waiting calls of a sandbox may hold of the program's data at once (KiB): 64 MiB.
constexpr int32_t kMaxWaitingKib = 64 * 1024;
// openInject(): the object is a block device, never opened for the program (answered EACCES).
constexpr int kRefusedBlockDevice = -1002;
// fsOp(inotifyAddWatch) with refuse_dirs: the object is a directory whose entries the policy may
// hide, never watched for the program (answered EACCES).
constexpr int kRefusedDirectoryWatch = -1010;

// unixbind.cc: binds the AF_UNIX socket `sock` with the program's own address bytes
// (`given`, as read), creating the socket file `base` in the checked directory `dirfd` and
// nowhere else: 0, -errno of bind(), or kBindNameUnavailable when that cannot be done here (the
// caller binds another way).
constexpr long kBindNameUnavailable = -1011;
long BindUnixName(int sock, int dirfd, const std::string& given, const std::string& base);

// The longest canonical path tsyd decides on and acts on, its NUL included: longer than PATH_MAX,
// which limits only the string a call passes (relative to a dirfd or the cwd), not the path it
// names. Beyond it: ENAMETOOLONG (the path buffer holds the path, its decide-as name and the
// excursions of its resolution).
constexpr size_t kMaxPathLen = 32 * 1024;
constexpr size_t kDecideAsOffset = kMaxPathLen;
constexpr size_t kLeftOffset = 2 * kMaxPathLen;
// Marks a symlink's path in the kPathLeftLen list (a path never starts with it).
constexpr char kLeftLink = '\x01';
constexpr size_t kLocalAddrOffset = 4 * kMaxPathLen;  // net.cc: the socket's own address bytes
constexpr size_t kPathBufSize = kLocalAddrOffset + PATH_MAX;

// A directory reached without its name: the program's cwd or dirfd whose directory was removed
// (its /proc link ends in " (deleted)"). `path` is the path it had, which decides; calls on that
// path or below it act on `fd` (tsyd's, O_PATH), so that the kernel gives its own answers (a dead
// directory holds no entries and accepts none: ENOENT). Owns fd.
struct Anchor {
  int fd = -1;
  std::string path;
  Anchor() = default;
  Anchor(const Anchor&) = delete;
  Anchor& operator=(const Anchor&) = delete;
  Anchor& operator=(Anchor&& other) noexcept;
  ~Anchor() { Reset(); }
  void Reset();
  // `p` is this directory or below it (and this anchor holds a directory).
  bool Holds(const std::string& p) const;
};

// The paths of directories too deep for the kernel to name, as tsyd last rebuilt them (pathat.cc
// RebuildPath), by mount, device and inode. A path kept here is used only after checking that it
// still leads to that very directory. Per thread (ThreadState).
struct DirNames {
  struct Entry {
    uint64_t mnt = 0, dev = 0, ino = 0;
    std::string path;
  };
  Entry entries[4];
  unsigned next = 0;
};

// Per-environment (per thread) state: the notification being handled now, and the
// buffers shared with JS. No mutable statics: worker threads each get their own.
// act-as.cc (SafeSetID): a thread's uids and gids (real, effective, saved, fs), sorted groups
// and effective capabilities: what an emulator takes from the caller it acts for.
struct Ids {
  std::array<uid_t, 4> uid{};
  std::array<gid_t, 4> gid{};
  std::vector<gid_t> groups;
  uint32_t eff[2] = {0, 0};
};
// Switches this thread to `to` (saved ids: home's; effective capabilities: to's within home's);
// false when any step failed (the thread is then in between: ReturnHomeOrDie).
// `known`: the ids this thread was last verified at (skips reading them first; the switch is
// verified after all the same).
bool Become(const Ids& to, const Ids& home, const Ids* known = nullptr);
// Back to tsyd's credentials (`home`), or tsyd exits 101 (never a later request with the wrong
// ones). `fault`: test only (TSYD_FAULT=setid-return-fails), the return counts as failed.
void ReturnHomeOrDie(const Ids& home, bool fault = false);

struct ThreadState {
  struct seccomp_notif* req = nullptr;
  size_t req_size = 0;
  struct seccomp_notif_resp* resp = nullptr;
  size_t resp_size = 0;
  int notify_fd = -1;
  bool have_req = false;
  int32_t* counts = nullptr;         // the pool's packed curr|busy word (shared), or null
  bool busy_pending = false;         // this thread counted a request as busy and has not answered it
  int32_t* slots = nullptr;          // kSlotWords int32 words (SlotWord), JS-owned
  uint8_t* path = nullptr;           // kPathBufSize bytes, JS-owned
  size_t path_len = 0;
  std::string path2;                 // savePath(): the first path of a two-path call
  bool path2_magic = false;
  std::string path2_magic_target;    // savePath(): magic_target of the first path
  Anchor anchor;                     // the removed directory the path buffer's path is in, if any
  Anchor anchor2;                    // savePath(): that of path2
  DirNames dir_names;                // deep directories' paths as last rebuilt (NameOfFd)
  std::string sockaddr;              // net.cc: the address tsyd read, checked and passes on
  std::string msg;                   // net.cc: the struct msghdr of sendmsg
  int taken_fd = -1;                 // takeFd(): tsyd's copy of the program's fd, until endRequest()
  pid_t reaper = 0;                  // the program's parent (setReaperPid): its /proc is tsyd's
  std::vector<uint64_t> guarded;     // net.cc guardSocket(): the IPC sockets' identities (dev, ino pairs), never reached for the program
  std::string magic_target;          // resolvePath(): what a magic path's link named when decided
  int32_t* jobs = nullptr;           // the job table (bindJobs), job_count entries
  size_t job_count = 0;
  Napi::ObjectReference jobs_ref;
  bool inline_blocking = false;      // test only: calls that may block stay on this thread
  bool slow_job_pickup = false;      // test only: an idle job thread takes a job handed to it late
  std::shared_ptr<struct JobQueue> job_queue;  // offload.cc: this emulator's idle job threads
  struct Interrupter* interrupter = nullptr;   // interrupter.cc: the monitor's tsyd_int, until joined
  std::string control;               // net.cc: tsyd's copy of sendmsg's control data (SCM_RIGHTS: its fds)
  std::vector<int> control_fds;      // net.cc: tsyd's copies of the fds SCM_RIGHTS names, until sent
  bool have_control = false;         // net.cc: readControl() built `control` for the current msghdr
  bool creds_as_program = false;     // net.cc: `control` sends SCM_CREDENTIALS naming the program's pid
  std::string local;                 // net.cc: sockInfo(): the socket's own address when last looked at
  long pending = 0;                  // net.cc: result of a call that waits for JS to settle it
  int pending_op = -1;
  int mmsg_index = -1;               // net.cc: the sendmmsg entry st->msg came from (-1: sendmsg)
  bool path_null = false;            // resolvePath(kNullEmpty): the path pointer was NULL (AT_EMPTY_PATH)
  // fsOp(stat|statx) of a directory held back for JS (see fsops.cc HoldBack): the result to
  // write once the hidden subdirectories are counted, where to write it, the directory (O_PATH).
  int pend_kind = 0;                 // 0 none, 1 struct stat, 2 struct statx
  uint64_t pend_addr = 0;
  alignas(8) unsigned char pend_buf[256];
  int pend_fd = -1;
  // TakeFd(): thread pidfds (PIDFD_THREAD) of the callers seen lately, by tid (closing a pidfd
  // costs ~4 µs). Safe to keep: a thread pidfd names one task for ever (a reused tid is another
  // task: ESRCH, then reopened). Thread-group pidfds (kernels before 6.9) are never kept.
  // Emptied when the emulator has been idle for a poll timeout, so tsyd holds none at rest.
  struct CachedPidfd {
    pid_t tid = 0;
    int fd = -1;
  };
  CachedPidfd pidfds[8];
  unsigned pidfd_next = 0;
  // This thread's /proc/thread-self/fd directory (O_PATH), for the paths of fds it holds;
  // closed at rest with the pidfds.
  int self_fd_dir = -1;
  // act-as.cc: /proc/<tid>/status of the last callers followed, read again with pread (no open
  // per call; SAFETY in act-as.cc). Closed at rest with the pidfds.
  CachedPidfd status_fds[4];
  unsigned status_next = 0;
  // act-as.cc: followCaller() switched this thread to `acting` (the caller's credentials) for
  // the current request; endRequest() returns to `home`.
  bool acting_as = false;
  bool home_known = false;
  bool fail_return = false;          // test only (TSYD_FAULT=setid-return-fails)
  Ids home;
  Ids acting;
  Napi::ObjectReference slots_ref;
  Napi::ObjectReference path_ref;
  Napi::ObjectReference counts_ref;
};

ThreadState* State(Napi::Env env);
// act-as.cc: back to tsyd's credentials after a request served as the caller (or exit 101).
void ReturnHome(ThreadState* st);

// Module init hooks, one per facility file.
void InitFilter(Napi::Env env, Napi::Object exports);
void InitSpawn(Napi::Env env, Napi::Object exports);
void InitNotify(Napi::Env env, Napi::Object exports);
void InitMemory(Napi::Env env, Napi::Object exports);
void InitPath(Napi::Env env, Napi::Object exports);
void InitOpen(Napi::Env env, Napi::Object exports);
void InitProcess(Napi::Env env, Napi::Object exports);
void InitFsops(Napi::Env env, Napi::Object exports);
void InitDirents(Napi::Env env, Napi::Object exports);
void InitNet(Napi::Env env, Napi::Object exports);
void InitControl(Napi::Env env, Napi::Object exports);
void InitPrivilege(Napi::Env env, Napi::Object exports);
void InitOffload(Napi::Env env, Napi::Object exports);
void InitInterrupter(Napi::Env env, Napi::Object exports);
void InitAlone(Napi::Env env, Napi::Object exports);
void InitUnixBind(Napi::Env env, Napi::Object exports);
void InitIpcAccept(Napi::Env env, Napi::Object exports);
void InitCrypt(Napi::Env env, Napi::Object exports);
void InitCryptIo(Napi::Env env, Napi::Object exports);
void InitAes(Napi::Env env, Napi::Object exports);
void InitActAs(Napi::Env env, Napi::Object exports);
void InitAgent(Napi::Env env, Napi::Object exports);

// A call running on a job thread (offload.cc): it owns what it needs (copies, fds).
struct Job {
  int32_t* entry;  // its entry in the job table
  int notify_fd;
  uint64_t id;     // the request it answers
  std::function<void(Job&)> work;
  // False for a call the kernel never restarts after a signal (a socket with a send timeout):
  // cut short, it fails with EINTR even after a stop.
  bool restartable = true;
  // SafeSetID (act-as.cc): the job thread runs `work` with `as` (the caller's credentials,
  // when its emulator followed them) or else `home`, and returns to `home` after it. A job
  // thread takes its creator's credentials at its start, and serves later jobs of others.
  bool follows = false;
  bool act = false;
  Ids as;
  Ids home;
};
// Hands the current request to a new job thread that runs `work` (which answers it): the
// request is no longer this thread's. kOffloaded, or kOffloadFull / kOffloadMemory after
// answering EAGAIN. `bytes`: what `work` holds of the program's data while it waits (counted
// against kMaxWaitingKib for the whole sandbox).
int Offload(ThreadState* st, std::function<void(Job&)> work, size_t bytes = 0);
// Idle job threads of this emulator exit (closing: for good, the emulator ends; else only those
// created before now: the emulator has just confined itself).
void RetireIdleJobThreads(ThreadState* st, bool closing);

// interrupter.cc: ends and joins this env's interrupter thread (tsyd_int), if one runs.
void StopInterrupter(ThreadState* st);
// Marks the part of a job that may block (the interrupter may send SIGALRM only then).
void JobBlocking(Job& job, bool on);
// Answers the job's request: r ≥ 0 the value, < 0 -errno. 0 or -errno (ENOENT: caller gone).
// -EINTR of a call the interrupter cut short for a restart is answered -ERESTARTSYS.
int JobAnswer(Job& job, long r);
// The errno to answer for a call a signal to this supervisor thread cut short (EINTR): ERESTARTSYS
// when the interrupter asked for a restart of the request numbered `seq` (`asked` holds the number
// it asked for), EINTR otherwise.
int RestartAnswer(const int32_t* asked, const int32_t* seq);
// Injects `fd` as the answer (ADDFD + SEND): the program's fd number, or -errno (answered).
// Installs tsyd's `fd` in the caller of request `id` (ADDFD, without SEND): the number it got
// there, or -errno. The caller closes its copy and only then answers with that number: the
// program must not run while tsyd still holds the file (a file written through tsyd and run at
// once got ETXTBSY; a lease, or a port just closed, stayed taken). With WAIT_KILLABLE_RECV only a
// fatal signal wakes the caller between the two steps.
int InstallFd(int notify_fd, uint64_t id, int fd, bool cloexec);
// InstallFd for a job, then its answer; closes fd in between.
int JobInject(Job& job, int fd, bool cloexec);

// Reads a NUL-terminated string of at most `max` bytes (including the NUL) from the
// memory of thread `tid` at `addr`. Returns its length, or -errno:
// EFAULT for an unreadable address, ENAMETOOLONG when no NUL is found within max bytes.
long ReadRemoteString(pid_t tid, uint64_t addr, char* out, size_t max);
// Reads exactly `len` bytes; returns 0 or -errno (EFAULT).
int ReadRemote(pid_t tid, uint64_t addr, void* out, size_t len);
// Writes exactly `len` bytes into the program (results of emulated calls); 0 or -errno.
// The caller checks that the request is still valid right before (the tid may be reused).
int WriteRemote(pid_t tid, uint64_t addr, const void* data, size_t len);

// CAP_SYS_PTRACE in this thread's effective set, for one operation on the caller (privilege.cc).
bool RaiseCallerAccess();
void LowerCallerAccess();
// Another capability, for one operation whose arguments were checked as the program's own
// (SCM_CREDENTIALS naming the program's pid needs CAP_SYS_ADMIN when tsyd sends it). False when
// this thread may not raise it.
bool RaiseCapability(int cap);
void LowerCapability(int cap);
// Whether RaiseCapability(cap) would succeed (the capability is in this thread's permitted set).
bool MayRaiseCapability(int cap);
// Whether the capability is in this thread's effective set.
bool IsEffectiveCapability(int cap);

// own-proc.cc: this thread acts as program thread `tid` (SafeSetID; 0: as tsyd) until told otherwise.
void ActForOwnProc(pid_t tid);
bool ActingForCaller();
// For one operation on `path`: when it is below the caller's own /proc/<tgid> while this thread
// acts as the caller, raises what stands for the kernel's same-process exemptions (CAP_SYS_PTRACE;
// CAP_DAC_READ_SEARCH for the fd directory itself, or, with lookup_only, a name in it); lowers them after.
// The operation must then start from Through(anchor): the process directory this guard pinned.
class OwnProcAccess {
 public:
  OwnProcAccess(const std::string& path, bool lookup_only);
  ~OwnProcAccess();
  OwnProcAccess(const OwnProcAccess&) = delete;
  OwnProcAccess& operator=(const OwnProcAccess&) = delete;
  // Where a PathAt of `path` starts: the pinned /proc/<pid>[/task/<tid>] while the capabilities
  // are raised, `anchor` otherwise.
  const Anchor* Through(const Anchor* anchor) const { return pin_.fd >= 0 ? &pin_ : anchor; }

 private:
  Anchor pin_;
  bool ptrace_ = false;
  bool dac_ = false;
};

// Runs op() (a long: ≥ 0 or -errno); when ptrace access to the caller was refused (a program
// that made itself non-dumpable), once more with CAP_SYS_PTRACE raised, if this thread may.
// SAFETY: only for operations on the current request's caller (its memory, fds, cwd): the
// emulator otherwise acts with the program's capabilities (privilege.cc).
template <class F>
long AsCaller(F op) {
  long r = op();
  if ((r == -EPERM || r == -EACCES) && RaiseCallerAccess()) {
    r = op();
    LowerCallerAccess();
  }
  return r;
}

// Reads tsyd's /proc/<tid>/status into buf (NUL-terminated): its length, or -errno.
long ReadProcStatus(pid_t tid, char* buf, size_t size);
// Thread group id of a thread, from /proc/<tid>/status; -errno on failure.
pid_t TgidOf(pid_t tid);
// The last id of line `key` (NStgid:, NSpid:) of /proc/<tid>/status: the id in the task's own pid namespace.
pid_t NsIdOf(pid_t tid, const char* key);
// The Tgid: line of the status file `status` below `dirfd` (a /proc/<pid> directory fd, or
// AT_FDCWD and a whole path), or -errno.
pid_t TgidInProcDir(int dirfd, const char* status);

// A copy of the caller's fd `fd` in tsyd (pidfd_getfd, O_CLOEXEC), or -errno (-ESRCH: caller gone).
int TakeFd(ThreadState* st, int fd);

// Takes a copy of the caller's fd `fd` (AT_FDCWD: its cwd) as st->taken_fd for this request and
// writes the copy's path into the path buffer (as takeFd()); sets kPathTaken. Length or -errno.
Napi::Value TakeIntoPath(Napi::Env env, ThreadState* st, int fd);

// Drops a held-back stat result (fsops.cc), at the end of every request.
void DropPendingStat(ThreadState* st);

// Closes the cached pidfds (TakeFd) and fd directory (FdTarget): at rest, and when the thread ends.
void DropCaches(ThreadState* st);

// The path an fd of this thread points to (readlink of /proc/thread-self/fd/N, through a
// directory fd kept open): its length in out (not NUL-terminated), or -errno.
long FdTarget(ThreadState* st, int fd, char* out, size_t size);

// The caller's umask, from /proc/<tid>/status; -errno on failure.
int UmaskOf(pid_t tid);

// Opens the checked canonical path (`path`, magic: a /proc/<tgid>/fd/N link of the caller's
// own) without following any symlink or magic link except a final magic link. Our fd or -errno.
int OpenChecked(ThreadState* st, const char* path, bool magic, uint64_t oflags, unsigned mode);

// A canonical path made ready for a *at call: dirfd() and name(). A path of an anchor's directory
// or below it is relative to the anchor's fd; a path shorter than PATH_MAX (the common case) is
// (AT_FDCWD, path) as it is; a longer one has its directories opened in steps shorter than
// PATH_MAX, each with openat2(O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
// relative to the step before (pathat.cc).
class PathAt {
 public:
  PathAt() = default;
  PathAt(const PathAt&) = delete;
  PathAt& operator=(const PathAt&) = delete;
  ~PathAt();
  // 0 or -errno (a directory on the way is missing, or is a symlink: ELOOP). name() points into
  // `path`, which must outlive this PathAt.
  int Open(const std::string& path, const Anchor* anchor);
  int dirfd() const { return dirfd_; }
  const char* name() const { return name_; }

 private:
  int owned_ = -1;
  int dirfd_ = -100;  // AT_FDCWD
  const char* name_ = ".";
};

// The container's view (tsyd agent): canonical paths are the container's, looked up from its root
// (`fd`, tsyd's O_PATH fd of /proc/PID/root) instead of tsyd's. `own_pidns`: the container has a
// pid namespace of its own, so its /proc names its pids, and /proc/self is the caller's pid there.
// Per thread: an emulator serves one container at a time, and a job thread takes its emulator's.
struct ViewRoot {
  int fd = -1;
  bool own_pidns = false;
};
extern thread_local ViewRoot t_view;

// stat/lstat, readlink, openat2 and statfs of a canonical path through PathAt: 0, a length, an
// fd, or -errno.
int StatPath(const std::string& path, const Anchor* anchor, struct stat* sb, bool follow);
long ReadlinkPath(const std::string& path, const Anchor* anchor, char* buf, size_t size);
int Openat2Path(const std::string& path, const Anchor* anchor, uint64_t flags, uint64_t mode, uint64_t resolve);
int StatfsPath(const std::string& path, const Anchor* anchor, struct statfs* sf);
// In this thread's container view (t_view): its /proc is a procfs in which no process of tsyd
// has a pid (view-proc.cc), so the kernel's checks of another process's entries apply unchanged.
bool ViewProcHidesTsyd();

// How the caller's /proc link `link` (/proc/<tid>/cwd or /proc/<tid>/fd/N) names its object when
// the link's text cannot be used as it is (too long to read, or ending in " (deleted)"): opened
// through the link as the caller, then named from tsyd's own fd (the name of what was opened,
// whatever the program does meanwhile). *fd: tsyd's fd (O_PATH, owned by the caller); *name:
// its path, rebuilt through ".." when too long; *dead: it was removed and *name is the path it
// had. 0 or -errno (-missing when the link leads nowhere: ENOENT for a cwd, EBADF for an fd).
// `names`: the paths rebuilt before (may be null).
int NameThroughLink(const char* link, int missing, DirNames* names, int* fd, std::string* name, bool* dead);

// The path of tsyd's fd `fd` (its /proc/thread-self link, rebuilt through ".." when longer than
// the kernel names), and whether it was removed (*dead, *name is the path it had; a name that
// really ends in " (deleted)" is a path like any other). 0 or -errno.
int NameOfFd(int fd, DirNames* names, std::string* name, bool* dead);

// Canonicalises `raw` for thread `tid` relative to `dirfd` (the program's fd number or
// AT_FDCWD). Writes the absolute canonical path into out (NUL-terminated).
// Returns its length or -errno.
struct ResolveOpts {
  bool nofollow_last = false;  // O_NOFOLLOW / AT_SYMLINK_NOFOLLOW
  bool beneath = false;        // RESOLVE_BENEATH
  bool in_root = false;        // RESOLVE_IN_ROOT
  bool no_symlinks = false;    // RESOLVE_NO_SYMLINKS
  bool no_magiclinks = false;  // RESOLVE_NO_MAGICLINKS
  bool no_xdev = false;        // RESOLVE_NO_XDEV
  // With a trailing slash, the last component is the entry the call makes or removes (mkdir,
  // unlink, rename...): never followed, not required to be a directory (res->slash tells JS).
  bool slash_entry = false;
  pid_t reaper = 0;            // the reaper: its /proc entries are refused like tsyd's
  DirNames* names = nullptr;   // the calling thread's deep directories' paths, if any (NameOfFd)
  // The thread acts with the caller's credentials (SafeSetID): the start directory of a relative
  // path (cwd or dirfd) is taken as tsyd's fd (ResolveResult::anchor), and the walk and the act
  // start there, as the kernel's do: its ancestors need not be searchable by the caller.
  bool anchor_start = false;
  // With anchor_start: the request's thread state, to take a dirfd with pidfd_getfd (TakeFd). A
  // caller that left uid 0 is not dumpable: its /proc/<tid>/fd is root's, and not searchable.
  ThreadState* caller = nullptr;
};
struct ResolveResult {
  bool magic = false;    // result is a /proc/<tgid>/fd/N style magic link of the caller's own
  bool missing = false;  // the last component does not exist
  int dot_last = 0;      // the path ends in "." (1) or ".." (2): resolved, but no name to act on
  // With slash_entry: bit 1 the raw path ended in '/', bit 2 the last component (as resolved, not
  // followed) is a directory.
  int slash = 0;
  // On failure: the path the walk was at (the component it failed on, or the object reached),
  // and the length of its prefix that was resolved and exists. ENOTDIR, ELOOP, EACCES... tell
  // the program that this object exists: JS must answer ENOENT instead when stat hides it.
  std::string fail;
  size_t fail_out = 0;
  // A magic link to a deleted file is reopened through the link, but decided by the path the
  // file had (" (deleted)" cut off): what it was, not "an object without a path".
  std::string decide_as;
  // The deepest directory of each excursion through "..", and each symlink followed (kPathLeftLen).
  std::string left;
  // A magic result: the link's target when it was decided ("pipe:[123]", "/a/b (deleted)").
  std::string magic_target;
  // The result is below /proc/<pid> (or /proc/<pid>/task/<tid>) of a process outside the sandbox.
  bool foreign_proc = false;
  // The start directory was removed, or taken for anchor_start: the walk went on from its fd
  // (and ops on the result must).
  Anchor anchor;
};

// Puts res->fail into the path buffer for JS (kPathFailLen/kPathFailOut); path_len stays 0.
void SetFailedPath(ThreadState* st, const ResolveResult& res);
// Puts res->left (the directories a resolution walked into and out of) at kLeftOffset of the
// path buffer for JS (kPathLeftLen); false when it does not fit (the caller refuses the path).
bool SetLeft(ThreadState* st, const std::string& left);
long Canonicalize(pid_t tid, int dirfd, const char* raw, const ResolveOpts& opts, char* out,
                  size_t outsz, ResolveResult* res);

// The request stops counting as busy: called right before the answer reaches the program, so
// that with synchronous wake-up (this thread yields to the program at once) the pool's busy
// count does not include a request that is already answered. Exactly once per request.
void EndBusy(ThreadState* st);

// Answers the current request: 0 CONTINUE, 1 error `value`, 2 success `value`. 0 or -errno.
int Respond(ThreadState* st, int kind, int64_t value);

// The state of the request a request op (`op`: resolvePath, fsOp, netOp...) acts on: the
// notification this thread received and has neither answered nor handed to a job thread, and
// the one the slot's id words name (src/syscalls/request.ts stands for that one). Otherwise
// null with a JS error thrown (the emulator logs it and answers EACCES where it still can);
// when this thread holds another notification than the slot names, that one is answered EACCES.
// SAFETY: an op never acts for a request that was answered already (a denied call performed
// after its denial) nor for another request than the one JS decided.
ThreadState* CurrentRequest(Napi::Env env, const char* op);

// Answers the result of a call tsyd performed (≥ 0 the value, < 0 -errno) and returns it to JS
// (-ESRCH when the caller is gone and nothing could be answered).
Napi::Value AnswerResult(Napi::Env env, ThreadState* st, long r);

// Puts a checked path (canonical, or the pathless name /proc/<tgid>/fd/N when magic) into the
// path buffer and its slots, with the name it is decided by when that differs (decide_as: a
// deleted file's former path); returns its length for JS, or -ENAMETOOLONG.
Napi::Value SetCheckedPath(Napi::Env env, ThreadState* st, const std::string& path, bool magic,
                           const std::string& decide_as = std::string());

// The former path of a deleted file named by a /proc fd link ("/a/b (deleted)" → "/a/b"), or ""
// for other targets (pipes, sockets, memfds, files that still have their path).
std::string DeletedFilePath(const std::string& target);

// True when `pid` (a pid or a tid) is tsyd itself or one of its threads.
bool IsTsydPid(long pid);

// A /proc link target ending in " (deleted)": a removed file or directory (memfds included:
// "/memfd:x (deleted)"), or one that is really named so (NameOfFd tells them apart).
bool IsDeletedTarget(const std::string& target);

// The name rules see for a program fd without a path of its own: /proc/<tgid>/fd/N.
std::string PathlessName(pid_t tgid, int fd);

// The system call a spawn stage (reported by the child through the status fd) stands for.
const char* SpawnStageSyscall(int stage);

// Drops what net.cc kept for the current request (fd copies of SCM_RIGHTS, the control copy).
void ClearNetState(ThreadState* st);

// True when the notification being handled is still valid (the caller still waits).
bool NotifIdValid(int notify_fd, uint64_t id);

}  // namespace tsyd
