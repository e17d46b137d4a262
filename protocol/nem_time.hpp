// NEM time: AEST, UTC+10:00 fixed, never daylight saving. Dates and datetimes in MDFF are NEM
// time; we store UTC epoch seconds and print with an explicit +10:00 offset.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/reading_batch.hpp"

namespace meterd {

inline constexpr epoch_seconds kNemOffsetSeconds = 10 * 3600;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month, day;
};

// The date of a day count since 1970-01-01 (Howard Hinnant's algorithm, exact for every
// proleptic Gregorian date).
constexpr CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// The NEM (UTC+10) day of an instant, in days since 1970-01-01. Floored: `/` rounds towards
// zero, which would count the last NEM day before 1970 into the first one after it.
constexpr std::int64_t nem_day_number(epoch_seconds t) {
  const epoch_seconds local = t + kNemOffsetSeconds;
  return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

// The NEM (UTC+10) calendar date of an instant.
constexpr CivilDate nem_date_of(epoch_seconds t) {
  return civil_from_days(nem_day_number(t));
}

// CCYYMMDD → epoch seconds of NEM midnight. False if not 8 digits or not a real date.
bool parse_nem_date(std::string_view text, epoch_seconds& out);
// CCYYMMDDhhmmss (14) or CCYYMMDDhhmm (12) → epoch seconds. `twelve` tells which was seen.
bool parse_nem_datetime(std::string_view text, epoch_seconds& out, bool* twelve = nullptr);

// "2005-03-01T00:30:00+10:00"; empty for kNoTime.
void append_nem_time(std::string& out, epoch_seconds t);
std::string format_nem_time(epoch_seconds t);
// "20050301" for the NEM date containing t.
std::string format_nem_date(epoch_seconds t);

}  // namespace meterd
