// Seccomp user notification: receive (never blocks forever), answer, validity.
#include "common.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace tsyd {

bool NotifIdValid(int notify_fd, uint64_t id) {
  return ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

ThreadState* CurrentRequest(Napi::Env env, const char* op) {
  ThreadState* st = State(env);
  if (!st->have_req || !st->slots) {
    Napi::Error::New(env, std::string("tsyd: ") + op + "() with no current request (already answered, or handed to a job thread)")
        .ThrowAsJavaScriptException();
    return nullptr;
  }
  const uint64_t named = (static_cast<uint64_t>(static_cast<uint32_t>(st->slots[kReqIdHi])) << 32) |
                         static_cast<uint32_t>(st->slots[kReqIdLo]);
  if (named == st->req->id) return st;
  // SAFETY: fail closed: the request this thread holds is answered EACCES, never acted on for
  // another one.
  Respond(st, 1, EACCES);
  Napi::Error::New(env, std::string("tsyd: ") + op + "() on a request that is not this thread's current one (answered EACCES)")
      .ThrowAsJavaScriptException();
  return nullptr;
}

// bindBuffers(slot: Int32Array(kSlotWords), path: Uint8Array(kPathBufSize))
// Called once per emulator thread: the request and the canonical path are written into
// these JS-owned buffers so that the hot path creates no JS objects.
static Napi::Value BindBuffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) {
    Napi::TypeError::New(env, "bindBuffers(Int32Array, Uint8Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Int32Array slots = info[0].As<Napi::Int32Array>();
  Napi::Uint8Array path = info[1].As<Napi::Uint8Array>();
  if (slots.ElementLength() < kSlotWords || path.ByteLength() < kPathBufSize) {
    Napi::RangeError::New(env, "bindBuffers: buffers too small").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!st->req) {
    seccomp_notif_sizes sizes;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return ThrowErrno(env, "seccomp", errno);
    st->req_size = sizes.seccomp_notif > sizeof(seccomp_notif) ? sizes.seccomp_notif : sizeof(seccomp_notif);
    st->resp_size =
        sizes.seccomp_notif_resp > sizeof(seccomp_notif_resp) ? sizes.seccomp_notif_resp : sizeof(seccomp_notif_resp);
    st->req = static_cast<seccomp_notif*>(calloc(1, st->req_size));
    st->resp = static_cast<seccomp_notif_resp*>(calloc(1, st->resp_size));
  }
  st->slots = slots.Data();
  st->path = path.Data();
  st->slots_ref = Napi::Persistent(info[0].As<Napi::Object>());
  st->path_ref = Napi::Persistent(info[1].As<Napi::Object>());
  // Optional: the pool's control words (Int32Array); word 0 is the packed curr|busy count.
  if (info.Length() > 2 && info[2].IsTypedArray()) {
    st->counts = info[2].As<Napi::Int32Array>().Data();
    st->counts_ref = Napi::Persistent(info[2].As<Napi::Object>());
  }
  return env.Undefined();
}

enum RecvResult { kRecvNone = 0, kRecvGot = 1, kRecvWoken = 2, kRecvHangup = 3, kRecvGotExhausted = 4 };

void EndBusy(ThreadState* st) {
  if (st->busy_pending && st->counts) {
    __atomic_store_n(&st->slots[kSlotCounted], 0, __ATOMIC_SEQ_CST);
    __atomic_sub_fetch(st->counts, 1, __ATOMIC_SEQ_CST);
  }
  st->busy_pending = false;
}

// recv(notifyFd, wakeFd, timeoutMs) → 1 got a request (in the slots), 0 nothing (timeout,
// raced by another emulator, EINTR), 2 the wake fd is readable, 3 the notify fd hung up
// (no task uses the filter any more), or -errno. Returns plain numbers only: it may be
// the call a terminating worker is blocked in.
static Napi::Value Recv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThreadState* st = State(env);
  int nfd = info[0].As<Napi::Number>().Int32Value();
  int wfd = info[1].As<Napi::Number>().Int32Value();
  int timeout = info[2].As<Napi::Number>().Int32Value();
  if (!st->req) return Napi::Number::New(env, -EINVAL);
  pollfd p[2] = {{nfd, POLLIN, 0}, {wfd, POLLIN, 0}};
  int n = poll(p, wfd >= 0 ? 2 : 1, timeout);
  if (n < 0) return Napi::Number::New(env, errno == EINTR ? kRecvNone : -errno);
  if (n == 0) {
    // At rest (a whole poll timeout without a request): tsyd keeps no pidfd of the program.
    DropCaches(st);
    return Napi::Number::New(env, kRecvNone);
  }
  if (wfd >= 0 && (p[1].revents & POLLIN)) return Napi::Number::New(env, kRecvWoken);
  if (!(p[0].revents & POLLIN)) {
    if (p[0].revents & (POLLHUP | POLLERR)) return Napi::Number::New(env, kRecvHangup);
    if (p[0].revents & POLLNVAL) return Napi::Number::New(env, -EBADF);
    return Napi::Number::New(env, kRecvNone);
  }
  memset(st->req, 0, st->req_size);
  // Every emulator's poll wakes for one notification; the one that loses the race blocks in
  // NOTIF_RECV (it has no non-blocking form) until the next one — for ever if the program is
  // idle: a helper that cannot retire, a pool that cannot stop. The generation word is odd
  // while inside: the interrupter sees one stuck there for a whole cycle and sends SIGALRM
  // (EINTR; the kernel hands a notification out only once, none is lost).
  int32_t* gen = &st->slots[kSlotRecvGen];
  __atomic_add_fetch(gen, 1, __ATOMIC_SEQ_CST);
  int rc = ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, st->req);
  __atomic_add_fetch(gen, 1, __ATOMIC_SEQ_CST);
  if (rc < 0) {
    int e = errno;
    // ENOENT: the caller went away before we got it. EINTR: the interrupter freed us (above).
    if (e == ENOENT || e == EINTR || e == EAGAIN) return Napi::Number::New(env, kRecvNone);
    return Napi::Number::New(env, -e);
  }
  st->notify_fd = nfd;
  st->have_req = true;
  int result = kRecvGot;
  if (st->counts) {
    // busy += 1 in the packed word; every emulator busy → tell JS, which tells the monitor.
    __atomic_store_n(&st->slots[kSlotCounted], 1, __ATOMIC_SEQ_CST);
    int32_t word = __atomic_add_fetch(st->counts, 1, __ATOMIC_SEQ_CST);
    st->busy_pending = true;
    if ((word & 0xffff) >= (static_cast<uint32_t>(word) >> 16)) result = kRecvGotExhausted;
  }
  int32_t* s = st->slots;
  s[kReqPid] = static_cast<int32_t>(st->req->pid);
  s[kReqNr] = st->req->data.nr;
  s[kReqArch] = static_cast<int32_t>(st->req->data.arch);
  s[kReqIdLo] = static_cast<int32_t>(st->req->id & 0xffffffffu);
  s[kReqIdHi] = static_cast<int32_t>(st->req->id >> 32);
  for (int i = 0; i < 6; i++) {
    s[kReqArgs + 2 * i] = static_cast<int32_t>(st->req->data.args[i] & 0xffffffffu);
    s[kReqArgs + 2 * i + 1] = static_cast<int32_t>(st->req->data.args[i] >> 32);
  }
  return Napi::Number::New(env, result);
}

int Respond(ThreadState* st, int kind, int64_t value) {
  if (!st->have_req) return -EINVAL;
  memset(st->resp, 0, st->resp_size);
  st->resp->id = st->req->id;
  if (kind == 0) {
    // SAFETY: CONTINUE only where no decision depends on memory the program can change.
    st->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  } else if (kind == 1) {
    // A call this thread made for the program that a signal cut short.
    if (value == EINTR && st->slots) value = RestartAnswer(&st->slots[kSlotRestart], &st->slots[kSlotSeq]);
    st->resp->error = -static_cast<int32_t>(value);
  } else {
    st->resp->val = value;
  }
  st->have_req = false;
  EndBusy(st);
  // Fidelity: tsyd's copy of the program's fd (takeFd) goes before the answer, not after. The
  // program may close its own fd at once (fstat then close is common): with tsyd's copy still
  // open, a FIFO kept a reader (an O_WRONLY|O_NONBLOCK open succeeded instead of ENXIO), a
  // socket its peer, a lease its holder. Found by the differential harness under load.
  if (st->taken_fd >= 0) {
    close(st->taken_fd);
    st->taken_fd = -1;
    if (st->slots) st->slots[kPathTaken] = 0;
  }
  if (ioctl(st->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, st->resp) < 0) return -errno;
  return 0;
}

// respond(kind, value): 0 CONTINUE, 1 fail with errno `value`, 2 succeed with `value`.
// → 0, or -errno (ENOENT: the caller is gone, nothing to answer).
static Napi::Value RespondJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int kind = info[0].As<Napi::Number>().Int32Value();
  int64_t value = info.Length() > 1 ? info[1].As<Napi::Number>().Int64Value() : 0;
  return Napi::Number::New(env, Respond(State(env), kind, value));
}

// idValid() → whether the current request's caller still waits for the answer.
static Napi::Value IdValid(const Napi::CallbackInfo& info) {
  ThreadState* st = State(info.Env());
  return Napi::Boolean::New(info.Env(), st->have_req && NotifIdValid(st->notify_fd, st->req->id));
}

// setNotifyFlags(notifyFd, flags): SECCOMP_IOCTL_NOTIF_SET_FLAGS (e.g. SYNC_WAKE_UP = 1).
static Napi::Value SetNotifyFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint64_t flags = info[1].As<Napi::Number>().Uint32Value();
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, flags) < 0) return ThrowErrno(env, "ioctl", errno);
  return env.Undefined();
}

static uint64_t IdFrom(const Napi::CallbackInfo& info, size_t i) {
  uint64_t lo = info[i].As<Napi::Number>().Uint32Value();
  uint64_t hi = info[i + 1].As<Napi::Number>().Uint32Value();
  return (hi << 32) | lo;
}

// idValidFor(notifyFd, idLo, idHi): NOTIF_ID_VALID for a request another thread holds
// (the interrupter, the monitor).
static Napi::Value IdValidFor(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  return Napi::Boolean::New(info.Env(), NotifIdValid(fd, IdFrom(info, 1)));
}

// respondFor(notifyFd, idLo, idHi, errno): answers a request another thread received and can
// no longer answer (a dead emulator's in-flight request). → 0 or -errno.
static Napi::Value RespondFor(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = IdFrom(info, 1);
  resp.error = -info[3].As<Napi::Number>().Int32Value();
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) return Napi::Number::New(info.Env(), -errno);
  return Napi::Number::New(info.Env(), 0);
}

// endRequest(): the current request no longer counts as busy (a no-op if its answer did it):
// for paths that end without an answer (the caller went away).
static Napi::Value EndRequest(const Napi::CallbackInfo& info) {
  ThreadState* st = State(info.Env());
  EndBusy(st);
  ReturnHome(st);
  ClearNetState(st);
  st->mmsg_index = -1;
  // The program's fd copied for this request (takeFd) is never kept past it.
  if (st->taken_fd >= 0) {
    close(st->taken_fd);
    st->taken_fd = -1;
  }
  if (st->slots) st->slots[kPathTaken] = 0;
  st->anchor.Reset();
  st->anchor2.Reset();
  DropPendingStat(st);
  return info.Env().Undefined();
}

Napi::Value AnswerResult(Napi::Env env, ThreadState* st, long r) {
  int sent = r < 0 ? Respond(st, 1, -r) : Respond(st, 2, r);
  return Napi::Number::New(env, sent == -ENOENT ? -ESRCH : static_cast<double>(r));
}

// slotLayout: this addon's SlotWord table by the names of src/shared/slot.ts, and `words`,
// which the loader compares with that table (src/native/addon.ts).
static Napi::Object SlotLayout(Napi::Env env) {
  static const struct {
    const char* name;
    int word;
  } kWords[] = {
      {"pid", kReqPid}, {"nr", kReqNr}, {"arch", kReqArch}, {"idLo", kReqIdLo}, {"idHi", kReqIdHi},
      {"args", kReqArgs}, {"howFlagsLo", kHowFlagsLo}, {"howFlagsHi", kHowFlagsHi}, {"howMode", kHowMode},
      {"howResolveLo", kHowResolveLo}, {"howResolveHi", kHowResolveHi}, {"pathMagic", kPathMagic},
      {"pathMissing", kPathMissing}, {"state", kSlotState}, {"tid", kSlotTid}, {"kind", kSlotKind},
      {"recvGen", kSlotRecvGen}, {"blocking", kSlotBlocking}, {"seq", kSlotSeq}, {"counted", kSlotCounted},
      {"restart", kSlotRestart}, {"netFamily", kNetFamily}, {"netPort", kNetPort}, {"netControl", kNetControl},
      {"netNameLen", kNetNameLen}, {"pathFailLen", kPathFailLen}, {"pathFailOut", kPathFailOut},
      {"pathDecideLen", kPathDecideLen}, {"pathLeftLen", kPathLeftLen}, {"netLocalFamily", kNetLocalFamily},
      {"netLocalPort", kNetLocalPort}, {"pathTaken", kPathTaken}, {"pathForeignProc", kPathForeignProc},
      {"netGivenAny", kNetGivenAny}, {"netBatchEnd", kNetBatchEnd}, {"pathSlash", kPathSlash},
      {"visited", kSlotVisited}, {"words", kSlotWords},
  };
  Napi::Object layout = Napi::Object::New(env);
  for (const auto& w : kWords) layout.Set(w.name, Napi::Number::New(env, w.word));
  return layout;
}

void InitNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("slotLayout", SlotLayout(env));
  exports.Set("endRequest", Napi::Function::New(env, EndRequest, "endRequest"));
  exports.Set("idValidFor", Napi::Function::New(env, IdValidFor, "idValidFor"));
  exports.Set("respondFor", Napi::Function::New(env, RespondFor, "respondFor"));
  exports.Set("bindBuffers", Napi::Function::New(env, BindBuffers, "bindBuffers"));
  exports.Set("recv", Napi::Function::New(env, Recv, "recv"));
  exports.Set("respond", Napi::Function::New(env, RespondJs, "respond"));
  exports.Set("idValid", Napi::Function::New(env, IdValid, "idValid"));
  exports.Set("setNotifyFlags", Napi::Function::New(env, SetNotifyFlags, "setNotifyFlags"));
}

}  // namespace tsyd
