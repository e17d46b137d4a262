#include "protocol/mdff_fields.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <string>

namespace meterd::mdff {

void split_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

std::string_view trim(std::string_view text, bool& trimmed) {
  const std::size_t size = text.size();
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  trimmed = text.size() != size;
  return text;
}

namespace {

constexpr std::array<double, 23> kPow10 = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                           1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                           1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr std::uint64_t kExactMantissa = std::uint64_t{1} << 53;

}  // namespace

const char* parse_decimal_fast(const char* p, double& out) {
  std::uint64_t mantissa = 0;
  unsigned digits = 0;
  while (static_cast<unsigned>(*p - '0') <= 9) {
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    ++digits, ++p;
  }
  unsigned fraction = 0;
  if (*p == '.') {
    ++p;
    while (static_cast<unsigned>(*p - '0') <= 9) {
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
      ++digits, ++fraction, ++p;
    }
  }
  // 19 digits always fit in 64 bits; beyond 2^53 or 10^22 the division is not exact.
  if (digits == 0 || digits > 19 || mantissa >= kExactMantissa || fraction >= kPow10.size())
    return nullptr;
  out = static_cast<double>(mantissa) / kPow10[fraction];
  return p;
}

NumberError parse_decimal(std::string_view text, double& out) {
  if (text.empty()) return NumberError::empty;
  if (text.front() == '-') return NumberError::negative;
  // Only digits and one '.', at least one digit: no signs, exponents, hex, inf or nan.
  unsigned digits = 0, dots = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return NumberError::not_a_number;
    }
  }
  if (digits == 0 || dots > 1) return NumberError::not_a_number;
  // Copy to a terminated buffer so the fast path can stop on the terminator.
  char buf[64];
  if (text.size() < sizeof buf) {
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (const char* end = parse_decimal_fast(buf, out); end == buf + text.size()) {
      return NumberError::ok;
    }
  }
  // from_chars does not take ".5"; give it "0.5".
  std::string_view digits_text = text;
  double value = 0;
  if (text.front() == '.') {
    std::string padded = "0";
    padded.append(text);
    auto res = std::from_chars(padded.data(), padded.data() + padded.size(), value);
    if (res.ec != std::errc() || res.ptr != padded.data() + padded.size())
      return NumberError::not_a_number;
  } else {
    auto res = std::from_chars(digits_text.data(), digits_text.data() + digits_text.size(), value);
    if (res.ec != std::errc() || res.ptr != digits_text.data() + digits_text.size())
      return NumberError::not_a_number;
  }
  out = value;
  return NumberError::ok;
}

bool parse_quality_method(std::string_view text, QualityMethod& out) {
  if (text.empty()) return false;
  const char flag = text[0];
  const bool needs_method = flag == 'E' || flag == 'F' || flag == 'S';
  const bool may_have_method = flag == 'A' || flag == 'N';
  if (!needs_method && !may_have_method && flag != 'V') return false;
  if (text.size() == 1) {
    if (needs_method) return false;
    out = {flag, 0};
    return true;
  }
  if (text.size() != 3 || flag == 'V') return false;
  const unsigned d1 = static_cast<unsigned>(text[1] - '0'),
                 d2 = static_cast<unsigned>(text[2] - '0');
  if (d1 > 9 || d2 > 9 || (d1 == 0 && d2 == 0)) return false;
  out = {flag, static_cast<std::uint8_t>(d1 * 10 + d2)};
  return true;
}

bool parse_reason_code(std::string_view text, std::int16_t& out, bool& empty) {
  empty = text.empty();
  if (empty || text.size() > 3) return false;
  int v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = static_cast<std::int16_t>(v);
  return true;
}

std::string_view canonical_uom(std::string_view text) {
  static constexpr std::string_view kUnits[] = {
      "MWh",  "kWh",  "Wh",  "MVArh", "kVArh", "VArh", "MVAr", "kVAr", "VAr", "MW", "kW", "W",
      "MVAh", "kVAh", "VAh", "MVA",   "kVA",   "VA",   "kV",   "V",    "kA",  "A",  "pf"};
  for (std::string_view unit : kUnits) {
    if (unit.size() != text.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < unit.size() && same; ++i) {
      const char a = unit[i], b = text[i];
      same = (a | 0x20) == (b | 0x20);
    }
    if (same) return unit;
  }
  return {};
}

bool is_b2b_trans_code(std::string_view text) {
  return text.size() == 1 && std::string_view("ACGDENOSR").find(text[0]) != std::string_view::npos;
}

}  // namespace meterd::mdff
