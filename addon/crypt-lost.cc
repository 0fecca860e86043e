// The crypt write-backs that failed for good, process-wide, per key handle (one per sandbox):
// whichever thread saw the failure (the AES worker, an emulator or the monitor writing back
// itself, the making of the job), the end of that sandbox names each file and exits 101.
// SAFETY: written content that never reached the disk is never silent (README "Crypt sandboxing").
#include "crypt-writeback.h"

#include <sys/stat.h>

#include <map>
#include <mutex>
#include <tuple>

namespace tsyd {

namespace {

struct FileKey {
  int handle;
  dev_t dev;
  ino_t dir;
  std::string name;
  bool operator<(const FileKey& o) const { return std::tie(handle, dev, dir, name) < std::tie(o.handle, o.dev, o.dir, o.name); }
};

std::mutex g_lost_mu;
std::map<FileKey, LostWriteBack> g_lost;

}  // namespace

void NoteLostWriteBack(int handle, int dir_fd, const std::string& name, const char* stage, int err, const std::string& stray) {
  struct stat dsb {};
  if (fstat(dir_fd, &dsb) < 0) dsb.st_dev = 0, dsb.st_ino = 0;
  std::lock_guard<std::mutex> lock(g_lost_mu);
  LostWriteBack& lost = g_lost[FileKey{handle, dsb.st_dev, dsb.st_ino, name}];
  const std::string left = stray.empty() ? lost.stray : stray;  // a stray of an earlier failure stays there
  lost = LostWriteBack{name, stage, err, left};
}

std::vector<LostWriteBack> TakeLostWriteBacks(int handle) {
  std::vector<LostWriteBack> out;
  std::lock_guard<std::mutex> lock(g_lost_mu);
  for (auto it = g_lost.begin(); it != g_lost.end();) {
    if (it->first.handle != handle) {
      ++it;
      continue;
    }
    out.push_back(std::move(it->second));
    it = g_lost.erase(it);
  }
  return out;
}

}  // namespace tsyd
