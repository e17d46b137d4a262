// Merge-on-read: a k-way merge of sorted parts that keeps, per (nmi, suffix, interval_start),
// only the newest version (storage/version.hpp: decided by content). The query path and
// compaction both use it, so "what a query returns" and "what compaction keeps" can never
// disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/part_reader.hpp"
#include "storage/store.hpp"

namespace meterd::storage {

// Output of the merge: readings (runs re-formed from consecutive rows) plus the ingest time
// (µs) of each run, which ReadingRun does not carry but compaction must preserve.
using MergeSink =
    std::function<void(const ReadingBatch& batch, std::span<const std::int64_t> ingest_us)>;

struct MergeStats {
  std::uint64_t rows_in = 0, rows_out = 0, row_groups_read = 0, row_groups_skipped = 0;
};

// Merges `parts` (each sorted by (nmi, suffix, interval_start, version)), restricted to
// `filter`, calling sink about every batch_rows readings. Row groups whose statistics exclude
// the filter are not read. Throws CorruptPart if a part fails its checks.
MergeStats merge_parts(const std::vector<const PartReader*>& parts, const QueryFilter& filter,
                       const MergeSink& sink, std::size_t batch_rows = 65536);

}  // namespace meterd::storage
