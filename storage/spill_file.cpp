#include "storage/spill_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace meterd::storage {

SpillFile::SpillFile(const std::filesystem::path& dir) {
  if (open_in(dir)) return;
  const int err = errno;
  if (open_in(std::filesystem::temp_directory_path())) return;
  throw std::system_error(err, std::generic_category(), "spill file in " + dir.string());
}

SpillFile::~SpillFile() {
  ::close(fd_);
}

std::filesystem::path SpillFile::path() const {
  return "/proc/self/fd/" + std::to_string(fd_);
}

bool SpillFile::open_in(const std::filesystem::path& dir) {
  fd_ = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ >= 0) return true;
  std::string name = (dir / ".meterd-spill-XXXXXX").string();
  fd_ = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) return false;
  ::unlink(name.c_str());
  return true;
}

}  // namespace meterd::storage
