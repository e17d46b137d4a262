// Merge-on-read: a k-way merge of sorted parts that keeps, per (nmi, suffix, interval_start),
// only the newest version (storage/version.hpp: decided by content). The query path and
// compaction both use it, so "what a query returns" and "what compaction keeps" can never
// disagree.
#pragma once

#include <cstdint>
#include <filesystem>
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
  std::uint64_t spill_parts = 0, spill_rows = 0;  // temporary parts written beyond the fan-in
};

struct MergeOptions {
  std::size_t batch_rows = 65536;  // readings per sink call, about
  // Parts merged at once. A cursor holds two decoded pages of every column (~1 MiB at 4096
  // rows a page), so this bounds the merge's memory; more parts are first merged in groups
  // into temporary parts in spill_dir, which vanish with the process.
  std::size_t max_fan_in = 16;
  std::filesystem::path spill_dir;  // empty: the system's temporary directory
};

// Merges `parts` (each sorted by (nmi, suffix, interval_start, version)), restricted to
// `filter`, calling sink about every batch_rows readings. Row groups whose statistics exclude
// the filter are not read, nor the other columns of a page where no row matches the filter.
// Throws CorruptPart if a part fails its checks, std::system_error if a spill fails.
MergeStats merge_parts(const std::vector<const PartReader*>& parts, const QueryFilter& filter,
                       const MergeSink& sink, const MergeOptions& options = {});

}  // namespace meterd::storage
