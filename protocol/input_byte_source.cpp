#include "protocol/input_byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace meterd {

std::size_t read_fully(ByteSource& source, char* out, std::size_t size) {
  std::size_t filled = 0;
  while (filled < size) {
    const std::size_t got = source.read(out + filled, size - filled);
    if (got == 0) break;
    filled += got;
  }
  return filled;
}

FileByteSource::FileByteSource(const std::filesystem::path& path) : name_(path.string()) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("cannot open " + name_ + ": " + std::strerror(errno));
  struct stat st {};
  // A directory opens fine and only fails at the first read, with a less helpful message.
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw InputError("cannot read " + name_ + ": it is a directory");
  }
}

FileByteSource::~FileByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t FileByteSource::read(char* out, std::size_t size) {
  for (;;) {
    const ssize_t got = ::read(fd_, out, size);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) throw InputError("cannot read " + name_ + ": " + std::strerror(errno));
  }
}

std::size_t BufferByteSource::read(char* out, std::size_t size) {
  const std::size_t n = std::min(size, rest_.size());
  std::memcpy(out, rest_.data(), n);
  rest_.remove_prefix(n);
  return n;
}

std::size_t CountingByteSource::read(char* out, std::size_t size) {
  const std::size_t got = inner_.read(out, size);
  count_ += got;
  return got;
}

SniffedByteSource::SniffedByteSource(ByteSource& inner) : inner_(inner) {
  head_size_ = read_fully(inner_, head_, sizeof head_);
  kind_ = sniff_input_kind(std::string_view(head_, head_size_));
}

std::size_t SniffedByteSource::read(char* out, std::size_t size) {
  if (head_pos_ < head_size_) {
    const std::size_t n = std::min(size, head_size_ - head_pos_);
    std::memcpy(out, head_ + head_pos_, n);
    head_pos_ += n;
    return n;
  }
  return inner_.read(out, size);
}

}  // namespace meterd
