// Directories watched through inotify, for `meterd forward --watch` and the spool's incoming/.
// A file is announced when its writer closes it (IN_CLOSE_WRITE) or when it is renamed in
// (IN_MOVED_TO), never half-written. The kernel's queue is bounded: when it overflows,
// announcements are lost and only a listing of the directories can tell what arrived, so the
// caller is told (`overflowed`) and lists them.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <vector>

namespace meterd::app {

class DirWatch {
 public:
  // Throws std::runtime_error when inotify is unavailable or a directory cannot be watched.
  explicit DirWatch(const std::vector<std::filesystem::path>& dirs);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // The files announced within `timeout` (at once with a zero timeout), empty if nothing
  // happened; sets `overflowed` when announcements were lost. Every announcement queued by
  // then is taken, so one call per wake-up is enough.
  std::vector<std::filesystem::path> wait(std::chrono::milliseconds timeout, bool& overflowed);

 private:
  int fd_;
  std::map<int, std::filesystem::path> dirs_;  // by watch descriptor
};

}  // namespace meterd::app
