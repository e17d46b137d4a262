#include "storage/encoding.hpp"

#include <algorithm>
#include <cstring>

namespace meterd::storage {

void bit_pack(std::string& out, const std::uint32_t* values, std::size_t n, int width) {
  const std::size_t groups = (n + 7) / 8;
  const std::size_t start = out.size();
  out.resize(start + groups * width + 8);  // +8: slack for the 64-bit stores below
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
  if (width > 0) {
    std::uint64_t acc = 0;
    int bits = 0;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < groups * 8; ++i) {
      const std::uint64_t v = i < n ? values[i] : 0;
      acc |= v << bits;
      bits += width;
      if (bits >= 32) {  // flush whole bytes, keep the remainder in acc
        const int whole = bits / 8;
        std::memcpy(dst + pos, &acc, 8);
        pos += whole;
        acc = whole == 8 ? 0 : acc >> (whole * 8);
        bits -= whole * 8;
      }
    }
    while (bits > 0) dst[pos++] = static_cast<unsigned char>(acc), acc >>= 8, bits -= 8;
  }
  out.resize(start + groups * width);
}

void HybridEncoder::literal(std::uint32_t v) {
  buf_[pending_++] = v;
  if (pending_ == 8) {
    if (literal_groups_ == 0) {
      group_start_ = out_->size();
      out_->append(5, '\0');  // room for the run header varint, fixed up in flush_literals()
    }
    bit_pack(*out_, buf_, 8, width_);
    ++literal_groups_;
    pending_ = 0;
  }
}

void HybridEncoder::flush_literals() {
  if (!literal_groups_) return;
  std::string header;
  put_varint(header, (literal_groups_ << 1) | 1);
  std::memcpy(out_->data() + group_start_, header.data(), header.size());
  // Close the gap between the varint and the packed bytes (5 bytes were reserved).
  if (header.size() < 5) out_->erase(group_start_ + header.size(), 5 - header.size());
  literal_groups_ = 0;
}

void HybridEncoder::run(std::uint32_t value, std::uint64_t count) {
  // Complete an open partial literal group first: only the last group may be padded.
  while (pending_ && count) literal(value), --count;
  if (count == 0) return;
  if (count >= 8 || literal_groups_ == 0) {
    flush_literals();
    const int bytes = (width_ + 7) / 8;
    for (std::uint64_t left = count; left;) {
      const std::uint64_t n = std::min<std::uint64_t>(left, 0x7fffffff);
      put_varint(*out_, n << 1);
      for (int b = 0; b < bytes; ++b) out_->push_back(static_cast<char>(value >> (8 * b)));
      left -= n;
    }
  } else {
    while (count--) literal(value);
  }
}

void HybridEncoder::literals(const std::uint32_t* values, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) literal(values[i]);
}

void HybridEncoder::finish() {
  // Pad the last group with zeros: the reader stops at the page's value count.
  while (pending_) literal(0);
  flush_literals();
}

bool decode_hybrid(std::string_view in, int width, std::size_t n, std::uint32_t* out) {
  if (width < 0 || width > 32) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* end = p + in.size();
  const std::size_t value_bytes = (width + 7) / 8;
  const std::uint64_t mask = width == 32 ? 0xffffffffull : ((1ull << width) - 1);
  std::size_t got = 0;
  while (got < n) {
    std::uint64_t header = 0;
    for (int shift = 0;; shift += 7) {
      if (p >= end || shift > 35) return false;
      const unsigned char b = *p++;
      header |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    if (header & 1) {  // bit-packed groups
      const std::uint64_t groups = header >> 1;
      const std::uint64_t bytes = groups * width;
      if (bytes > static_cast<std::uint64_t>(end - p)) return false;
      const std::uint64_t count = std::min<std::uint64_t>(groups * 8, n - got);
      std::uint64_t bitpos = 0, i = 0;
      if (width == 0) {
        std::fill(out + got, out + got + count, 0u);
        i = count;
      }
      // Whole 8-byte loads while they stay inside the run, then byte-exact ones at its end.
      for (; i < count && bitpos / 8 + 8 <= bytes; ++i, bitpos += width) {
        std::uint64_t word;
        std::memcpy(&word, p + bitpos / 8, 8);
        out[got + i] = static_cast<std::uint32_t>((word >> (bitpos % 8)) & mask);
      }
      for (; i < count; ++i, bitpos += width) {
        std::uint64_t word = 0;
        const std::size_t byte = bitpos / 8;
        std::memcpy(&word, p + byte, std::min<std::size_t>(8, bytes - byte));
        out[got + i] = static_cast<std::uint32_t>((word >> (bitpos % 8)) & mask);
      }
      got += count;
      p += bytes;
    } else {
      const std::uint64_t count = header >> 1;
      if (value_bytes > static_cast<std::size_t>(end - p)) return false;
      std::uint32_t v = 0;
      for (std::size_t b = 0; b < value_bytes; ++b)
        v |= static_cast<std::uint32_t>(p[b]) << (8 * b);
      p += value_bytes;
      const std::uint64_t take = std::min<std::uint64_t>(count, n - got);
      if (count == 0) return false;
      std::fill(out + got, out + got + take, v);
      got += take;
    }
  }
  return true;
}

namespace {
constexpr std::size_t kBlock = 128, kMiniblocks = 4, kMini = 32;

void pack64(std::string& out, const std::uint64_t* v, int width) {  // 32 values
  const std::size_t start = out.size();
  out.resize(start + 4 * width);
  auto* dst = reinterpret_cast<unsigned char*>(out.data() + start);
  std::memset(dst, 0, 4 * width);
  std::size_t bitpos = 0;
  for (std::size_t i = 0; i < kMini; ++i, bitpos += width) {
    std::uint64_t x = v[i];
    std::size_t pos = bitpos / 8;
    int shift = static_cast<int>(bitpos % 8);
    int left = width;
    // Write up to 8 bits at a time: widths may reach 64.
    while (left > 0) {
      dst[pos] |= static_cast<unsigned char>(x << shift);
      const int used = 8 - shift;
      x = used >= 64 ? 0 : x >> used;
      left -= used;
      shift = 0;
      ++pos;
    }
  }
}
}  // namespace

void encode_delta(std::string& out, const std::int64_t* values, std::size_t n) {
  put_varint(out, kBlock);
  put_varint(out, kMiniblocks);
  put_varint(out, n);
  put_zigzag(out, n ? values[0] : 0);
  std::uint64_t deltas[kBlock];
  for (std::size_t i = 1; i < n; i += kBlock) {
    const std::size_t m = std::min(kBlock, n - i);
    std::int64_t min_delta = INT64_MAX;
    for (std::size_t k = 0; k < m; ++k) {
      const std::int64_t d =
          static_cast<std::int64_t>(static_cast<std::uint64_t>(values[i + k]) -
                                    static_cast<std::uint64_t>(values[i + k - 1]));
      deltas[k] = static_cast<std::uint64_t>(d);
      min_delta = std::min(min_delta, d);
    }
    for (std::size_t k = 0; k < m; ++k) deltas[k] -= static_cast<std::uint64_t>(min_delta);
    for (std::size_t k = m; k < kBlock; ++k) deltas[k] = 0;
    put_zigzag(out, min_delta);
    int widths[kMiniblocks];
    const std::size_t used = (m + kMini - 1) / kMini;
    for (std::size_t b = 0; b < kMiniblocks; ++b) {
      std::uint64_t mx = 0;
      if (b < used)
        for (std::size_t k = 0; k < kMini; ++k) mx |= deltas[b * kMini + k];
      widths[b] = bit_width(mx);
      out.push_back(static_cast<char>(widths[b]));
    }
    for (std::size_t b = 0; b < used; ++b)
      if (widths[b]) pack64(out, deltas + b * kMini, widths[b]);
  }
}

std::size_t decode_delta(std::string_view in, std::size_t n, std::int64_t* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const auto* begin = p;
  const auto* end = p + in.size();
  auto varint = [&](std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) return false;
      const unsigned char b = *p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  };
  auto zz = [](std::uint64_t v) {
    return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
  };
  std::uint64_t block, minis, total, first;
  if (!varint(block) || !varint(minis) || !varint(total) || !varint(first)) return 0;
  if (block == 0 || minis == 0 || block % minis || (block / minis) % 8 || total < n) return 0;
  if (n == 0) return static_cast<std::size_t>(p - begin);
  const std::uint64_t per_mini = block / minis;
  std::int64_t last = zz(first);
  out[0] = last;
  std::size_t got = 1;
  while (got < n) {
    std::uint64_t md;
    if (!varint(md)) return 0;
    const std::int64_t min_delta = zz(md);
    if (static_cast<std::uint64_t>(end - p) < minis) return 0;
    const unsigned char* widths = p;
    p += minis;
    for (std::uint64_t b = 0; b < minis && got < n; ++b) {
      const int w = widths[b];
      if (w > 64) return 0;
      const std::uint64_t bytes = per_mini * w / 8;
      if (bytes > static_cast<std::uint64_t>(end - p)) return 0;
      for (std::uint64_t k = 0; k < per_mini && got < n; ++k) {
        std::uint64_t v = 0;
        const std::uint64_t bitpos = k * w;
        for (int bit = 0; bit < w;) {  // byte-wise: widths up to 64
          const std::uint64_t pos = (bitpos + bit) / 8;
          const int off = static_cast<int>((bitpos + bit) % 8);
          const int take = std::min(8 - off, w - bit);
          v |= static_cast<std::uint64_t>((p[pos] >> off) & ((1u << take) - 1)) << bit;
          bit += take;
        }
        last = static_cast<std::int64_t>(static_cast<std::uint64_t>(last) +
                                         static_cast<std::uint64_t>(min_delta) + v);
        out[got++] = last;
      }
      p += bytes;
    }
  }
  return static_cast<std::size_t>(p - begin);
}

}  // namespace meterd::storage
