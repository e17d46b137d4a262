// The tokens of one usual NDJSON line, read without simdjson: a flat JSON object whose values
// are strings without escapes, numbers, null, true, false, or an array of numbers. Internal to
// the NDJSON reader (ndjson_fields.cpp decodes the schema over it or over simdjson alike).
//
// It takes a line only when it is sure of it: anything it does not know (an escape, a control
// character, a nested value, a number outside the JSON grammar or out of range, a second value
// on the line) makes a getter return false, and the reader then decodes the line with simdjson
// as before, which decides and words the answer. So it never accepts what simdjson refuses,
// and what it accepts reads the same: strings as views of the input (as simdjson's path reads a
// string without escapes), numbers correctly rounded (std::from_chars, like simdjson's parser).
// UTF-8 is checked by the caller for the whole block.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace meterd::ndjson {

class FlatLine {
 public:
  // Lines up to this long are read (longer ones are left to simdjson).
  static constexpr std::size_t kMaxBytes = 64 * 64;

  // [begin, end) is the line, *end its '\n' or the whitespace before it; 64 bytes past it are
  // readable (the reader's padding). The line is taken only without backslashes and control
  // characters (a tab or CR is legal JSON between tokens, but they are rare: simdjson reads such a
  // line); so its quotes pair up, and each string ends at the next quote, found in a bit mask of
  // the line's quotes.
  FlatLine(const char* begin, const char* end) : begin_(begin), p_(begin), end_(end) {
    const auto n = static_cast<std::size_t>(end - begin);
    if (n > kMaxBytes) {
      p_ = end;  // not a '{': next() says other
      return;
    }
    std::uint64_t bad = 0;
    for (std::size_t w = 0; w * 64 < n; ++w) {
      std::uint64_t quotes = 0, stops = 0;
      for (int k = 0; k < 4; ++k) masks16(begin + w * 64 + k * 16, quotes, stops, k * 16);
      if ((w + 1) * 64 > n) {  // bytes past the end of the line do not count
        const std::uint64_t keep = (std::uint64_t{1} << (n - w * 64)) - 1;
        quotes &= keep;
        stops &= keep;
      }
      quotes_[w] = quotes;
      bad |= stops;
    }
    words_ = (n + 63) / 64;
    if (bad) p_ = end;
  }

  enum class Next { key, end, other };

  // The next key, or the end of the object; `other` for anything else (also a missing '{').
  Next next(std::string_view& key) {
    space();
    if (first_) {
      first_ = false;
      if (*p_ != '{') return Next::other;
      ++p_;
      space();
      if (*p_ == '}') return close();
    } else {
      if (*p_ == '}') return close();
      if (*p_ != ',') return Next::other;
      ++p_;
      space();
    }
    if (*p_ != '"' || !scan_string(key)) return Next::other;
    space();
    if (*p_ != ':') return Next::other;
    ++p_;
    space();
    return Next::key;
  }

  // After the end of the object: nothing but whitespace to the end of the line.
  bool at_line_end() {
    space();
    return p_ == end_;
  }

  // A string, or "" for null when `nullable`.
  bool text(std::string_view& out, bool nullable) {
    if (*p_ == '"') return scan_string(out);
    if (!nullable || !literal("null")) return false;
    out = {};
    return true;
  }

  // An integer in [lo, hi] (digits only: no sign, no fraction), or `none` for null.
  bool integer(std::int64_t lo, std::int64_t hi, std::int64_t& out, bool nullable,
               std::int64_t none) {
    if (nullable && *p_ == 'n') {
      out = none;
      return literal("null");
    }
    const char* s = p_;
    if (*p_ == '0') {
      ++p_;
    } else {
      std::int64_t n = 0;
      while (is_digit(*p_) && p_ - s < 18) n = n * 10 + (*p_++ - '0');
      out = n;
    }
    if (p_ == s || is_digit(*p_) || *p_ == '.' || *p_ == 'e' || *p_ == 'E') return false;
    if (*s == '0') out = 0;
    return out >= lo && out <= hi;
  }

  // A finite number >= 0.
  bool number(double& out) { return any_number(out) && std::isfinite(out) && out >= 0; }

  // An array of finite numbers >= 0.
  bool numbers(std::vector<double>& out) {
    if (*p_ != '[') return false;
    ++p_;
    space();
    out.clear();
    if (*p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      double d = 0;
      if (!number(d)) return false;
      out.push_back(d);
      space();
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
      space();
    }
  }

  // A value the schema does not know: a plain one is read and dropped.
  bool skip() {
    std::string_view s;
    double d = 0;
    switch (*p_) {
      case '"':
        return scan_string(s);
      case 'n':
        return literal("null");
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      default:
        return any_number(d);
    }
  }

 private:
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  void space() {  // tab and CR are not in a line taken here
    while (*p_ == ' ') ++p_;
  }

  Next close() {
    ++p_;
    return Next::end;
  }

  bool literal(std::string_view word) {
    if (std::memcmp(p_, word.data(), word.size()) != 0) return false;
    p_ += word.size();
    return true;
  }

  // The quote (bit) and backslash-or-control-character (bit) masks of 16 bytes at `p`, or-ed
  // into `quotes` and `stops` at bit `shift`.
  static void masks16(const char* p, std::uint64_t& quotes, std::uint64_t& stops, int shift) {
#ifdef __SSE2__
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    const __m128i stop =
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')),
                     _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xE0))),
                                    _mm_setzero_si128()));  // bytes 0x00-0x1F
    quotes |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(quote))} << shift;
    stops |= std::uint64_t{static_cast<std::uint16_t>(_mm_movemask_epi8(stop))} << shift;
#else
    for (int i = 0; i < 16; ++i) {
      const auto c = static_cast<unsigned char>(p[i]);
      quotes |= std::uint64_t{c == '"'} << (shift + i);
      stops |= std::uint64_t{c == '\\' || c < 0x20} << (shift + i);
    }
#endif
  }

  // *p_ == '"': the string to the next quote.
  bool scan_string(std::string_view& out) {
    const char* s = ++p_;
    const auto from = static_cast<std::size_t>(p_ - begin_);
    std::size_t w = from / 64;
    if (w >= words_) return false;
    std::uint64_t m = quotes_[w] & (~std::uint64_t{0} << (from % 64));
    while (m == 0) {
      if (++w >= words_) return false;
      m = quotes_[w];
    }
    p_ = begin_ + w * 64 + static_cast<std::size_t>(__builtin_ctzll(m));
    out = std::string_view(s, static_cast<std::size_t>(p_ - s));
    ++p_;
    return true;
  }

  bool any_number(double& out) {
    const char* s = p_;
    if (!scan_number()) return false;
    const auto r = std::from_chars(s, p_, out);
    return r.ec == std::errc() && r.ptr == p_;
  }

  // A number of the JSON grammar, -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, not followed
  // by another digit, '.', 'e' or 'E' (which would make it malformed). Only the numbers every
  // parser reads alike: at most 19 digits before the exponent, at most 3 in it (simdjson
  // refuses a 20-digit exponent that std::from_chars reads).
  bool scan_number() {
    const char* s = p_;
    if (*p_ == '-') ++p_;
    if (*p_ == '0') {
      ++p_;
    } else {
      if (!is_digit(*p_)) return false;
      while (is_digit(*p_)) ++p_;
    }
    std::ptrdiff_t digits = p_ - s - (*s == '-');
    if (*p_ == '.') {
      ++p_;
      if (!is_digit(*p_)) return false;
      const char* f = p_;
      while (is_digit(*p_)) ++p_;
      digits += p_ - f;
    }
    if (digits > 19) return false;
    if (*p_ == 'e' || *p_ == 'E') {
      ++p_;
      if (*p_ == '+' || *p_ == '-') ++p_;
      const char* x = p_;
      while (is_digit(*p_)) ++p_;
      if (p_ == x || p_ - x > 3) return false;
    }
    return *p_ != '.' && *p_ != 'e' && *p_ != 'E';
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  bool first_ = true;
  std::size_t words_ = 0;
  std::uint64_t quotes_[kMaxBytes / 64];
};

}  // namespace meterd::ndjson
