#include "protocol/input_byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
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

std::uint64_t ByteSource::seek(std::int64_t, int) {
  throw InputError("internal error: seek on a source that cannot seek");
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

std::uint64_t FileByteSource::seek(std::int64_t offset, int whence) {
  const off_t position = ::lseek(fd_, offset, whence);
  if (position < 0) throw InputError("cannot seek in " + name_ + ": " + std::strerror(errno));
  return static_cast<std::uint64_t>(position);
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

namespace meterd {

std::uint64_t SniffedByteSource::seek(std::int64_t offset, int whence) {
  // The inner source is past the head; bytes of it not yet replayed are still "ahead" of us.
  if (whence == SEEK_CUR) offset -= static_cast<std::int64_t>(head_size_ - head_pos_);
  head_pos_ = head_size_;
  return inner_.seek(offset, whence);
}

}  // namespace meterd
