// Store::Impl, shared by the files of the store (internal to storage/): store.cpp (opening,
// writing, reading), store_recovery.cpp (crash recovery at open) and store_compaction.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/ledger.hpp"
#include "storage/manifest.hpp"
#include "storage/merge.hpp"
#include "storage/part_reader.hpp"
#include "storage/part_sources.hpp"
#include "storage/part_writer.hpp"
#include "storage/partition_sort.hpp"
#include "storage/record_table_store.hpp"
#include "storage/store.hpp"

namespace meterd::storage {

PartInfo to_info(const std::filesystem::path& readings, const ManifestPart& part);

struct Store::Impl {
  std::filesystem::path dir, readings;
  StoreOptions opt;
  int lock_fd = -1;
  std::unique_ptr<Manifest> manifest;
  std::unique_ptr<Ledger> ledger;
  std::vector<std::unique_ptr<RecordTableStore>> tables;  // kRecordTables order
  RecoveryReport report;
  std::uint64_t next_id = 1;

  Impl(std::filesystem::path data_dir, StoreOptions options);
  ~Impl();

  // Merges spill into the data directory: the same disk as the parts, not a small /tmp.
  MergeOptions merge_options() const {
    MergeOptions o;
    o.spill_dir = dir;
    return o;
  }
  void hook(LifecycleStep step, const std::filesystem::path& path) const {
    if (opt.fault_hook) opt.fault_hook(step, path);
  }
  void check_writable() const;

  // --- recovery (store_recovery.cpp) -------------------------------------------------------

  void recover();

  // --- writing -----------------------------------------------------------------------------

  struct Staged {
    ManifestPart part;
    std::filesystem::path tmp, final_path;
    bool renamed = false;
  };

  // Writes one sorted stream of runs (fed to the writer by `feed`) as a part: temp, fsync,
  // rename. The manifest record is the caller's (one record for all parts of a write, so a
  // write is all or nothing).
  Staged stage_part(const std::string& partition, const std::function<void(PartWriter&)>& feed);
  // Syncs the directories of staged parts, then records them (and removals) in one record.
  void publish(std::vector<Staged>& staged, const std::vector<std::string>& removed);
  static void unstage(std::vector<Staged>& staged);

  // Runs of one partition in row order, indexing into the values and strings of a batch.
  struct SortedPartition {
    std::string_view tenant;  // the batch's, which outlives the write
    MonthKey month;
    std::span<const ReadingRun> runs;
    bool may_have_duplicates;
  };
  std::vector<PartInfo> write_sorted(const StringTable& strings, const double* values,
                                     std::span<const SortedPartition> partitions);
  PartInfo write(const PartitionBatch& partition);
  std::vector<PartInfo> write(const ReadingBatch& batch);

  // --- reading -----------------------------------------------------------------------------

  std::vector<const ManifestPart*> select(const QueryFilter& filter) const;
  // Parts are immutable, so their parsed footers are cached (a query over many parts would
  // otherwise re-read every footer). Entries go when compaction removes the part.
  std::vector<std::shared_ptr<const PartReader>> open_parts(
      const std::vector<const ManifestPart*>& parts) const;
  void forget(const std::vector<std::string>& keys);
  mutable std::mutex cache_mutex;
  mutable std::map<std::string, std::shared_ptr<const PartReader>> footer_cache;
  // The files a part holds, stream by stream (storage/part_sources), for parts whose footer
  // does not say (written before it did): read from the part once (store_conflicts.cpp);
  // under cache_mutex.
  mutable std::map<std::string, std::shared_ptr<const SourcePairs>> legacy_sources;

  void query(const QueryFilter& filter, const MergeSink& sink) const;

  // --- compaction (store_compaction.cpp) ---------------------------------------------------

  // At most this many parts are merged at once: each open cursor holds two decoded row
  // groups, so the fan-in bounds compaction's memory (16 x 2 x 256k rows x ~125 B = 1 GiB
  // worst case; typical daemon parts are far smaller).
  static constexpr std::size_t kMaxFanIn = 16;

  // Merges `parts` (oldest first) of one partition into one part, swapping them atomically.
  // Returns the rows of the new part.
  std::uint64_t merge_group(const std::string& partition,
                            const std::vector<const ManifestPart*>& parts,
                            bool defer_removal = false);
  static std::vector<const ManifestPart*> smallest_parts(std::vector<const ManifestPart*> parts);

  // Replaced by a compact_step, still on disk for readers that opened the old manifest.
  struct Superseded {
    std::filesystem::path path;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Superseded> superseded;
  void remove_expired_superseded();

  std::optional<CompactionStep> compact_step(std::size_t min_parts);
  std::uint64_t compact();
};

}  // namespace meterd::storage
