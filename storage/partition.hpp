// PLACEHOLDER until the storage branch lands (w-storage): the month partition key.
#pragma once

#include <cstdint>
#include <string>

#include "protocol/reading_batch.hpp"
#include "storage/partition_sort.hpp"

namespace meterd::storage {

using MonthKey = std::int32_t;
inline MonthKey month_of(epoch_seconds t) {
  return nem_month(t);
}

}  // namespace meterd::storage
