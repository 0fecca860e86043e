// Module entry: context-aware init (loads in worker threads), per-thread state, errors.
#include "common.h"

#include <unistd.h>

#include <string.h>
#include <errno.h>

namespace tsyd {

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

ThreadState* State(Napi::Env env) { return env.GetInstanceData<ThreadState>(); }

// What this thread holds of the sandbox it served: copies of the program's fds, socket state,
// its job queue (idle job threads leave, busy ones when their call returns), cached pidfds.
static void DropSandboxState(ThreadState* st) {
  // A thread that ended in the middle of a request (terminated, or died) still holds its copy
  // of the program's fd: the fd table is shared with the rest of tsyd, close it.
  if (st->taken_fd >= 0) close(st->taken_fd);
  st->taken_fd = -1;
  ClearNetState(st);
  RetireIdleJobThreads(st, true);
  st->job_queue.reset();
  if (st->pend_fd >= 0) close(st->pend_fd);
  st->pend_fd = -1;
  DropCaches(st);
}

// leaveSandbox(): a warm emulator has served its sandbox and will serve another: nothing of this
// one stays on the thread (the next sandbox's jobs get a queue of their own).
static Napi::Value LeaveSandbox(const Napi::CallbackInfo& info) {
  DropSandboxState(State(info.Env()));
  return info.Env().Undefined();
}

static void FreeState(Napi::Env, ThreadState* st) {
  // No thread of this env outlives it (the monitor joins tsyd_int at exit; this is the backstop).
  StopInterrupter(st);
  DropSandboxState(st);
  free(st->req);
  free(st->resp);
  delete st;
}

void InitCryptFiles(Napi::Env env, Napi::Object exports);  // crypt-files.cc
void InitCryptWriteBackCheck(Napi::Env env, Napi::Object exports);  // crypt-writeback-check.cc

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<ThreadState, FreeState>(new ThreadState());
  exports.Set("leaveSandbox", Napi::Function::New(env, LeaveSandbox, "leaveSandbox"));
  InitFilter(env, exports);
  InitSpawn(env, exports);
  InitNotify(env, exports);
  InitMemory(env, exports);
  InitPath(env, exports);
  InitOpen(env, exports);
  InitProcess(env, exports);
  InitFsops(env, exports);
  InitDirents(env, exports);
  InitControl(env, exports);
  InitPrivilege(env, exports);
  InitActAs(env, exports);
  InitOffload(env, exports);
  InitInterrupter(env, exports);
  InitNet(env, exports);
  InitAlone(env, exports);
  InitUnixBind(env, exports);
  InitIpcAccept(env, exports);
  InitCrypt(env, exports);
  InitCryptFiles(env, exports);
  InitCryptWriteBackCheck(env, exports);
  InitCryptIo(env, exports);
  InitAes(env, exports);
  InitAgent(env, exports);
  return exports;
}

}  // namespace tsyd

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return tsyd::Init(env, exports); }

NODE_API_MODULE(tsyd, InitModule)
