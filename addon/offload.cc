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

#include <functional>

namespace tsyd {

static constexpr size_t kJobStack = 256 * 1024;

void JobBlocking(Job& job, bool on) { __atomic_store_n(&job.entry[kJobState], on ? kJobBlocking : kJobRunning, __ATOMIC_SEQ_CST); }

int JobAnswer(Job& job, long r) {
  seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = job.id;
  if (r < 0) resp.error = static_cast<int32_t>(r);
  else resp.val = r;
  return ioctl(job.notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 ? -errno : 0;
}

int JobInject(Job& job, int fd, bool cloexec) {
  seccomp_notif_addfd add{};
  add.id = job.id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = static_cast<uint32_t>(fd);
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int remote;
  do {  // a stray SIGALRM must not lose the fd
    remote = ioctl(job.notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  } while (remote < 0 && errno == EINTR && NotifIdValid(job.notify_fd, job.id));
  if (remote >= 0 || errno == ENOENT) return remote >= 0 ? remote : -ESRCH;
  int e = errno;
  JobAnswer(job, -e);  // e.g. EMFILE: the program's fd table is full
  return -e;
}

static void* RunJob(void* arg) {
  Job* job = static_cast<Job*>(arg);
  prctl(PR_SET_NAME, "tsyd_blk", 0, 0, 0);
  __atomic_store_n(&job->entry[kJobTid], static_cast<int32_t>(syscall(SYS_gettid)), __ATOMIC_SEQ_CST);
  __atomic_store_n(&job->entry[kJobState], kJobRunning, __ATOMIC_SEQ_CST);
  job->work(*job);
  int32_t* entry = job->entry;
  delete job;
  __atomic_store_n(&entry[kJobTid], 0, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&entry[kJobSeq], 1, __ATOMIC_SEQ_CST);
  __atomic_store_n(&entry[kJobState], kJobFree, __ATOMIC_SEQ_CST);
  return nullptr;
}

int Offload(ThreadState* st, std::function<void(Job&)> work) {
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
  entry[kJobCaller] = static_cast<int32_t>(st->req->pid);
  entry[kJobIdLo] = static_cast<int32_t>(st->req->id & 0xffffffffu);
  entry[kJobIdHi] = static_cast<int32_t>(st->req->id >> 32);
  Job* job = new Job{entry, st->notify_fd, st->req->id, std::move(work)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kJobStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  // The thread inherits this emulator's signal mask (SIGALRM deliverable), its lowered
  // capabilities and its seccomp confinement.
  int rc = pthread_create(&t, &attr, RunJob, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete job;
    __atomic_store_n(&entry[kJobState], kJobFree, __ATOMIC_SEQ_CST);
    Respond(st, 1, EAGAIN);
    return kOffloadFull;
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

void InitOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("bindJobs", Napi::Function::New(env, BindJobs, "bindJobs"));
}

}  // namespace tsyd
