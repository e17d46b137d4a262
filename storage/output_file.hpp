// A buffered, append-only writer on a file descriptor that tracks the file offset and a
// CRC-32C of every byte written (recorded in the manifest to detect corrupt parts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd::storage {

class OutputFile {
 public:
  // The buffer grows as bytes come (a daemon writes many parts of a few KiB: reserving the
  // whole flush size for each left the allocator's heaps fragmented, megabytes per part).
  explicit OutputFile(int fd, std::size_t flush_at = 8 << 20) : fd_(fd), flush_at_(flush_at) {}
  void append(std::string_view bytes) {
    buffer_.append(bytes);
    offset_ += bytes.size();
    if (buffer_.size() >= flush_at_) flush();
  }
  // Writes the buffer out; throws std::system_error on failure (ENOSPC, EIO...).
  void flush();
  std::uint64_t offset() const { return offset_; }
  std::uint32_t crc32c() const { return crc_; }

 private:
  int fd_;
  std::size_t flush_at_;
  std::string buffer_;
  std::uint64_t offset_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace meterd::storage
