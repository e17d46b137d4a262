// Line-oriented text output into one reused buffer, handed to a callback in ~1 MiB chunks.
//
// Hot loops write through a raw cursor: the caller promises, per line, an upper bound on its
// length (plus kSlack for fixed 8-byte stores), so no write needs a bounds check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <vector>

namespace meterd {

class ChunkWriter {
 public:
  using Output = std::function<void(std::string_view)>;
  static constexpr std::size_t kSlack = 16;
  static constexpr std::size_t kChunk = std::size_t{1} << 20;

  ChunkWriter(const Output& out, std::size_t max_line, bool crlf)
      : out_(out), buffer_(kChunk + max_line + kSlack), crlf_(crlf) {
    cursor_ = buffer_.data();
  }

  // Call before each line; returns the cursor to write the line at.
  char* begin_line() {
    if (static_cast<std::size_t>(cursor_ - buffer_.data()) >= kChunk) flush();
    return cursor_;
  }
  // Terminates the line that ends at `end` and makes it part of the output.
  void end_line(char* end) {
    if (crlf_) *end++ = '\r';
    *end++ = '\n';
    cursor_ = end;
    ++lines_;
  }
  void flush() {
    const auto size = static_cast<std::size_t>(cursor_ - buffer_.data());
    if (size == 0) return;
    out_(std::string_view(buffer_.data(), size));
    bytes_ += size;
    cursor_ = buffer_.data();
  }

  std::uint64_t bytes() const {
    return bytes_ + static_cast<std::uint64_t>(cursor_ - buffer_.data());
  }
  std::uint64_t lines() const { return lines_; }

  static char* put(char* p, std::string_view text) {
    std::memcpy(p, text.data(), text.size());
    return p + text.size();
  }
  // Writes `value` as exactly `width` decimal digits (leading zeros kept).
  static char* put_digits(char* p, std::uint32_t value, int width) {
    for (int i = width - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    return p + width;
  }

 private:
  const Output& out_;
  std::vector<char> buffer_;
  char* cursor_;
  std::uint64_t bytes_ = 0, lines_ = 0;
  bool crlf_;
};

}  // namespace meterd
