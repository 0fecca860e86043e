// acceptPeers(listenFd, max): the IPC worker's accept loop (src/actors/ipc.worker.ts). Takes
// the connections the kernel has queued on tsyd_ipc's listening socket, up to `max`, each with
// its SO_PEERCRED uid, in one call: [fd, uid, fd, uid, ...] (uid -errno when it cannot be read).
// SAFETY: a peer of another uid that connects and closes in a tight loop fills the kernel's
// queue as fast as its CPU allows; one JS socket object per connection (~250 us each) let it
// keep the queue full, and the operator's connect failed with EAGAIN. Here a queued connection
// costs accept4 and getsockopt; the worker closes a peer it will not answer without ever making
// a JS object of it.
#include "common.h"

#include <errno.h>
#include <sys/socket.h>

#include <vector>

namespace tsyd {

static Napi::Value AcceptPeers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "acceptPeers(listenFd: number, max: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const int listen_fd = info[0].As<Napi::Number>().Int32Value();
  const int max = info[1].As<Napi::Number>().Int32Value();
  std::vector<int32_t> out;
  while (static_cast<int>(out.size() / 2) < max) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      // A connection whose peer left before it was taken: the next one.
      if (errno == ECONNABORTED || errno == EINTR) continue;
      // EAGAIN: the queue is empty; EMFILE, ENFILE, ENOMEM: the rest waits for libuv's accept.
      break;
    }
    struct ucred cred;
    socklen_t len = sizeof cred;
    const int32_t uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ? -errno : static_cast<int32_t>(cred.uid);
    out.push_back(fd);
    out.push_back(uid);
  }
  Napi::Int32Array result = Napi::Int32Array::New(env, out.size());
  for (size_t i = 0; i < out.size(); i++) result[i] = out[i];
  return result;
}

void InitIpcAccept(Napi::Env env, Napi::Object exports) {
  exports.Set("acceptPeers", Napi::Function::New(env, AcceptPeers, "acceptPeers"));
}

}  // namespace tsyd
