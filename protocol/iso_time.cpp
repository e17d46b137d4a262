#include "protocol/iso_time.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

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

void append_utc_now(std::string& out, int fraction_digits) {
  using namespace std::chrono;
  const bool micros = fraction_digits == 6;
  const auto us = duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros ? 6 : 3,
                static_cast<long long>(micros ? us % 1000000 : us % 1000000 / 1000));
  out += buf;
}

}  // namespace meterd
