#include "protocol/nem_time.hpp"

namespace meterd {
namespace {

bool digits(std::string_view text, std::size_t pos, std::size_t n, unsigned& out) {
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    const unsigned d = static_cast<unsigned char>(text[i]) - '0';
    if (d > 9) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool valid_day(unsigned y, unsigned m, unsigned d) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return d <= kDays[m - 1] + (m == 2 && leap);
}

void append_2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

}  // namespace

bool parse_nem_date(std::string_view text, epoch_seconds& out) {
  unsigned y, m, d;
  if (text.size() != 8 || !digits(text, 0, 4, y) || !digits(text, 4, 2, m) ||
      !digits(text, 6, 2, d) || !valid_day(y, m, d))
    return false;
  out = days_from_civil(y, m, d) * 86400 - kNemOffsetSeconds;
  return true;
}

bool parse_nem_datetime(std::string_view text, epoch_seconds& out, bool* twelve) {
  if (text.size() != 14 && text.size() != 12) return false;
  unsigned hh, mi, ss = 0;
  epoch_seconds day;
  if (!parse_nem_date(text.substr(0, 8), day) || !digits(text, 8, 2, hh) ||
      !digits(text, 10, 2, mi) || (text.size() == 14 && !digits(text, 12, 2, ss)))
    return false;
  // 24:00:00 is not valid MDFF; leap seconds neither.
  if (hh > 23 || mi > 59 || ss > 59) return false;
  if (twelve) *twelve = text.size() == 12;
  out = day + hh * 3600 + mi * 60 + ss;
  return true;
}

void append_nem_time(std::string& out, epoch_seconds t) {
  if (t == kNoTime) return;
  const epoch_seconds local = t + kNemOffsetSeconds;
  const epoch_seconds secs = local - (local >= 0 ? local / 86400 : (local - 86399) / 86400) * 86400;
  const CivilDate date = nem_date_of(t);
  const auto year = static_cast<unsigned>(date.year);
  const unsigned m = date.month, d = date.day;
  append_2(out, year / 100);
  append_2(out, year % 100);
  out.push_back('-');
  append_2(out, m);
  out.push_back('-');
  append_2(out, d);
  out.push_back('T');
  append_2(out, static_cast<unsigned>(secs / 3600));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs / 60 % 60));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs % 60));
  out.append("+10:00");
}

std::string format_nem_time(epoch_seconds t) {
  std::string out;
  append_nem_time(out, t);
  return out;
}

std::string format_nem_date(epoch_seconds t) {
  const std::string iso = format_nem_time(t);
  if (iso.empty()) return {};
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

}  // namespace meterd
