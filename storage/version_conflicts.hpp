// Two sources that claim one interval with one version (the same UpdateDateTime and file
// DateTime) and say different things of it: the version order still decides (storage/version:
// the rest of the reading as a content tie-break, the same wherever they meet), but an operator
// wants to know, so the seal reports each such pair with both sources and lines.
//
// Within one source a later line supersedes an earlier one of the same version (the version
// order's line): that is a correction, not a conflict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <string_view>

#include "protocol/file_report.hpp"
#include "storage/partition_sort.hpp"

namespace meterd::storage {

struct ConflictSide {
  std::uint64_t file_sequence = 0;
  std::uint32_t line = 0;
  double value = 0;
  char quality = 0;
  std::string source;  // a stored side's file name, from the ledger (empty: the batch's own)
};

// Consecutive intervals of one stream on which the same two source lines conflict.
struct VersionConflict {
  std::string nmi, suffix;
  epoch_seconds first_start = 0;
  std::uint16_t interval_minutes = 0;
  std::uint32_t intervals = 0;
  epoch_seconds update_datetime = kNoTime, file_created = kNoTime;
  ConflictSide kept, superseded;  // kept: the row a query returns
};

// The conflicts among the rows of a sorted partition (sort_partition's output), in row order,
// at most `max_conflicts` of them. Cheap unless the partition may hold several versions of a
// key (may_have_duplicates): only then are rows compared.
std::vector<VersionConflict> find_version_conflicts(const PartitionBatch& partition,
                                                    std::size_t max_conflicts = 1000);

// Adds the conflict of `reading`'s key (its stream, interval and version times) between `kept`
// and `superseded` to `out`, as one more interval of the last conflict when it continues it.
// False, adding nothing, once `out` holds max_conflicts and the conflict is a new one.
bool add_conflict(std::vector<VersionConflict>& out, const ReadingRow& reading,
                  const ConflictSide& kept, const ConflictSide& superseded,
                  std::size_t max_conflicts);

// The warning for the report of the file with `this_sequence` (one side of `c`): both sources
// and lines, both values and which one the version order kept. `other_name` is the other file as
// the user knows it; `mdff` says the report's file is NEM12 (fields named as in the spec).
Issue conflict_warning(const VersionConflict& c, std::uint64_t this_sequence,
                       std::string_view other_name, bool mdff);

}  // namespace meterd::storage
