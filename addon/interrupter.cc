// The interrupter (tsyd_int): a native thread of the monitor's. Every cycle it looks at the
// emulators and job threads that registered a call that may block, and sends the thread SIGALRM
// (handler without SA_RESTART → the call returns EINTR) when the request is no longer valid (the
// program's thread died, or the kernel withdrew it) or when a signal woke the program's thread —
// exactly when the kernel's own interruptible wait would have been cut short. That call is
// answered -ERESTARTSYS (the interrupter marks the request, see RestartAnswer in offload.cc), and
// the kernel does what it does natively: runs the handler, then restarts the call or fails it
// with EINTR as the handler's SA_RESTART says; or stops the thread (SIGSTOP, Ctrl-Z) and restarts
// the call after SIGCONT. A restarted call stops in the filter again and is decided again.
// It reads the supervisor's shared words (src/shared/worker-data.ts: slots, job table) and
// nothing else of tsyd: no isolate, a few KiB of stack, and it is joined by the monitor.
#include "common.h"
#include "native-thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace tsyd {

static constexpr size_t kInterrupterStack = 128 * 1024;
static constexpr unsigned char kHandshake = 42;
// What the thread did, kept for the monitor to log (drained every monitor cycle and at exit);
// past kMaxEvents undrained ones the next are only counted.
static constexpr size_t kMaxEvents = 256;

enum class Cut { kNone, kInvalid, kGone, kRestart };
enum EventKind { kFreedReceiver = 0, kInterruptedEmulator = 1, kInterruptedJob = 2 };

struct Event {
  int32_t kind;    // EventKind
  int32_t index;   // slot or job entry
  int32_t thread;  // the thread sent SIGALRM
  int32_t pid;     // the program's thread whose call it was (0 for a receiver)
  Cut why;
};

struct Interrupter {
  // The shared words, as the monitor's Int32Array over the whole buffer (held while the thread runs).
  int32_t* words = nullptr;
  Napi::ObjectReference words_ref;
  int should_exit_word = 0;
  int tid_word = 0;
  int32_t* slots = nullptr;  // max_emulators slots of kSlotWords
  size_t max_emulators = 0;
  int32_t* jobs = nullptr;   // max_jobs entries of kJobWords
  size_t max_jobs = 0;
  int notify_fd = -1;
  int handshake_fd = -1;  // the thread's: closed once the handshake is written (or failed)
  std::vector<sock_filter> filter;  // empty: unconfined (TSYD_SKIP_SCMP)
  int cycle_ms = 10;
  int32_t busy_state = 0;
  pthread_t thread{};
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  std::atomic<int> confine_errno{0};
  std::mutex events_m;
  std::vector<Event> events;
  uint32_t events_dropped = 0;
  // A request is interrupted only when it was seen blocking in two scans in a row (same seq):
  // one that completes within a cycle is never hit by a SIGALRM meant for an older one.
  std::vector<int32_t> seen_blocking;
  // An emulator inside NOTIF_RECV for a whole cycle (same odd generation in two scans) lost the
  // race for a notification another emulator took, and would wait for the next one.
  std::vector<int32_t> seen_in_recv;
  std::vector<int32_t> seen_job;
};

static int32_t Load(const int32_t* w) { return __atomic_load_n(w, __ATOMIC_SEQ_CST); }

// Sends the event's thread SIGALRM and records it for the monitor's log.
static void Alarm(Interrupter& in, Event e) {
  syscall(SYS_tgkill, getpid(), e.thread, SIGALRM);
  std::lock_guard<std::mutex> lock(in.events_m);
  if (in.events.size() < kMaxEvents) in.events.push_back(e);
  else in.events_dropped++;
}

// The state letter of thread `tid` (/proc/TID/stat: R, S, D, T...), 0 once it is gone.
static char TaskState(pid_t tid) {
  char path[40];
  snprintf(path, sizeof path, "/proc/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n;
  do {
    n = read(fd, buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n <= 0) return 0;
  // The name may hold ')': the state follows the last one (the fields before it are numbers).
  const char* close_paren = static_cast<const char*>(memrchr(buf, ')', static_cast<size_t>(n)));
  if (!close_paren || close_paren + 2 >= buf + n) return 0;
  return close_paren[2];
}


// True at the second scan in a row that sees the same request (seq) blocking; else remembers it.
static bool SeenTwice(int32_t& seen, int32_t seq) {
  if (seen == seq) return true;
  seen = seq;
  return false;
}

// The program's thread waits for tsyd's answer interruptibly (S) until something wakes it, then
// killably (D: WAIT_KILLABLE_RECV). Only a signal wakes it while its request waits (the other
// wake-ups are answers, and tsyd adds no fd without answering): a signal sent to it, or a group
// stop begun by another thread, as natively the same signal would wake its interruptible wait.
// SAFETY (fidelity): the answer -ERESTARTSYS (RestartAnswer in offload.cc) reaches the program as
// errno 512 unless the thread's signal-pending flag is set when the answer wakes it: the kernel
// set it before it woke the thread, and nothing but the thread clears it.
static Cut ShouldInterrupt(const Interrupter& in, pid_t target, uint32_t id_lo, uint32_t id_hi) {
  if (!NotifIdValid(in.notify_fd, (static_cast<uint64_t>(id_hi) << 32) | id_lo)) return Cut::kInvalid;
  const char state = TaskState(target);
  if (state == 0) return Cut::kGone;
  return state == 'D' ? Cut::kRestart : Cut::kNone;  // woken by a signal
}

// Frees an emulator stuck in NOTIF_RECV (see notify.cc Recv).
static void FreeStuckReceiver(Interrupter& in, size_t i, const int32_t* s) {
  const int32_t gen = Load(&s[kSlotRecvGen]);
  if ((gen & 1) == 0) {
    in.seen_in_recv[i] = -1;
    return;
  }
  if (in.seen_in_recv[i] != gen) {
    in.seen_in_recv[i] = gen;
    return;
  }
  const int32_t emu = Load(&s[kSlotTid]);
  if (emu > 0 && Load(&s[kSlotRecvGen]) == gen) {
    Alarm(in, Event{kFreedReceiver, static_cast<int32_t>(i), emu, 0, Cut::kNone});
  }
}

static void ScanSlots(Interrupter& in) {
  for (size_t i = 0; i < in.max_emulators; i++) {
    int32_t* s = in.slots + i * kSlotWords;
    FreeStuckReceiver(in, i, s);
    const int32_t seq = Load(&s[kSlotSeq]);
    if (Load(&s[kSlotState]) != in.busy_state || Load(&s[kSlotBlocking]) != 1) {
      in.seen_blocking[i] = -1;
      continue;
    }
    if (!SeenTwice(in.seen_blocking[i], seq)) continue;
    const Cut cut = ShouldInterrupt(in, Load(&s[kReqPid]), static_cast<uint32_t>(Load(&s[kReqIdLo])),
                                    static_cast<uint32_t>(Load(&s[kReqIdHi])));
    if (cut == Cut::kRestart) __atomic_store_n(&s[kSlotRestart], seq, __ATOMIC_SEQ_CST);
    // Still the same request, still blocking: interrupt (the window left is a few µs).
    if (cut != Cut::kNone && Load(&s[kSlotSeq]) == seq && Load(&s[kSlotBlocking]) == 1) {
      const int32_t emu = Load(&s[kSlotTid]);
      if (emu > 0) Alarm(in, Event{kInterruptedEmulator, static_cast<int32_t>(i), emu, Load(&s[kReqPid]), cut});
    }
  }
}

// Job threads (offload.cc) blocked in a call for the program: as emulators above.
static void ScanJobs(Interrupter& in) {
  for (size_t i = 0; i < in.max_jobs; i++) {
    int32_t* e = in.jobs + i * kJobWords;
    if (Load(&e[kJobState]) != kJobBlocking) {
      in.seen_job[i] = -1;
      continue;
    }
    const int32_t seq = Load(&e[kJobSeq]);
    if (!SeenTwice(in.seen_job[i], seq)) continue;
    const Cut cut = ShouldInterrupt(in, Load(&e[kJobCaller]), static_cast<uint32_t>(Load(&e[kJobIdLo])),
                                    static_cast<uint32_t>(Load(&e[kJobIdHi])));
    if (cut == Cut::kRestart) __atomic_store_n(&e[kJobRestart], seq, __ATOMIC_SEQ_CST);
    const int32_t tid = Load(&e[kJobTid]);
    if (cut != Cut::kNone && tid > 0 && Load(&e[kJobSeq]) == seq && Load(&e[kJobState]) == kJobBlocking) {
      Alarm(in, Event{kInterruptedJob, static_cast<int32_t>(i), tid, Load(&e[kJobCaller]), cut});
    }
  }
}

// Writes the handshake byte and closes the fd. False when the monitor is gone (EPIPE: SIGPIPE
// is blocked here) or the fd is bad.
static bool Handshake(int fd) {
  ssize_t n;
  do {
    n = write(fd, &kHandshake, 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  return n == 1;
}

static void* InterrupterThread(void* arg) {
  Interrupter& in = *static_cast<Interrupter*>(arg);
  prctl(PR_SET_NAME, "tsyd_int", 0, 0, 0);
  __atomic_store_n(&in.words[in.tid_word], static_cast<int32_t>(syscall(SYS_gettid)), __ATOMIC_SEQ_CST);
  // SAFETY: confined before the handshake: the monitor goes on (101 otherwise) only once this
  // thread holds its filter. A failed load closes the pipe without the byte.
  if (!in.filter.empty()) {
    const int err = ConfineThisThread(in.filter);
    if (err != 0) {
      in.confine_errno = err;
      close(in.handshake_fd);
      return nullptr;
    }
  }
  if (!Handshake(in.handshake_fd)) return nullptr;
  std::unique_lock<std::mutex> lock(in.m);
  while (!in.stop && Load(&in.words[in.should_exit_word]) == 0) {
    lock.unlock();
    ScanSlots(in);
    ScanJobs(in);
    lock.lock();
    in.cv.wait_for(lock, std::chrono::milliseconds(in.cycle_ms), [&] { return in.stop; });
  }
  return nullptr;
}

// Stops (and joins) this env's interrupter; null when there is none. The counts go to `out`.
static Interrupter* Join(ThreadState* st) {
  Interrupter* in = st->interrupter;
  if (!in) return nullptr;
  st->interrupter = nullptr;
  {
    std::lock_guard<std::mutex> lock(in->m);
    in->stop = true;
  }
  in->cv.notify_all();
  pthread_join(in->thread, nullptr);
  return in;
}

void StopInterrupter(ThreadState* st) { delete Join(st); }

static int32_t IntOf(Napi::Object o, const char* key) { return o.Get(key).As<Napi::Number>().Int32Value(); }

// startInterrupter({ words, shouldExitWord, tidWord, slotsAt, maxEmulators, jobsAt, maxJobs,
// notifyFd, handshakeFd, filter?, cycleMs, busyState }): creates tsyd_int (one per env). words:
// an Int32Array over the whole shared buffer; *At, *Word: word indexes in it. The thread owns
// handshakeFd once this returns (it writes 42 once confined, then closes it); after a throw the
// caller still does.
static Napi::Value StartInterrupter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Int32Array words = o.Get("words").As<Napi::Int32Array>();
  const size_t count = words.ElementLength();
  const size_t slots_at = static_cast<size_t>(IntOf(o, "slotsAt")), jobs_at = static_cast<size_t>(IntOf(o, "jobsAt"));
  const size_t max_emulators = static_cast<size_t>(IntOf(o, "maxEmulators")), max_jobs = static_cast<size_t>(IntOf(o, "maxJobs"));
  const size_t exit_word = static_cast<size_t>(IntOf(o, "shouldExitWord")), tid_word = static_cast<size_t>(IntOf(o, "tidWord"));
  if (st->interrupter || slots_at + max_emulators * kSlotWords > count || jobs_at + max_jobs * kJobWords > count ||
      exit_word >= count || tid_word >= count) {
    Napi::RangeError::New(env, "startInterrupter: bad layout, or one runs already").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Interrupter* in = new Interrupter();
  in->words = words.Data();
  in->should_exit_word = static_cast<int>(exit_word);
  in->tid_word = static_cast<int>(tid_word);
  in->slots = in->words + slots_at;
  in->max_emulators = max_emulators;
  in->jobs = in->words + jobs_at;
  in->max_jobs = max_jobs;
  in->notify_fd = IntOf(o, "notifyFd");
  in->handshake_fd = IntOf(o, "handshakeFd");
  in->cycle_ms = IntOf(o, "cycleMs");
  in->busy_state = IntOf(o, "busyState");
  if (!FilterFromJs(o.Get("filter"), in->filter)) {
    delete in;
    Napi::TypeError::New(env, "startInterrupter: filter is not a BPF program").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  in->seen_blocking.assign(max_emulators, -1);
  in->seen_in_recv.assign(max_emulators, -1);
  in->seen_job.assign(max_jobs, -1);
  in->words_ref = Napi::Persistent(words.As<Napi::Object>());
  const int rc = CreateSignalFreeThread(&in->thread, kInterrupterStack, InterrupterThread, in);
  if (rc != 0) {
    delete in;
    return ThrowErrno(env, "pthread_create", rc);
  }
  st->interrupter = in;
  return env.Undefined();
}

static const char* WhyOf(Cut why) {
  switch (why) {
    case Cut::kInvalid: return "request no longer valid";
    case Cut::kGone: return "thread gone";
    case Cut::kRestart: return "woken by a signal";
    default: return "";
  }
}

// The events recorded since the last drain: { events: [{ op, index, thread, pid, why }],
// dropped, confineErrno }.
static Napi::Object Drain(Napi::Env env, Interrupter* in) {
  static const char* const kOps[] = {"free_stuck_receiver", "interrupt_emulator", "interrupt_job"};
  std::vector<Event> events;
  uint32_t dropped;
  {
    std::lock_guard<std::mutex> lock(in->events_m);
    events.swap(in->events);
    dropped = in->events_dropped;
    in->events_dropped = 0;
  }
  Napi::Array list = Napi::Array::New(env, events.size());
  for (size_t k = 0; k < events.size(); k++) {
    const Event& e = events[k];
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", kOps[e.kind]);
    o.Set("index", e.index);
    o.Set("thread", e.thread);
    o.Set("pid", e.pid);
    o.Set("why", WhyOf(e.why));
    list.Set(static_cast<uint32_t>(k), o);
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("events", list);
  r.Set("dropped", dropped);
  r.Set("confineErrno", in->confine_errno.load());
  return r;
}

// interrupterEvents() → what the thread did since the last call (see Drain), for the monitor's
// log; undefined when none runs.
static Napi::Value InterrupterEvents(const Napi::CallbackInfo& info) {
  Interrupter* in = State(info.Env())->interrupter;
  return in ? Napi::Value(Drain(info.Env(), in)) : info.Env().Undefined();
}

// stopInterrupter() → as interrupterEvents(), the last ones, or undefined when none runs: ends
// the thread and joins it.
static Napi::Value StopInterrupterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Interrupter* in = Join(State(env));
  if (!in) return env.Undefined();
  Napi::Object r = Drain(env, in);
  delete in;
  return r;
}

void InitInterrupter(Napi::Env env, Napi::Object exports) {
  exports.Set("startInterrupter", Napi::Function::New(env, StartInterrupter, "startInterrupter"));
  exports.Set("stopInterrupter", Napi::Function::New(env, StopInterrupterJs, "stopInterrupter"));
  exports.Set("interrupterEvents", Napi::Function::New(env, InterrupterEvents, "interrupterEvents"));
}

}  // namespace tsyd
