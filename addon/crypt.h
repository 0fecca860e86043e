// The crypt file format's cipher (crypt.cc), shared by the JS entry points and the AES worker
// (aes.cc). The format: docs/crypt-format.md.
#pragma once

#include <stdint.h>

namespace tsyd {

// Encrypts the whole file `src` (pread from offset 0, its offset untouched) into `dst` as the
// format, with a fresh random IV: the bytes written (header + ciphertext + tag), or -errno.
int64_t CryptEncryptFile(int handle, int src, int dst);

// Decrypts the whole crypt file `src` into `dst` (offset 0, truncated to the plaintext's size):
// the plaintext's size, -EBADMSG (bad magic, version, tag, truncation) or -errno.
int64_t CryptDecryptFile(int handle, int src, int dst);

}  // namespace tsyd
