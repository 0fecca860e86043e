// The one identity a crypt file shows the program (Crypt sandboxing, addon/crypt-files.cc):
// whichever plaintext buffer (the readers' snapshot, the writers' buffer) or on-disk inode is
// behind it, stat by name and fstat of any open of it show the same device and inode, the
// file's mode and owner, for the life of the sandbox.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

namespace tsyd {

struct CryptIdentity {
  dev_t dev;
  ino_t ino;
  mode_t mode;  // permission bits only
  uid_t uid;
  gid_t gid;
};

// The identity of the crypt file whose plaintext buffer is (buf_dev, buf_ino): true, `*out`
// set; false when that is no crypt buffer. `disk_now` (the file's stat by name, or null): its
// mode and owner are the file's from now on (a chmod or chown by name).
bool CryptIdentityOf(dev_t buf_dev, ino_t buf_ino, const struct stat* disk_now, CryptIdentity* out);

// Is (dev, ino) a snapshot of a crypt file (one of its plaintext buffers, not its writers' one)?
bool IsCryptSnapshot(dev_t dev, ino_t ino);

}  // namespace tsyd
