// What the addon's own native threads (tsyd_int, tsyd_aes) share: created with every signal
// blocked, confined by a filter of their own (native-thread.cc).
#pragma once

#include <napi.h>
#include <pthread.h>
#include <linux/filter.h>

#include <vector>

namespace tsyd {

// no_new_privs + the calling thread's own filter (no TSYNC): 0 or errno.
int ConfineThisThread(const std::vector<sock_filter>& filter);

// pthread_create with a `stack`-byte stack and every signal blocked from its first instruction:
// 0 or the error number.
int CreateSignalFreeThread(pthread_t* thread, size_t stack, void* (*fn)(void*), void* arg);

// `v`, a Uint8Array of BPF instructions, into `out`: false (nothing set) when it is not one.
// Anything else (undefined): true, `out` left empty (unconfined: TSYD_SKIP_SCMP).
bool FilterFromJs(Napi::Value v, std::vector<sock_filter>& out);

}  // namespace tsyd
