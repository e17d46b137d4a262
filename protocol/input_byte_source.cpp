#include "protocol/input_byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>

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

std::uint64_t ByteSource::seek(std::int64_t, int) {
  throw InputError("internal error: seek on a source that cannot seek");
}

std::size_t ByteSource::read_at(std::uint64_t, char*, std::size_t) {
  throw std::logic_error("internal error: read_at on a source that cannot seek");
}

std::uint64_t ByteSource::size() {
  throw std::logic_error("internal error: size of a source that cannot seek");
}

FileByteSource::FileByteSource(const std::filesystem::path& path) : name_(path.string()) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw InputError("cannot open " + name_ + ": " + std::strerror(errno));
  struct stat st {};
  // A directory opens fine and only fails at the first read, with a less helpful message.
  const bool known = ::fstat(fd_, &st) == 0;
  if (known && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw InputError("cannot read " + name_ + ": it is a directory");
  }
  regular_ = known && S_ISREG(st.st_mode);
  // Read front to back (a zip seeks only a few times): let the kernel read ahead further.
  if (regular_) ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

FileByteSource::~FileByteSource() {
  if (fd_ >= 0) ::close(fd_);
}

void FileByteSource::fail_read() const {
  throw std::system_error(errno, std::generic_category(), "cannot read " + name_);
}

std::size_t FileByteSource::read(char* out, std::size_t size) {
  for (;;) {
    const ssize_t got = ::read(fd_, out, size);
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) fail_read();
  }
}

std::uint64_t FileByteSource::seek(std::int64_t offset, int whence) {
  const off_t position = ::lseek(fd_, offset, whence);
  if (position < 0) throw InputError("cannot seek in " + name_ + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(position);
}

std::size_t FileByteSource::read_at(std::uint64_t offset, char* out, std::size_t size) {
  for (;;) {
    const ssize_t got = ::pread(fd_, out, size, static_cast<off_t>(offset));
    if (got >= 0) return static_cast<std::size_t>(got);
    if (errno != EINTR) fail_read();
  }
}

std::uint64_t FileByteSource::size() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail_read();
  return static_cast<std::uint64_t>(st.st_size);
}

std::size_t BufferByteSource::read(char* out, std::size_t size) {
  const std::size_t n = std::min(size, bytes_.size() - position_);
  std::memcpy(out, bytes_.data() + position_, n);
  position_ += n;
  return n;
}

std::uint64_t BufferByteSource::seek(std::int64_t offset, int whence) {
  const std::int64_t base = whence == SEEK_SET   ? 0
                            : whence == SEEK_CUR ? static_cast<std::int64_t>(position_)
                                                 : static_cast<std::int64_t>(bytes_.size());
  const std::int64_t target = base + offset;
  if (target < 0 || target > static_cast<std::int64_t>(bytes_.size()))
    throw InputError("seek outside the buffer");
  position_ = static_cast<std::size_t>(target);
  return position_;
}

std::size_t BufferByteSource::read_at(std::uint64_t offset, char* out, std::size_t size) {
  if (offset >= bytes_.size()) return 0;
  const std::size_t n = std::min<std::uint64_t>(size, bytes_.size() - offset);
  std::memcpy(out, bytes_.data() + offset, n);
  return n;
}

}  // namespace meterd
