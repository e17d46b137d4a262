// One record table on disk (record_tables.hpp): DATA_DIR/<table>/month=YYYY-MM/part-<id>.parquet
// (DATA_DIR/<table>/tenant=NAME/month=YYYY-MM/... for a tenant other than the default) and its
// own manifest, DATA_DIR/<table>/manifest/MANIFEST, with the readings' part lifecycle:
// hidden temporary, fsync, rename, fsync of the directory, manifest record; recovery removes
// temporaries and orphans and quarantines recorded parts that are missing or corrupt.
// Merge-on-read and compaction keep the winner of each key (keep_winners), so which record a
// query sees never depends on how parts fell.
//
// A partition is read whole into memory for a query or a merge: these tables hold a record
// per register read or 500 record, not per interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/manifest.hpp"
#include "storage/record_tables.hpp"
#include "storage/store.hpp"

namespace meterd::storage {

class RecordTableStore {
 public:
  // Opens (creating when writable) the table under data_dir and, when writable, recovers it
  // into `report`.
  RecordTableStore(const std::filesystem::path& data_dir, RecordTable table,
                   const StoreOptions& options, RecoveryReport& report);
  // A table of another schema (a rollup's) at `root`; `spec` outlives the store.
  RecordTableStore(const RecordTableSpec& spec, const std::filesystem::path& root,
                   const StoreOptions& options, RecoveryReport& report);
  ~RecordTableStore();

  // Durably writes rows of `tenant` (a valid name or ""; any order, any months; the winners of
  // each key only) as one part per partition, recorded at once. Throws std::system_error on
  // I/O failure, nothing visible.
  std::vector<PartInfo> write(std::vector<RecordRow> rows, std::string_view tenant = {});

  // Merge-on-read of filter.tenant's partitions only: the winner of each key, in key order, a
  // partition at a time. nmi and [from, to) on the partition column filter.
  void query(const QueryFilter& filter,
             const std::function<void(const std::vector<RecordRow>&)>& fn) const;

  // Merges each partition with more than one part (or `min_parts`, at least 2) into one.
  std::uint64_t compact(std::size_t min_parts = 2);
  // One bounded merge: the partition with the most parts, if it has at least min_parts.
  std::optional<CompactionStep> compact_step(std::size_t min_parts);

  std::vector<PartInfo> parts() const;
  // Makes `rows` (unique keys, any order) the whole of `partition`: one part, recorded with the
  // removal of the partition's parts in one manifest record (none: the partition is dropped).
  // The replaced files go after the grace. Throws std::system_error, nothing changed.
  std::vector<PartInfo> replace_partition(const std::string& partition,
                                          std::vector<RecordRow> rows);
  // Removes every part of `partition` in one manifest record; their files go after the grace
  // (Store::drop_partition). Returns the keys ("partition/file") it dropped.
  std::vector<std::string> drop_partition(const std::string& partition);
  const std::filesystem::path& root() const { return root_; }
  const RecordTableSpec& spec() const { return spec_; }

 private:
  void recover(RecoveryReport& report);
  std::vector<RecordRow> read_partition(const std::string& partition,
                                        const std::vector<const ManifestPart*>& parts) const;
  // Writes each partition's rows as one part and records them with `removed`, at once.
  std::vector<PartInfo> commit(std::map<std::string, std::vector<RecordRow>> partitions,
                               const std::vector<std::string>& removed);
  CompactionStep merge(const std::string& partition, bool defer_removal);
  void remove_expired_superseded();

  const RecordTableSpec& spec_;
  std::filesystem::path root_;
  StoreOptions options_;
  std::unique_ptr<Manifest> manifest_;
  std::uint64_t next_id_ = 1;
  struct Superseded {
    std::filesystem::path path;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Superseded> superseded_;  // compact_step's inputs, removed after the grace
};

}  // namespace meterd::storage
