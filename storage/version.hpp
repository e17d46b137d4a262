// The version order among the readings of one key (nmi, suffix, interval_start), in one home:
// the batcher's seal sort, merge-on-read and compaction all compare with compare_versions, so
// no arrival order, batching, crash, retry or background merge can change which reading wins,
// and every node that receives the same files holds the same data.
//
// A total order decided by content alone, the greater version winning:
//   update_datetime, file_created      what the data says of itself (an absent time is lowest)
//   line                               within one file, a later line supersedes an earlier one
//   value, quality, method, reason_code, interval_minutes, uom, reason_description,
//   register_id, meter_serial, msats_load_datetime
//                                      the rest of the reading: two sources claiming one interval
//                                      with one version are decided by what they say, the same
//                                      way wherever they meet (a content tie-break)
// Readings equal in all of it are the same reading. file_sequence (arrival) and ingest_time are
// lineage, never part of the version. docs/storage.md gives the same order as SQL.
#pragma once

#include <cstdint>
#include <string_view>

#include "protocol/reading_batch.hpp"

namespace meterd::storage {

struct VersionFields {
  epoch_seconds update_datetime = kNoTime, file_created = kNoTime;
  std::int64_t line = 0;
  double value = 0;
  char quality = 0;
  std::uint8_t method = kNoMethod;
  std::int16_t reason_code = kNoReasonCode;
  std::uint16_t interval_minutes = 0;
  std::string_view uom, reason_description, register_id, meter_serial;
  epoch_seconds msats_load_datetime = kNoTime;
};

// The version of reading k of `run` (its strings in `strings`).
VersionFields version_of(const StringTable& strings, const ReadingRun& run, double value,
                         std::uint32_t k);

// <0: a is older, 0: the same reading, >0: a supersedes b.
int compare_versions(const VersionFields& a, const VersionFields& b);

// The leading, cheap part of the order (times and line): callers compare these first and build
// VersionFields only on a tie.
inline int compare_version_prefix(epoch_seconds update_a, epoch_seconds created_a,
                                  std::int64_t line_a, epoch_seconds update_b,
                                  epoch_seconds created_b, std::int64_t line_b) {
  if (update_a != update_b) return update_a < update_b ? -1 : 1;
  if (created_a != created_b) return created_a < created_b ? -1 : 1;
  if (line_a != line_b) return line_a < line_b ? -1 : 1;
  return 0;
}

}  // namespace meterd::storage
