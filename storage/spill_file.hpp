// A temporary file for a merge's spill parts (storage/merge): unlinked from the start
// (O_TMPFILE, else unlinked at once), so that it vanishes with its descriptor whatever happens
// to the process, and nothing is ever left for recovery to find.
#pragma once

#include <filesystem>

namespace meterd::storage {

class SpillFile {
 public:
  // In dir, else (a read-only directory) in the system's temporary directory. Throws
  // std::system_error when neither takes it.
  explicit SpillFile(const std::filesystem::path& dir);
  ~SpillFile();
  SpillFile(const SpillFile&) = delete;
  SpillFile& operator=(const SpillFile&) = delete;

  int fd() const { return fd_; }
  // A name to open it by again, while it is open here.
  std::filesystem::path path() const;

 private:
  bool open_in(const std::filesystem::path& dir);
  int fd_ = -1;
};

}  // namespace meterd::storage
