// What a crypt file's write-back needs, and what becomes of one that fails for good (Crypt
// sandboxing, addon/crypt-files.cc, addon/aes.cc). A write-back is not an in-place write: the ciphertext goes to an O_TMPFILE in the file's
// directory, gets the file's owner, group and mode, is linked under a temporary name and renamed
// onto the name.
#pragma once

#include <napi.h>
#include <sys/stat.h>

#include <string>
#include <vector>

namespace tsyd {

// Why tsyd could not write back a file (crypt-writeback-check.cc): err 0 when it could.
struct WriteBackRefusal {
  int err;          // what the kernel would give at the failing step: EACCES, EPERM, EROFS...
  const char* why;  // for the warn record (never a key, never content)
};

// Could tsyd, with its own credentials (the calling thread's: an emulator's capabilities are the
// program's), write back the file `disk` (open as disk_fd) in the directory dir_fd (O_PATH)?
// disk null: only the directory (before an O_CREAT open, which must not leave a file behind);
// dir_checked: the directory was checked already.
WriteBackRefusal WhyNoWriteBack(int dir_fd, int disk_fd, const struct stat* disk, bool dir_checked);

// Keeps `why` as the reason of this thread's refused open, for cryptRefusal() (the warn record).
void NoteRefusal(const char* why);

// A write-back that failed for good (crypt-lost.cc): its written content never reaches the disk.
// Kept for the end of the sandbox of key `handle` (cryptCollect forget): one write_back_lost
// record per file, and tsyd exits 101. stage: where it failed (prepare, encrypt, fsync, link,
// rename; retry: a passing want that lasted to the end); stray: the temporary name left in the
// directory when it could not be removed ('': none).
void NoteLostWriteBack(int handle, int dir_fd, const std::string& name, const char* stage, int err, const std::string& stray = "");

struct LostWriteBack {
  std::string name;
  const char* stage = "";
  int err = 0;
  std::string stray;
};

// The lost write-backs of key `handle`, one per file (its last failure), forgotten here.
std::vector<LostWriteBack> TakeLostWriteBacks(int handle);

void InitCryptWriteBackCheck(Napi::Env env, Napi::Object exports);

}  // namespace tsyd
