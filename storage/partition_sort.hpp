// Row order, made once per batch: the batcher sorts a month partition as it seals it, and
// Store::write only checks the order. Works on runs, not readings: ~48x fewer items to sort,
// values never move, and the run structure reaches the writer intact. Only where runs of one
// stream overlap (two versions of a day in one batch, mixed interval lengths) are they split
// into single readings and sorted as such.
//
// Row order is the parts' declared sort key: (nmi, suffix, interval_start), then the version
// order of storage/version.hpp (decided by content, never by arrival), so merge_parts, which
// keeps the last row of a key, keeps the newest version. Rows equal in all of it are the same
// reading and may come in any order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/partition.hpp"

namespace meterd::storage {

// Readings of one partition (a tenant's month) with their runs in row order.
struct PartitionBatch {
  std::string tenant;  // "" = the default tenant
  MonthKey month = 0;
  ReadingBatch batch;
  bool may_have_duplicates = false;  // runs overlapped: several versions of a key possible
};

// Sorts the runs of `batch` (every run in `month`; throws std::invalid_argument for a run that
// points outside its batch or leaves the month) into row order, without moving values;
// overlapping runs of one (nmi, suffix) are split into single readings (may_have_duplicates).
// Runs without readings are dropped. On a throw, `batch` is left as it was.
PartitionBatch sort_partition(MonthKey month, ReadingBatch&& batch);

// What check_row_order found.
struct RowOrderCheck {
  std::uint64_t rows = 0;
  // Two rows share a key: the part holds several versions of one (even where
  // may_have_duplicates says otherwise).
  bool shared_key = false;
};

// One pass over the runs of `partition`: throws std::invalid_argument unless every run points
// inside its batch, lies in partition.month and the rows are in row order (the order of
// exact version ties is not checked: any order of them is a valid part).
RowOrderCheck check_row_order(const PartitionBatch& partition);

// The runs of one month partition of a batch, in row order, indexing into that batch.
struct MonthRuns {
  MonthKey month = 0;
  std::vector<ReadingRun> runs;
  bool may_have_duplicates = false;
};

// For a batch with runs in any order and any months (Store::write of a ReadingBatch): cuts it
// into month partitions (a run crossing a month boundary is split) and sorts each as
// sort_partition does. Ascending months. Throws std::invalid_argument if a run points outside
// its batch.
std::vector<MonthRuns> sort_into_partitions(const ReadingBatch& batch);

}  // namespace meterd::storage
