// The partition key of the readings: the NEM-time (UTC+10) month of interval_start. NEM days
// never straddle it, so a run (one day of one stream) always lands in exactly one partition.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/reading_batch.hpp"

namespace meterd::storage {

// Months since year 0 of the NEM-time date: year * 12 + month - 1.
using MonthKey = std::int32_t;

MonthKey month_of(epoch_seconds t);
epoch_seconds month_start(MonthKey month);   // first second (UTC epoch) of the NEM month
std::string partition_name(MonthKey month);  // "month=2005-03"

}  // namespace meterd::storage
