// Calls that may block for as long as the program likes — the open of a FIFO without writer or
// of a device, an open that waits for a lease to break, a blocking connect or send — run on a
// small native thread of their own, which answers the request when the call returns: an
// emulator (a whole Node isolate) is never held by one, so a program that blocks thousands of
// calls neither hangs its other calls nor costs tsyd an isolate each.
// Each running call has an entry in the job table of the supervisor's shared words
// (src/actors/worker-data.ts Jobs), where the interrupter sees it and can cut it short with
// SIGALRM (EINTR) when the program's thread gets a signal or goes away, and where tsyd's exit
// finds the ones left. At most as many calls as the table has entries block at once; the next
// is answered EAGAIN (and JS logs an alert): never a hang.
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace tsyd {

static constexpr size_t kJobStack = 256 * 1024;

void JobBlocking(Job& job, bool on) { __atomic_store_n(&job.entry[kJobState], on ? kJobBlocking : kJobRunning, __ATOMIC_SEQ_CST); }

// The kernel's own errno for a wait a signal cut short (include/linux/errno.h, never seen by
// programs): on the way back to user space the program's thread runs its handler and then
// restarts the call (SA_RESTART) or fails it with EINTR (no SA_RESTART), or stops and restarts the
// call after SIGCONT; with no signal left by then, it restarts the call. A restarted call stops in
// the filter again and is decided again.
static constexpr int kErestartsys = 512;

int RestartAnswer(const int32_t* asked, const int32_t* seq) {
  // SAFETY (fidelity): with no signal pending for the thread when the answer wakes it, the
  // kernel would hand 512 to the program as an errno. The interrupter asks for a restart only
  // when the thread's signal-pending flag is set (see interrupter.cc), which nothing but
  // the thread itself clears, and it is still waiting for this request. A request it did not ask
  // for (a stray SIGALRM, an older request's word) is answered EINTR.
  return __atomic_load_n(asked, __ATOMIC_SEQ_CST) == __atomic_load_n(seq, __ATOMIC_SEQ_CST) ? kErestartsys : EINTR;
}

int JobAnswer(Job& job, long r) {
  seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = job.id;
  if (r == -EINTR && job.restartable) r = -RestartAnswer(&job.entry[kJobRestart], &job.entry[kJobSeq]);
  if (r < 0) resp.error = static_cast<int32_t>(r);
  else resp.val = r;
  return ioctl(job.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

int InstallFd(int notify_fd, uint64_t id, int fd, bool cloexec) {
  seccomp_notif_addfd add{};
  add.id = id;
  add.srcfd = static_cast<uint32_t>(fd);
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int remote;
  do {  // a stray SIGALRM must not lose the fd
    remote = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  } while (remote < 0 && errno == EINTR && NotifIdValid(notify_fd, id));
  return remote >= 0 ? remote : -errno;
}

int JobInject(Job& job, int fd, bool cloexec) {
  int remote = InstallFd(job.notify_fd, job.id, fd, cloexec);
  close(fd);  // before the answer (see InstallFd)
  if (remote == -ENOENT) return -ESRCH;
  if (remote < 0) {
    JobAnswer(job, remote);  // e.g. EMFILE: the program's fd table is full
    return remote;
  }
  return JobAnswer(job, remote) == -ENOENT ? -ESRCH : remote;
}

// Job threads are kept a while once their call returned, ready for the next one of the same
// emulator (creating a thread costs ~50-100 µs: a blocking connect on loopback would pay it every
// time). An idle thread waits on its emulator's queue; at most kMaxIdle wait, each for kIdleMs.
static constexpr int kMaxIdle = 4;
static constexpr int kIdleMs = 2000;
// Test only (TSYD_FAULT=slow-job-pickup): how late an idle thread takes a job handed to it, as on
// a busy machine, so that the emulator confines itself first.
static constexpr int kSlowPickupMs = 200;

struct JobQueue {
  std::mutex m;
  std::condition_variable cv;
  std::deque<Job*> jobs;
  int idle = 0;
  // Bumped when the emulator confines itself: threads created before must not take jobs (their
  // seccomp filter is the one they were created with).
  uint64_t generation = 0;
  bool closing = false;
  bool slow_pickup = false;  // test only, see kSlowPickupMs
};

// The job's entry is free again (its seq bumped: the interrupter tells it from the next job).
static void FreeEntry(int32_t* entry) {
  __atomic_store_n(&entry[kJobTid], 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&entry[kJobKib], 0, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&entry[kJobSeq], 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&entry[kJobState], kJobFree, __ATOMIC_SEQ_CST);
}

static void Run(Job* job) {
  __atomic_store_n(&job->entry[kJobTid], static_cast<int32_t>(syscall(SYS_gettid)), __ATOMIC_SEQ_CST);
  __atomic_store_n(&job->entry[kJobState], kJobRunning, __ATOMIC_SEQ_CST);
  // SAFETY: each job with its own caller's credentials (or tsyd's); back to tsyd's after it.
  if (job->follows && !Become(job->act ? job->as : job->home, job->home)) {
    ReturnHomeOrDie(job->home);
    JobAnswer(*job, -EPERM);
  } else {
    if (job->follows && job->act) ActForOwnProc(job->entry[kJobCaller]);
    job->work(*job);
    ActForOwnProc(0);
    if (job->follows) ReturnHomeOrDie(job->home);
  }
  int32_t* entry = job->entry;
  delete job;
  FreeEntry(entry);
}

struct Start {
  std::shared_ptr<JobQueue> q;
  Job* first;
  uint64_t generation;
};

static void* JobThread(void* arg) {
  Start* start = static_cast<Start*>(arg);
  std::shared_ptr<JobQueue> q = std::move(start->q);
  Job* job = start->first;
  const uint64_t generation = start->generation;
  delete start;
  prctl(PR_SET_NAME, "tsyd_blk", 0, 0, 0);
  for (;;) {
    Run(job);
    std::unique_lock<std::mutex> lock(q->m);
    if (q->closing || q->generation != generation || q->idle >= kMaxIdle) break;
    q->idle++;
    const bool got = q->cv.wait_for(lock, std::chrono::milliseconds(kIdleMs),
                                    [&] { return q->closing || q->generation != generation || !q->jobs.empty(); });
    if (got && q->slow_pickup) {
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(kSlowPickupMs));
      lock.lock();
    }
    q->idle--;
    if (!got || q->closing || q->generation != generation || q->jobs.empty()) break;
    job = q->jobs.front();
    q->jobs.pop_front();
  }
  return nullptr;
}

static JobQueue* QueueOf(ThreadState* st) {
  if (!st->job_queue) {
    st->job_queue = std::make_shared<JobQueue>();
    st->job_queue->slow_pickup = st->slow_job_pickup;
  }
  return st->job_queue.get();
}

// Starts a job thread for `job`, created by this emulator thread: it inherits the emulator's
// signal mask (SIGALRM deliverable), its lowered capabilities and its seccomp confinement.
static bool StartJobThread(ThreadState* st, Job* job) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kJobStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  Start* start = new Start{st->job_queue, job, st->job_queue->generation};
  int rc = pthread_create(&t, &attr, JobThread, start);
  pthread_attr_destroy(&attr);
  if (rc != 0) delete start;
  return rc == 0;
}

void RetireIdleJobThreads(ThreadState* st, bool closing) {
  if (!st->job_queue) return;
  std::deque<Job*> queued;
  {
    std::lock_guard<std::mutex> lock(st->job_queue->m);
    st->job_queue->generation++;
    if (closing) st->job_queue->closing = true;
    // Handed to an idle thread that has not taken it yet: that thread leaves now.
    queued.swap(st->job_queue->jobs);
    st->job_queue->cv.notify_all();
  }
  // The program's calls handed over just before are made all the same, on new threads (created
  // after the confinement), or answered EAGAIN when none can be made: never left unanswered.
  for (Job* job : queued) {
    if (StartJobThread(st, job)) continue;
    JobAnswer(*job, -EAGAIN);
    FreeEntry(job->entry);
    delete job;
  }
}

// Frees a claimed entry that gets no job, and answers the request EAGAIN now.
static int Refuse(ThreadState* st, int32_t* entry, int why) {
  __atomic_store_n(&entry[kJobKib], 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&entry[kJobState], kJobFree, __ATOMIC_SEQ_CST);
  Respond(st, 1, EAGAIN);
  return why;
}

// Counts `bytes` of the program's data in the claimed `entry`; false when all the table's
// entries then hold more than kMaxWaitingKib. SAFETY (bounded memory): the claim is stored
// first, the table added up after: of two racing emulators each sees the other's claim, so
// together they never pass the limit (at worst both are refused).
static bool ClaimMemory(ThreadState* st, int32_t* entry, size_t bytes) {
  if (bytes == 0) return true;
  const size_t need = (bytes + 1023) >> 10;
  const int32_t kib = need > static_cast<size_t>(kMaxWaitingKib) ? kMaxWaitingKib + 1 : static_cast<int32_t>(need);
  __atomic_store_n(&entry[kJobKib], kib, __ATOMIC_SEQ_CST);
  int64_t held = 0;
  for (size_t i = 0; i < st->job_count; i++) held += __atomic_load_n(&st->jobs[i * kJobWords + kJobKib], __ATOMIC_SEQ_CST);
  return held <= kMaxWaitingKib;
}

int Offload(ThreadState* st, std::function<void(Job&)> work, size_t bytes) {
  if (!st->have_req || !st->jobs) return -EINVAL;
  int32_t* entry = nullptr;
  for (size_t i = 0; i < st->job_count && !entry; i++) {
    int32_t* e = st->jobs + i * kJobWords;
    int32_t expect = kJobFree;
    if (__atomic_compare_exchange_n(&e[kJobState], &expect, kJobStarting, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) entry = e;
  }
  if (!entry) {
    Respond(st, 1, EAGAIN);
    return kOffloadFull;
  }
  // SAFETY: a program must not bloat tsyd with many blocked large sends: above the limit the
  // answer is EAGAIN now, never a hang nor gigabytes of copies (one buffer of the program's,
  // sent from many threads, is one copy in tsyd each).
  if (!ClaimMemory(st, entry, bytes)) return Refuse(st, entry, kOffloadMemory);
  // No restart asked for this job yet (the word may hold an older job's seq, or 0 == seq 0).
  __atomic_store_n(&entry[kJobRestart], ~__atomic_load_n(&entry[kJobSeq], __ATOMIC_SEQ_CST), __ATOMIC_SEQ_CST);
  entry[kJobCaller] = static_cast<int32_t>(st->req->pid);
  entry[kJobIdLo] = static_cast<int32_t>(st->req->id & 0xffffffffu);
  entry[kJobIdHi] = static_cast<int32_t>(st->req->id >> 32);
  Job* job = new Job{entry, st->notify_fd, st->req->id, std::move(work), true, false, false, {}, {}};
  if (st->home_known) {
    job->follows = true;
    job->home = st->home;
    job->act = st->acting_as;
    if (st->acting_as) job->as = st->acting;
  }
  JobQueue* q = QueueOf(st);
  bool handed = false;
  {
    std::lock_guard<std::mutex> lock(q->m);
    // An idle thread of this emulator takes it (one per queued job at most).
    if (q->idle > static_cast<int>(q->jobs.size())) {
      q->jobs.push_back(job);
      q->cv.notify_one();
      handed = true;
    }
  }
  if (!handed && !StartJobThread(st, job)) {
    delete job;
    return Refuse(st, entry, kOffloadFull);
  }
  // The request is the job's now: this emulator is free for the next one.
  st->have_req = false;
  EndBusy(st);
  return kOffloaded;
}

// bindJobs(table: Int32Array): the job table of this sandbox (kJobWords int32 per entry).
static Napi::Value BindJobs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  Napi::Int32Array table = info[0].As<Napi::Int32Array>();
  st->jobs = table.Data();
  st->job_count = table.ElementLength() / kJobWords;
  st->jobs_ref = Napi::Persistent(info[0].As<Napi::Object>());
  return env.Undefined();
}

// setSlowJobPickup(on): test only (TSYD_FAULT=slow-job-pickup), see kSlowPickupMs.
static Napi::Value SetSlowJobPickup(const Napi::CallbackInfo& info) {
  State(info.Env())->slow_job_pickup = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

void InitOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("bindJobs", Napi::Function::New(env, BindJobs, "bindJobs"));
  exports.Set("setSlowJobPickup", Napi::Function::New(env, SetSlowJobPickup, "setSlowJobPickup"));
}

}  // namespace tsyd
