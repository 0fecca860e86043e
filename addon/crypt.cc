// The crypt file format (docs/crypt-format.md): AES-256-CTR for the data, HMAC-SHA256 for the
// tag, both keys derived from the sandbox's key by HKDF-SHA256.
//
// The cipher is OpenSSL's (libcrypto as linked into Node: AES-NI and SHA extensions), not the
// kernel's AF_ALG: this machine kind's kernel has no AF_ALG (CONFIG_CRYPTO_USER_API_* unset:
// socket(AF_ALG) fails EAFNOSUPPORT) and its in-kernel AES is the table-free generic one.
// SAFETY: so the derived keys live in tsyd's memory, but only here: in one page per key that is
// locked (never swapped), left out of core dumps and wiped on fork (madvise), wiped and unmapped
// when the key is dropped. The 32-byte key itself is wiped by cryptKeyLoad; JS never sees the
// derived keys; cipher contexts are freed (OpenSSL cleanses them) at the end of each operation.
//
// SAFETY: the key table is process-wide (one mutable static, behind a mutex) because a sandbox's
// key must be usable from the AES worker and every emulator thread; it holds no fd, so the handle
// works in every fd table.
#include "common.h"
#include "crypt.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <vector>

namespace tsyd {

namespace {

constexpr char kMagic[8] = {'T', 'S', 'Y', 'D', 'C', 'R', 'P', 'T'};
constexpr uint8_t kVersion = 1;
constexpr size_t kHeaderLen = 16;  // magic, version, 7 reserved bytes (zero)
constexpr size_t kIvLen = 16;
constexpr size_t kPrefixLen = kHeaderLen + kIvLen;
constexpr size_t kTagLen = 32;
constexpr size_t kKeyLen = 32;
// Bytes read, ciphered and written at a time (a multiple of the AES block).
constexpr size_t kChunk = 256 * 1024;
// HKDF-SHA256 (RFC 5869) of the key: the salt and the info strings of the two derived keys.
constexpr char kHkdfSalt[] = "tsyd crypt v1";
constexpr char kInfoEnc[] = "tsyd crypt v1 aes-256-ctr";
constexpr char kInfoMac[] = "tsyd crypt v1 hmac-sha256";

// The derived keys, alone in a page of their own.
struct DerivedKeys {
  uint8_t enc[kKeyLen];
  uint8_t mac[kKeyLen];
};

struct KeySlot {
  DerivedKeys* keys = nullptr;
  int users = 0;  // operations in progress (the last one unmaps after a drop)
  bool dropped = false;
};

std::mutex keys_m;
std::vector<KeySlot> keys;  // index = handle; never reused

void Wipe(void* p, size_t n) { explicit_bzero(p, n); }

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

void FreeKeys(KeySlot& k) {
  if (!k.keys) return;
  Wipe(k.keys, sizeof *k.keys);
  munmap(k.keys, PageSize());
  k.keys = nullptr;
}

// A locked page, out of core dumps, zeroed in a forked child: null (errno set) on failure.
DerivedKeys* KeyPage() {
  void* p = mmap(nullptr, PageSize(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if (mlock(p, PageSize()) < 0 || madvise(p, PageSize(), MADV_DONTDUMP) < 0 || madvise(p, PageSize(), MADV_WIPEONFORK) < 0) {
    const int err = errno;
    munmap(p, PageSize());
    errno = err;
    return nullptr;
  }
  return static_cast<DerivedKeys*>(p);
}

// A streaming HMAC-SHA256 (EVP_MAC), freed (and cleansed by OpenSSL) with the object.
class Hmac {
 public:
  Hmac(const uint8_t* key, size_t key_len) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac) ctx_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
    ok_ = ctx_ && EVP_MAC_init(ctx_, key, key_len, params) == 1;
  }
  ~Hmac() { EVP_MAC_CTX_free(ctx_); }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;
  bool ok() const { return ok_; }
  void Update(const void* p, size_t n) { ok_ = ok_ && EVP_MAC_update(ctx_, static_cast<const uint8_t*>(p), n) == 1; }
  bool Final(uint8_t out[32]) {
    size_t len = 0;
    ok_ = ok_ && EVP_MAC_final(ctx_, out, &len, 32) == 1 && len == 32;
    return ok_;
  }

 private:
  EVP_MAC_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

// HMAC-SHA256(key, a || b) into out: 0 or -EIO.
int HmacOnce(const uint8_t* key, size_t key_len, const void* a, size_t a_len, const void* b, size_t b_len, uint8_t out[32]) {
  Hmac h(key, key_len);
  h.Update(a, a_len);
  h.Update(b, b_len);
  return h.Final(out) ? 0 : -EIO;
}

// HKDF-SHA256 of `key` into `out` (extract, then expand one block per info string): 0 or -EIO.
int DeriveKeys(const uint8_t* key, DerivedKeys* out) {
  uint8_t prk[32];
  const uint8_t one = 1;
  int rc = HmacOnce(reinterpret_cast<const uint8_t*>(kHkdfSalt), strlen(kHkdfSalt), key, kKeyLen, nullptr, 0, prk);
  if (rc == 0) rc = HmacOnce(prk, sizeof prk, kInfoEnc, strlen(kInfoEnc), &one, 1, out->enc);
  if (rc == 0) rc = HmacOnce(prk, sizeof prk, kInfoMac, strlen(kInfoMac), &one, 1, out->mac);
  Wipe(prk, sizeof prk);
  return rc;
}

// One operation's hold on a key: its cipher context and HMAC, keyed from the key page.
class KeyUse {
 public:
  explicit KeyUse(int handle) : handle_(handle) {
    std::lock_guard<std::mutex> lock(keys_m);
    if (handle < 0 || static_cast<size_t>(handle) >= keys.size() || keys[handle].dropped) {
      err_ = -EBADF;
      return;
    }
    keys[handle].users++;
    held_ = true;
    const DerivedKeys* k = keys[handle].keys;
    mac.reset(new Hmac(k->mac, sizeof k->mac));
    enc_key_ = k->enc;
  }
  ~KeyUse() {
    EVP_CIPHER_CTX_free(ctr_);
    if (!held_) return;
    std::lock_guard<std::mutex> lock(keys_m);
    KeySlot& k = keys[handle_];
    if (--k.users == 0 && k.dropped) FreeKeys(k);
  }
  KeyUse(const KeyUse&) = delete;
  KeyUse& operator=(const KeyUse&) = delete;
  int error() const { return err_ != 0 ? err_ : mac->ok() ? 0 : -EIO; }
  // Starts AES-256-CTR at counter block `iv`: 0 or -EIO.
  int StartCtr(const uint8_t iv[16]) {
    ctr_ = EVP_CIPHER_CTX_new();
    return ctr_ && EVP_EncryptInit_ex(ctr_, EVP_aes_256_ctr(), nullptr, enc_key_, iv) == 1 ? 0 : -EIO;
  }
  // The next `len` bytes of the stream: in → out (CTR: the same both ways). 0 or -EIO.
  int Ctr(const uint8_t* in, uint8_t* out, size_t len) {
    int n = 0;
    return EVP_EncryptUpdate(ctr_, out, &n, in, static_cast<int>(len)) == 1 && static_cast<size_t>(n) == len ? 0 : -EIO;
  }
  std::unique_ptr<Hmac> mac;

 private:
  int handle_;
  bool held_ = false;
  int err_ = 0;
  const uint8_t* enc_key_ = nullptr;  // in the key page, valid while held_
  EVP_CIPHER_CTX* ctr_ = nullptr;
};

// pread of up to `len` bytes at `off` (short only at end of file): the count or -errno.
ssize_t PreadFull(int fd, uint8_t* p, size_t len, off_t off) {
  size_t got = 0;
  while (got < len) {
    const ssize_t n = pread(fd, p + got, len - got, off + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(got);
}

int PwriteAll(int fd, const uint8_t* p, size_t len, off_t off) {
  while (len > 0) {
    const ssize_t n = pwrite(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? -errno : -EIO;
    p += n;
    len -= static_cast<size_t>(n);
    off += n;
  }
  return 0;
}

// Constant-time comparison (no early exit on the first differing byte).
bool SameTag(const uint8_t* a, const uint8_t* b) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < kTagLen; i++) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

struct Buffers {
  std::unique_ptr<uint8_t[]> in{new (std::nothrow) uint8_t[kChunk]};
  std::unique_ptr<uint8_t[]> out{new (std::nothrow) uint8_t[kChunk]};
  bool ok() const { return in && out; }
  // Plaintext passes through both: nothing of it stays in freed memory.
  ~Buffers() {
    if (in) Wipe(in.get(), kChunk);
    if (out) Wipe(out.get(), kChunk);
  }
};

int RandomIv(uint8_t* iv) {
  size_t got = 0;
  while (got < kIvLen) {
    const ssize_t n = getrandom(iv + got, kIvLen - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    got += static_cast<size_t>(n);
  }
  return 0;
}

}  // namespace

int64_t CryptEncryptFile(int handle, int src, int dst) {
  KeyUse key(handle);
  if (key.error() != 0) return key.error();
  Buffers buf;
  if (!buf.ok()) return -ENOMEM;
  uint8_t prefix[kPrefixLen] = {};
  memcpy(prefix, kMagic, sizeof kMagic);
  prefix[sizeof kMagic] = kVersion;
  int rc = RandomIv(prefix + kHeaderLen);
  if (rc == 0) rc = key.StartCtr(prefix + kHeaderLen);
  key.mac->Update(prefix, sizeof prefix);
  if (rc == 0) rc = PwriteAll(dst, prefix, sizeof prefix, 0);
  off_t off = 0;
  while (rc == 0) {
    const ssize_t n = PreadFull(src, buf.in.get(), kChunk, off);
    if (n <= 0) {
      rc = static_cast<int>(n);
      break;
    }
    const size_t len = static_cast<size_t>(n);
    rc = key.Ctr(buf.in.get(), buf.out.get(), len);
    key.mac->Update(buf.out.get(), len);
    if (rc == 0) rc = PwriteAll(dst, buf.out.get(), len, static_cast<off_t>(kPrefixLen) + off);
    off += n;
  }
  uint8_t tag[kTagLen];
  if (rc == 0 && !key.mac->Final(tag)) rc = -EIO;
  const off_t end = static_cast<off_t>(kPrefixLen) + off;
  if (rc == 0) rc = PwriteAll(dst, tag, sizeof tag, end);
  if (rc == 0 && ftruncate(dst, end + static_cast<off_t>(kTagLen)) < 0) rc = -errno;
  return rc < 0 ? rc : end + static_cast<off_t>(kTagLen);
}

// SAFETY: the plaintext is written to `dst` before the tag is checked (a 256 MiB file is never
// held in memory). `dst` is a memfd or an unlinked O_TMPFILE that the caller never links and
// discards when this fails; on a bad tag it is truncated to 0 here as well.
int64_t CryptDecryptFile(int handle, int src, int dst) {
  struct stat st;
  if (fstat(src, &st) < 0) return -errno;
  // SAFETY: a 0-byte file does not verify (truncated: never released as empty content); a file
  // a sandbox has just created is handled by crypt-files.cc before it gets here.
  if (static_cast<size_t>(st.st_size) < kPrefixLen + kTagLen) return -EBADMSG;
  const off_t plain_len = st.st_size - static_cast<off_t>(kPrefixLen + kTagLen);
  KeyUse key(handle);
  if (key.error() != 0) return key.error();
  Buffers buf;
  if (!buf.ok()) return -ENOMEM;
  uint8_t prefix[kPrefixLen];
  ssize_t n = PreadFull(src, prefix, sizeof prefix, 0);
  if (n < 0) return n;
  if (static_cast<size_t>(n) != sizeof prefix || memcmp(prefix, kMagic, sizeof kMagic) != 0 || prefix[sizeof kMagic] != kVersion) return -EBADMSG;
  for (size_t i = sizeof kMagic + 1; i < kHeaderLen; i++) {
    if (prefix[i] != 0) return -EBADMSG;
  }
  key.mac->Update(prefix, sizeof prefix);
  int rc = key.StartCtr(prefix + kHeaderLen);
  if (rc == 0 && ftruncate(dst, plain_len) < 0) rc = -errno;
  for (off_t off = 0; rc == 0 && off < plain_len;) {
    const size_t want = static_cast<size_t>(std::min<off_t>(kChunk, plain_len - off));
    n = PreadFull(src, buf.in.get(), want, static_cast<off_t>(kPrefixLen) + off);
    if (n < 0) rc = static_cast<int>(n);
    else if (static_cast<size_t>(n) != want) rc = -EBADMSG;  // shrank while read
    key.mac->Update(buf.in.get(), want);
    if (rc == 0) rc = key.Ctr(buf.in.get(), buf.out.get(), want);
    if (rc == 0) rc = PwriteAll(dst, buf.out.get(), want, off);
    off += static_cast<off_t>(want);
  }
  uint8_t want_tag[kTagLen], have_tag[kTagLen];
  if (rc == 0 && !key.mac->Final(want_tag)) rc = -EIO;
  if (rc == 0) {
    n = PreadFull(src, have_tag, sizeof have_tag, static_cast<off_t>(kPrefixLen) + plain_len);
    if (n < 0) rc = static_cast<int>(n);
    else if (static_cast<size_t>(n) != sizeof have_tag || !SameTag(want_tag, have_tag)) rc = -EBADMSG;
  }
  if (rc < 0) {
    if (ftruncate(dst, 0) < 0) { /* the caller discards dst anyway */ }
    return rc;
  }
  return plain_len;
}

namespace {

int32_t IntArg(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

// cryptKeyLoad(key: Buffer of 32 bytes) → handle ≥ 0, or -errno. Wipes `key` in every case.
Napi::Value KeyLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) {
    Napi::TypeError::New(env, "cryptKeyLoad: key must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
  KeySlot slot;
  int rc = key.Length() == kKeyLen ? 0 : -EINVAL;
  if (rc == 0) {
    slot.keys = KeyPage();
    rc = slot.keys ? DeriveKeys(key.Data(), slot.keys) : -errno;
  }
  Wipe(key.Data(), key.Length());
  if (rc < 0) {
    FreeKeys(slot);
    return Napi::Number::New(env, rc);
  }
  std::lock_guard<std::mutex> lock(keys_m);
  keys.push_back(slot);
  return Napi::Number::New(env, static_cast<double>(keys.size() - 1));
}

// cryptKeyDrop(handle) → 0 or -EBADF: its keys are wiped once no operation uses them.
Napi::Value KeyDrop(const Napi::CallbackInfo& info) {
  const int handle = IntArg(info, 0);
  std::lock_guard<std::mutex> lock(keys_m);
  if (handle < 0 || static_cast<size_t>(handle) >= keys.size() || keys[handle].dropped) return Napi::Number::New(info.Env(), -EBADF);
  keys[handle].dropped = true;
  if (keys[handle].users == 0) FreeKeys(keys[handle]);
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value Decrypt(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CryptDecryptFile(IntArg(info, 0), IntArg(info, 1), IntArg(info, 2))));
}

Napi::Value Encrypt(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CryptEncryptFile(IntArg(info, 0), IntArg(info, 1), IntArg(info, 2))));
}

}  // namespace

void InitCrypt(Napi::Env env, Napi::Object exports) {
  exports.Set("cryptKeyLoad", Napi::Function::New(env, KeyLoad, "cryptKeyLoad"));
  exports.Set("cryptKeyDrop", Napi::Function::New(env, KeyDrop, "cryptKeyDrop"));
  exports.Set("cryptDecrypt", Napi::Function::New(env, Decrypt, "cryptDecrypt"));
  exports.Set("cryptEncrypt", Napi::Function::New(env, Encrypt, "cryptEncrypt"));
}

}  // namespace tsyd
