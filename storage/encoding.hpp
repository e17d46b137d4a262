// Parquet value encodings we write and read (parquet-writer-guide.md §7):
// RLE/bit-packed hybrid (levels, dictionary indices) and DELTA_BINARY_PACKED (timestamps).
// Decoders bound every read against the buffer and return false on malformed input.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meterd::storage {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) out.push_back(static_cast<char>((v & 0x7f) | 0x80)), v >>= 7;
  out.push_back(static_cast<char>(v));
}
inline void put_zigzag(std::string& out, std::int64_t v) {
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}
template <class T>
inline void put_le(std::string& out, T v) {  // x86: native order is little-endian
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

inline int bit_width(std::uint64_t max_value) {
  return max_value ? 64 - __builtin_clzll(max_value) : 0;
}

// Builds an RLE/bit-packed hybrid stream. Runs of equal values become RLE runs; anything
// else is collected into bit-packed groups of 8.
class HybridEncoder {
 public:
  void reset(std::string* out, int width) {
    out_ = out, width_ = width, pending_ = 0, literal_groups_ = 0, group_start_ = 0;
  }
  // Appends `count` copies of value.
  void run(std::uint32_t value, std::uint64_t count);
  // Bit-packs n values as literals (n need not be a multiple of 8 at the very end only).
  void literals(const std::uint32_t* values, std::size_t n);
  void finish();

 private:
  void flush_literals();
  void literal(std::uint32_t v);

  std::string* out_ = nullptr;
  int width_ = 0;
  std::uint32_t buf_[8];
  int pending_ = 0;                 // values in buf_
  std::size_t literal_groups_ = 0;  // groups written since the open literal header
  std::size_t group_start_ = 0;     // position of the reserved literal-run header
};

// Bit-packs n values LSB-first, padded to a multiple of 8 values, appended to out.
void bit_pack(std::string& out, const std::uint32_t* values, std::size_t n, int width);

// Decodes exactly n values; false if the stream is malformed or too short.
bool decode_hybrid(std::string_view in, int width, std::size_t n, std::uint32_t* out);

// DELTA_BINARY_PACKED over n int64 values (block 128, 4 miniblocks of 32).
void encode_delta(std::string& out, const std::int64_t* values, std::size_t n);
// Decodes n values; returns bytes consumed, or 0 on malformed input.
std::size_t decode_delta(std::string_view in, std::size_t n, std::int64_t* out);

}  // namespace meterd::storage
