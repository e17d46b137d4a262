#include "protocol/input_byte_wrappers.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace meterd {

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

std::uint64_t SniffedByteSource::seek(std::int64_t offset, int whence) {
  // The inner source is past the head; bytes of it not yet replayed are still "ahead" of us.
  if (whence == SEEK_CUR) offset -= static_cast<std::int64_t>(head_size_ - head_pos_);
  head_pos_ = head_size_;
  return inner_.seek(offset, whence);
}

}  // namespace meterd
