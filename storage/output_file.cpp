#include "storage/output_file.hpp"

#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "storage/checksum.hpp"

namespace meterd::storage {

void OutputFile::flush() {
  crc_ = storage::crc32c(buffer_.data(), buffer_.size(), crc_);
  const char* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "write part");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

}  // namespace meterd::storage
