// The AES worker (tsyd_aes): a native thread that writes crypt files back. Each job encrypts a
// plaintext buffer (memfd or O_TMPFILE) into an O_TMPFILE the caller opened beside the file,
// fsyncs it, links it under a temporary name and renames it onto the file: the rename is the
// commit point, so a crash at any moment leaves the whole old or the whole new content.
// It blocks every signal and loads its own seccomp filter (no open, no socket, no exec) before
// it reports itself started; it opens nothing: every fd comes with its job.
//
// One AES worker per fd table: per sandbox (the monitor, which unshared its fd table, starts it;
// emulators share that table). SAFETY: a job's fds are numbers in the submitter's fd table, so
// aesSubmit finds the worker that shares the caller's table (kcmp KCMP_FILES), never another
// sandbox's, whose same numbers name other files.
#include "common.h"
#include "crypt.h"
#include "native-thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/kcmp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace tsyd {

// addon/crypt-files.cc: a failed write-back's content is kept for a retry (a passing want), or
// counted lost (the end of the sandbox names it and exits 101). stray: the temporary name left.
void CryptWriteBackFailed(int handle, int dir_fd, const std::string& name, int tmp_fd, const char* stage, int err, const std::string& stray);
// addon/crypt-files.cc: a job replaced by a newer one of its file before it ran.
void CryptWriteBackSuperseded(int handle, int dir_fd, const std::string& name, int tmp_fd);

namespace {

constexpr size_t kAesStack = 256 * 1024;
constexpr size_t kMaxEvents = 1024;
constexpr size_t kMaxName = 255;

struct AesJob {
  int32_t id;
  int handle;
  int plain_fd, dir_fd, tmp_fd;
  std::string name;
  uint64_t seq = 0;  // cryptCollect's order of the jobs (0: none given, never replaced)
  dev_t dir_dev = 0;
  ino_t dir_ino = 0;
  int64_t bytes = 0;  // its plaintext's size when submitted (the bound on queued bytes)
};

// Do `a` and `b` write back the same file (its key handle, directory and name)?
bool SameFile(const AesJob& a, const AesJob& b) {
  return a.seq != 0 && b.seq != 0 && a.handle == b.handle && a.dir_dev == b.dir_dev && a.dir_ino == b.dir_ino && a.name == b.name;
}

using FileKey = std::tuple<int, dev_t, ino_t, std::string>;
FileKey KeyOf(const AesJob& j) { return FileKey{j.handle, j.dir_dev, j.dir_ino, j.name}; }

enum EventKind { kWritten = 0, kFailed = 1, kProbe = 2 };
enum Stage { kEncrypt = 0, kFsync = 1, kLink = 2, kRename = 3, kSyncDir = 4 };
const char* const kStages[] = {"encrypt", "fsync", "link", "rename", "fsync_dir"};

struct AesEvent {
  EventKind kind;
  int32_t id;
  int64_t bytes;  // kWritten: the file's size; kProbe: the errno of socket()
  int32_t err;    // kFailed: errno; kProbe: the errno of open()
  Stage stage;
  std::string name;
};

struct AesWorker {
  napi_env owner = nullptr;  // the env that started it: the only one that stops it (its cleanup hook)
  pthread_t thread{};
  pid_t tid = 0;
  std::vector<sock_filter> filter;  // empty: unconfined (TSYD_SKIP_SCMP)
  bool probe = false;               // test only: try an open and a socket once confined
  int slow_job_ms = 0;              // test only (TSYD_FAULT=slow-aes): each job starts this late
  std::mutex m;
  std::condition_variable work_cv;  // a job queued, or stop
  std::condition_variable idle_cv;  // the queue ran empty, or the thread started/failed
  std::deque<AesJob> queue;
  // The newest job of each file (with a seq) the thread has taken: an older one handed on later
  // (two threads collected two jobs of one file and submitted them in reverse order) never runs.
  std::map<FileKey, uint64_t> newest_taken;
  bool busy = false;
  int64_t busy_bytes = 0;  // the running job's plaintext
  bool stop = false;
  enum { kStarting, kRunning, kFailedStart } start = kStarting;
  int confine_errno = 0;
  int32_t next_id = 0;
  std::vector<AesEvent> events;
  uint32_t dropped = 0;
};

// Every running worker (process-wide: emulator threads submit to their sandbox's).
std::mutex workers_m;
std::vector<AesWorker*> workers;

pid_t Gettid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// The worker whose thread shares the calling thread's fd table (workers_m held), or null.
AesWorker* OfThisFdTable() {
  const pid_t me = Gettid();
  for (AesWorker* w : workers) {
    if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILES, me, w->tid) == 0) return w;
  }
  return nullptr;
}

void Record(AesWorker& w, AesEvent e) {
  std::lock_guard<std::mutex> lock(w.m);
  if (w.events.size() < kMaxEvents) w.events.push_back(std::move(e));
  else w.dropped++;
}

// ".NAME.tsyd-XXXXXXXXXXXX" (or ".tsyd-XXXXXXXXXXXX" when NAME is too long for it).
std::string TempName(const std::string& name) {
  uint8_t r[6] = {};
  if (getrandom(r, sizeof r, 0) < 0) { /* the name is then fixed; EEXIST retries */ }
  char suffix[32];
  snprintf(suffix, sizeof suffix, ".tsyd-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
  return name.size() + 1 + strlen(suffix) <= kMaxName ? "." + name + suffix : std::string(suffix);
}

// Links the O_TMPFILE `fd` into `dir` under a fresh temporary name: 0 (name in `out`) or -errno.
// /proc/thread-self: this thread's fd table (the monitor's), not the main thread's.
int LinkTemp(int fd, int dir, const std::string& name, std::string& out) {
  char from[64];
  snprintf(from, sizeof from, "/proc/thread-self/fd/%d", fd);
  for (int attempt = 0; attempt < 8; attempt++) {
    out = TempName(name);
    if (linkat(AT_FDCWD, from, dir, out.c_str(), AT_SYMLINK_FOLLOW) == 0) return 0;
    if (errno != EEXIST) return -errno;
  }
  return -EEXIST;
}

// One job: encrypt, fsync, link, rename (the commit), fsync the directory. Closes its fds.
void RunJob(AesWorker& w, AesJob& job) {
  AesEvent e{kWritten, job.id, 0, 0, kEncrypt, job.name};
  int64_t rc = CryptEncryptFile(job.handle, job.plain_fd, job.tmp_fd);
  if (rc >= 0) {
    e.bytes = rc;
    e.stage = kFsync;
    rc = fsync(job.tmp_fd) < 0 ? -errno : 0;
  }
  std::string temp, stray;
  if (rc == 0) {
    e.stage = kLink;
    rc = LinkTemp(job.tmp_fd, job.dir_fd, job.name, temp);
  }
  if (rc == 0) {
    e.stage = kRename;
    if (renameat(job.dir_fd, temp.c_str(), job.dir_fd, job.name.c_str()) < 0) {
      rc = -errno;
      if (unlinkat(job.dir_fd, temp.c_str(), 0) < 0) stray = temp;
    }
  }
  // Committed; make the rename itself durable (EINVAL/EBADF: a directory that cannot be synced:
  // one tsyd may not read comes as its O_PATH fd, QueueWriteBack).
  if (rc == 0 && fsync(job.dir_fd) < 0 && errno != EINVAL && errno != EBADF) {
    e.stage = kSyncDir;
    rc = -errno;
  }
  // Not in place (the rename did not happen): kept for a retry when the want passes, else lost.
  if (rc < 0 && e.stage != kSyncDir) CryptWriteBackFailed(job.handle, job.dir_fd, job.name, job.tmp_fd, kStages[e.stage], static_cast<int>(-rc), stray);
  close(job.plain_fd);
  close(job.tmp_fd);
  close(job.dir_fd);
  if (rc < 0) {
    e.kind = kFailed;
    e.err = static_cast<int32_t>(-rc);
  }
  Record(w, std::move(e));
}

// Test only: what an open and a socket give this thread once confined (both must fail).
void Probe(AesWorker& w) {
  const int fd = open("/", O_RDONLY | O_CLOEXEC);
  const int open_err = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int socket_err = s < 0 ? errno : 0;
  if (s >= 0) close(s);
  Record(w, AesEvent{kProbe, -1, socket_err, open_err, kEncrypt, ""});
}

void* AesThread(void* arg) {
  AesWorker& w = *static_cast<AesWorker*>(arg);
  prctl(PR_SET_NAME, "tsyd_aes", 0, 0, 0);
  // SAFETY: confined before it reports itself started: aesStart returns success only once this
  // thread holds its filter; a failed load is a failed start.
  const int err = w.filter.empty() ? 0 : ConfineThisThread(w.filter);
  {
    std::lock_guard<std::mutex> lock(w.m);
    w.tid = Gettid();
    w.confine_errno = err;
    w.start = err == 0 ? AesWorker::kRunning : AesWorker::kFailedStart;
  }
  w.idle_cv.notify_all();
  if (err != 0) return nullptr;
  if (w.probe) Probe(w);
  std::unique_lock<std::mutex> lock(w.m);
  for (;;) {
    w.work_cv.wait(lock, [&] { return w.stop || !w.queue.empty(); });
    if (w.queue.empty()) break;  // stop, and drained: no queued write-back is lost
    AesJob job = std::move(w.queue.front());
    w.queue.pop_front();
    if (job.seq != 0) {
      uint64_t& newest = w.newest_taken[KeyOf(job)];
      newest = std::max(newest, job.seq);
    }
    w.busy = true;
    w.busy_bytes = job.bytes;
    lock.unlock();
    if (w.slow_job_ms > 0) usleep(static_cast<useconds_t>(w.slow_job_ms) * 1000);
    RunJob(w, job);
    lock.lock();
    w.busy = false;
    w.busy_bytes = 0;
    w.idle_cv.notify_all();  // aesDrain waits for the queue to run empty, or below a bound
  }
  return nullptr;
}

void StopAtCleanup(void* arg);

int32_t IntOf(Napi::Object o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }

// aesStart({ filter?, probe? }) → 0, or -errno (EBUSY: this fd table has one; the errno of a
// failed filter load). Returns once the thread is confined and waiting for jobs.
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AesWorker* w = new AesWorker();
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Object o = info[0].As<Napi::Object>();
    if (!FilterFromJs(o.Get("filter"), w->filter)) {
      delete w;
      Napi::TypeError::New(env, "aesStart: filter is not a BPF program").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    w->probe = o.Get("probe").ToBoolean().Value();
    if (o.Get("slowJobMs").IsNumber()) w->slow_job_ms = o.Get("slowJobMs").As<Napi::Number>().Int32Value();
  }
  std::lock_guard<std::mutex> reg(workers_m);
  if (OfThisFdTable()) {
    delete w;
    return Napi::Number::New(env, -EBUSY);
  }
  const int rc = CreateSignalFreeThread(&w->thread, kAesStack, AesThread, w);
  if (rc != 0) {
    delete w;
    return Napi::Number::New(env, -rc);
  }
  int err;
  {
    std::unique_lock<std::mutex> lock(w->m);
    w->idle_cv.wait(lock, [&] { return w->start != AesWorker::kStarting; });
    err = w->confine_errno;
  }
  if (err != 0) {
    pthread_join(w->thread, nullptr);
    delete w;
    return Napi::Number::New(env, -err);
  }
  w->owner = env;
  workers.push_back(w);
  napi_add_env_cleanup_hook(env, StopAtCleanup, w);
  return Napi::Number::New(env, 0);
}

// Removes `w` from the registry (no job can be queued any more), lets it drain its queue, joins it.
void StopAndJoin(AesWorker* w) {
  {
    std::lock_guard<std::mutex> reg(workers_m);
    workers.erase(std::remove(workers.begin(), workers.end(), w), workers.end());
  }
  {
    std::lock_guard<std::mutex> lock(w->m);
    w->stop = true;
  }
  w->work_cv.notify_all();
  pthread_join(w->thread, nullptr);
}

// The backstop: the env that started the worker ends without aesStop (no thread outlives it).
void StopAtCleanup(void* arg) {
  AesWorker* w = static_cast<AesWorker*>(arg);
  StopAndJoin(w);
  delete w;
}

// The calling thread's worker (its fd table's), or null.
AesWorker* Mine() {
  std::lock_guard<std::mutex> reg(workers_m);
  return OfThisFdTable();
}

std::string NameOf(Napi::Value v) { return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string(); }

bool IsPlainName(const std::string& n) {
  return !n.empty() && n.size() <= kMaxName && n != "." && n != ".." && n.find('/') == std::string::npos && n.find('\0') == std::string::npos;
}

// A job that will not run (a newer one of its file replaced it): its fds closed (its buffer freed).
void Drop(AesJob& job) {
  CryptWriteBackSuperseded(job.handle, job.dir_fd, job.name, job.tmp_fd);
  close(job.plain_fd);
  close(job.tmp_fd);
  close(job.dir_fd);
}

// aesSubmit({ handle, plainFd, dirFd, name, tmpFd, seq? }) → the job's id (≥ 0), or -errno:
// -ESRCH when no worker shares this thread's fd table, -EINVAL for a name that is not one plain
// entry name. The worker owns (and closes) the three fds once this returns an id; else the caller
// does. With `seq` (cryptCollect's), one job per file waits: a job of the same file still queued
// is replaced by the newer of the two (the other is dropped), so a file rewritten faster than it
// is encrypted holds at most the running job and one queued.
Napi::Value Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  AesJob job{0, IntOf(o, "handle"), IntOf(o, "plainFd"), IntOf(o, "dirFd"), IntOf(o, "tmpFd"), NameOf(o.Get("name"))};
  if (!IsPlainName(job.name) || job.plain_fd < 0 || job.dir_fd < 0 || job.tmp_fd < 0) return Napi::Number::New(env, -EINVAL);
  struct stat dsb, psb;
  if (fstat(job.plain_fd, &psb) == 0) job.bytes = psb.st_size;
  if (o.Get("seq").IsNumber() && fstat(job.dir_fd, &dsb) == 0) {
    job.seq = static_cast<uint64_t>(o.Get("seq").As<Napi::Number>().Int64Value());
    job.dir_dev = dsb.st_dev, job.dir_ino = dsb.st_ino;
  }
  AesJob dropped{-1, 0, -1, -1, -1, ""};
  int32_t id;
  {
    std::lock_guard<std::mutex> reg(workers_m);  // held: the worker cannot be stopped meanwhile
    AesWorker* w = OfThisFdTable();
    if (!w) return Napi::Number::New(env, -ESRCH);
    {
      std::lock_guard<std::mutex> lock(w->m);
      if (w->stop) return Napi::Number::New(env, -ESRCH);
      id = job.id = w->next_id++;
      auto queued = std::find_if(w->queue.begin(), w->queue.end(), [&](const AesJob& q) { return SameFile(q, job); });
      auto taken = job.seq != 0 ? w->newest_taken.find(KeyOf(job)) : w->newest_taken.end();
      if (taken != w->newest_taken.end() && taken->second > job.seq) {
        // SAFETY: never an older content last: a newer one of this file was taken already.
        dropped = std::move(job);
      } else if (queued == w->queue.end()) {
        w->queue.push_back(std::move(job));
      } else if (queued->seq < job.seq) {
        dropped = std::move(*queued);
        *queued = std::move(job);
      } else {
        dropped = std::move(job);  // handed on late: the newer content is queued already
      }
    }
    w->work_cv.notify_one();
  }
  // Outside the worker's locks: the registry takes its own.
  if (dropped.plain_fd >= 0) Drop(dropped);
  return Napi::Number::New(env, id);
}

// The plaintext bytes of the jobs queued and running (w.m held).
int64_t PendingBytes(const AesWorker& w) {
  int64_t n = w.busy_bytes;
  for (const AesJob& j : w.queue) n += j.bytes;
  return n;
}

// aesPending() → jobs queued or running in this fd table's worker (0 without one).
Napi::Value Pending(const Napi::CallbackInfo& info) {
  AesWorker* w = Mine();
  if (!w) return Napi::Number::New(info.Env(), 0);
  std::lock_guard<std::mutex> lock(w->m);
  return Napi::Number::New(info.Env(), static_cast<double>(w->queue.size() + (w->busy ? 1 : 0)));
}

// aesPendingBytes() → the plaintext bytes those jobs hold (their size when submitted; 0 without a worker).
Napi::Value PendingBytesJs(const Napi::CallbackInfo& info) {
  AesWorker* w = Mine();
  if (!w) return Napi::Number::New(info.Env(), 0);
  std::lock_guard<std::mutex> lock(w->m);
  return Napi::Number::New(info.Env(), static_cast<double>(PendingBytes(*w)));
}

// aesDrain(timeoutMs, atMost = 0, atMostBytes?) → true once no more than atMost jobs are queued
// or running, and (with atMostBytes) they hold no more than atMostBytes of plaintext or only the
// running one is left (at once without a worker); false when timeoutMs passed first.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  const int32_t ms = info[0].As<Napi::Number>().Int32Value();
  const size_t at_most = info.Length() > 1 && info[1].IsNumber() ? static_cast<size_t>(std::max(0, info[1].As<Napi::Number>().Int32Value())) : 0;
  const int64_t at_most_bytes = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : -1;
  AesWorker* w = Mine();
  if (!w) return Napi::Boolean::New(info.Env(), true);
  std::unique_lock<std::mutex> lock(w->m);
  const bool done = w->idle_cv.wait_for(lock, std::chrono::milliseconds(ms < 0 ? 0 : ms), [&] {
    return w->queue.size() + (w->busy ? 1 : 0) <= at_most && (at_most_bytes < 0 || w->queue.empty() || PendingBytes(*w) <= at_most_bytes);
  });
  return Napi::Boolean::New(info.Env(), done);
}

// { events: [{ op: 'written'|'failed'|'probe', id, name, bytes, errno, stage }], dropped,
// confineErrno }: what the worker did since the last call. Names are entry names, never paths;
// nothing of a key.
Napi::Object Events(Napi::Env env, AesWorker* w) {
  std::vector<AesEvent> events;
  uint32_t dropped;
  int confine_errno;
  {
    std::lock_guard<std::mutex> lock(w->m);
    events.swap(w->events);
    dropped = w->dropped;
    w->dropped = 0;
    confine_errno = w->confine_errno;
  }
  static const char* const kOps[] = {"written", "failed", "probe"};
  Napi::Array list = Napi::Array::New(env, events.size());
  for (size_t k = 0; k < events.size(); k++) {
    const AesEvent& e = events[k];
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", kOps[e.kind]);
    if (e.kind == kProbe) {
      o.Set("openErrno", e.err);
      o.Set("socketErrno", static_cast<double>(e.bytes));
    } else {
      o.Set("id", e.id);
      o.Set("name", e.name);
      if (e.kind == kWritten) o.Set("bytes", static_cast<double>(e.bytes));
      else {
        o.Set("errno", e.err);
        o.Set("stage", kStages[e.stage]);
      }
    }
    list.Set(static_cast<uint32_t>(k), o);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("events", list);
  r.Set("dropped", dropped);
  r.Set("confineErrno", confine_errno);
  return r;
}

// aesEvents() → this fd table's worker's events (see Events), undefined without one.
Napi::Value EventsJs(const Napi::CallbackInfo& info) {
  AesWorker* w = Mine();
  return w ? Napi::Value(Events(info.Env(), w)) : info.Env().Undefined();
}

// aesStop() → the worker's last events, or undefined without one (or when the calling env did
// not start it: its starter's cleanup hook holds it): no job can be queued any more; the queued
// ones are written (however long that takes), then the thread is joined.
Napi::Value Stop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AesWorker* w = Mine();
  if (!w || w->owner != static_cast<napi_env>(env)) return env.Undefined();
  napi_remove_env_cleanup_hook(env, StopAtCleanup, w);
  StopAndJoin(w);
  Napi::Object r = Events(env, w);
  delete w;
  return r;
}

}  // namespace

void InitAes(Napi::Env env, Napi::Object exports) {
  exports.Set("aesStart", Napi::Function::New(env, Start, "aesStart"));
  exports.Set("aesSubmit", Napi::Function::New(env, Submit, "aesSubmit"));
  exports.Set("aesPending", Napi::Function::New(env, Pending, "aesPending"));
  exports.Set("aesPendingBytes", Napi::Function::New(env, PendingBytesJs, "aesPendingBytes"));
  exports.Set("aesDrain", Napi::Function::New(env, Drain, "aesDrain"));
  exports.Set("aesStop", Napi::Function::New(env, Stop, "aesStop"));
  exports.Set("aesEvents", Napi::Function::New(env, EventsJs, "aesEvents"));
}

}  // namespace tsyd
