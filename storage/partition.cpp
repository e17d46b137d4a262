#include "storage/partition.hpp"

#include <cstdio>

#include "protocol/nem_time.hpp"

namespace meterd::storage {

MonthKey month_of(epoch_seconds t) {
  const CivilDate date = nem_date_of(t);
  return static_cast<MonthKey>(date.year * 12 + (date.month - 1));
}

epoch_seconds month_start(MonthKey month) {
  return days_from_civil(month / 12, static_cast<unsigned>(month % 12 + 1), 1) * 86400 -
         kNemOffsetSeconds;
}

std::string partition_name(MonthKey month) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "month=%04d-%02d", month / 12, month % 12 + 1);
  return buf;
}

}  // namespace meterd::storage
