#include "protocol/iso_time.hpp"

#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

// n digits at s[pos..]; false if any is not a digit or the text is too short.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

constexpr bool leap(int y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool valid_date(int y, int m, int d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= kDays[m - 1] + (m == 2 && leap(y) ? 1 : 0);
}

}  // namespace

bool parse_iso_time(std::string_view s, epoch_seconds& out, bool nem_if_no_offset,
                    bool allow_date) {
  int y = 0, mo = 0, d = 0;
  std::size_t pos = 0;
  if (s.size() >= 10 && s[4] == '-' && s[7] == '-') {
    if (!digits(s, 0, 4, y) || !digits(s, 5, 2, mo) || !digits(s, 8, 2, d)) return false;
    pos = 10;
  } else if (allow_date && s.size() == 8) {
    if (!digits(s, 0, 4, y) || !digits(s, 4, 2, mo) || !digits(s, 6, 2, d)) return false;
    pos = 8;
  } else {
    return false;
  }
  if (!valid_date(y, mo, d)) return false;
  // Local midnight of that date, as if UTC; the offset is applied below.
  epoch_seconds t = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400;
  if (pos == s.size()) {
    if (!allow_date) return false;
    out = t - kNemOffsetSeconds;
    return true;
  }
  if (s[pos] != 'T' && s[pos] != ' ') return false;
  int hh = 0, mm = 0, ss = 0;
  if (!digits(s, pos + 1, 2, hh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
      !digits(s, pos + 4, 2, mm))
    return false;
  pos += 6;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, ss)) return false;
    pos += 3;
  }
  if (hh > 24 || mm > 59 || ss > 59 || (hh == 24 && (mm || ss))) return false;
  t += hh * 3600 + mm * 60 + ss;
  if (pos == s.size()) {
    if (!nem_if_no_offset) return false;
    out = t - kNemOffsetSeconds;
    return true;
  }
  if (s[pos] == 'Z' && pos + 1 == s.size()) {
    out = t;
    return true;
  }
  int oh = 0, om = 0;
  if (s.size() - pos != 6 || (s[pos] != '+' && s[pos] != '-') || s[pos + 3] != ':' ||
      !digits(s, pos + 1, 2, oh) || !digits(s, pos + 4, 2, om) || oh > 14 || om > 59)
    return false;
  const epoch_seconds offset = (s[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  out = t - offset;
  return true;
}

}  // namespace meterd
