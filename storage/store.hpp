// The storage facade used by the actors and the CLI: a data directory of immutable, sorted,
// versioned Parquet parts plus a crash-safe manifest and a file ledger.
//
// Layout: DATA_DIR/readings/month=YYYY-MM/part-<id>.parquet for the default tenant and
// DATA_DIR/readings/tenant=NAME/month=YYYY-MM/part-<id>.parquet for another (partition.hpp),
// DATA_DIR/manifest/..., DATA_DIR/ledger/..., and the record tables beside the readings, each
// with its own manifest and the same partitions: DATA_DIR/register_reads/...,
// DATA_DIR/b2b_events/... (see README "Data directory").
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/input_content_hash.hpp"
#include "protocol/reading_batch.hpp"
#include "storage/partition_sort.hpp"
#include "storage/version_conflicts.hpp"

namespace meterd::storage {

struct PartInfo {
  std::string partition;       // "month=2005-03", "tenant=NAME/month=2005-03"
  std::filesystem::path path;  // absolute path of the committed part
  std::uint64_t rows = 0, bytes = 0;
  epoch_seconds min_start = 0, max_start = 0;
  std::uint64_t id = 0;  // the manifest's: a later part of a partition has a greater id
};

struct QueryFilter {
  std::string tenant;  // whose readings: a query never spans tenants ("" = the default tenant)
  std::optional<std::string> nmi, suffix;
  std::optional<epoch_seconds> from, to;  // interval_start in [from, to)
};

// What one bounded compaction step did (Store::compact_step).
struct CompactionStep {
  std::string partition;
  std::size_t parts_in = 0;    // parts merged into one
  std::size_t parts_left = 0;  // parts of the partition after the step
  std::uint64_t rows_in = 0, rows_out = 0;
};

// A month partition retention drops whole (Store::retention_plan).
struct RetentionDrop {
  std::string table;      // "readings", "register_reads" or "b2b_events"
  std::string partition;  // "tenant=a/month=2024-01" or "month=2024-01"
  std::size_t parts = 0;
  std::uint64_t rows = 0, bytes = 0;
};
// How many months of a tenant's data are kept, counted back from the current month, which is
// kept too (0 = forever).
using MonthsKept = std::function<std::uint32_t(std::string_view tenant)>;

struct RecoveryReport {
  std::uint64_t temporaries_removed = 0, orphans_removed = 0, corrupt_parts = 0;
  std::vector<std::string> messages;
};

// The records of one file that are not interval readings: NEM13 register-read periods
// (250 + 550) and NEM12 B2B events (500).
struct FileRecords {
  std::vector<RegisterReadPeriod> register_reads;
  std::vector<B2BEvent> b2b_events;
  std::uint64_t file_sequence = 0;
  std::string tenant;  // "" = the default tenant
  bool empty() const { return register_reads.empty() && b2b_events.empty(); }
  std::size_t size() const { return register_reads.size() + b2b_events.size(); }
};

// Points in the part lifecycle, for fault injection in tests (the hook may throw to simulate
// a crash right after that step).
enum class LifecycleStep {
  kTempWritten,      // part bytes written to the hidden temporary
  kTempSynced,       // temporary fsynced
  kRenamed,          // renamed into its partition directory
  kDirSynced,        // partition directory fsynced
  kRecorded,         // manifest record durable
  kOldPartsRemoved,  // compaction: superseded parts deleted
};
const char* to_string(LifecycleStep step);

struct StoreOptions {
  // Read-only: no lock, no recovery, no writes (for `meterd query` next to a running daemon).
  bool read_only = false;
  // Recovery reads every part in full to check its CRC-32C (otherwise size + footer only).
  bool verify_parts_on_open = true;
  std::size_t row_group_rows = 1 << 18;
  std::function<void(LifecycleStep, const std::filesystem::path&)> fault_hook;
  // compact_step leaves the files of the parts it replaced on disk this long, so that readers
  // in other processes (`meterd query`, HTTP queries) that listed them just before the swap can
  // finish; later steps delete them, and so does recovery at the next start.
  std::chrono::seconds superseded_grace{300};
};

// What Store::conflicts_with_stored found, and whether it read every row group it had to.
struct StoredConflicts {
  std::vector<VersionConflict> conflicts;
  bool complete = true;  // false: the row budget left candidate row groups unread
  std::uint64_t row_groups_read = 0;
};

class Store {
 public:
  // Opens (creating if needed) a data directory and runs crash recovery.
  explicit Store(std::filesystem::path data_dir);
  Store(std::filesystem::path data_dir, StoreOptions options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const RecoveryReport& recovery() const;

  // Durably writes the readings of `partition` (sort_partition's output) as one immutable
  // part of partition_name(partition.tenant, partition.month): temp file, fsync, rename, fsync
  // dir, manifest record. Does not sort: throws std::invalid_argument if the runs are not in
  // row order or leave the partition's month, or if the tenant is not a valid name.
  // Throws std::system_error on I/O failure (ENOSPC, EIO, EACCES): nothing is then visible.
  // A partition without readings writes nothing (a PartInfo with rows == 0 and no path).
  PartInfo write(const PartitionBatch& partition);

  // Same-version disagreements between `partition`, before it is written, and the readings
  // already in its partition (storage/version_conflicts): each key's winner in the batch
  // against every other source's last stored reading of the key with the same UpdateDateTime
  // and file DateTime. Row groups whose statistics rule that out are not read, nor more than
  // `row_budget` stored rows. Throws CorruptPart or std::system_error like a query.
  StoredConflicts conflicts_with_stored(const PartitionBatch& partition,
                                        std::size_t max_conflicts = 1000,
                                        std::uint64_t row_budget = 4'000'000) const;

  // The same for a batch with runs in any order and any months, of the default tenant: one
  // part per partition they touch, all recorded at once (all or nothing).
  std::vector<PartInfo> write(const ReadingBatch& batch);

  // Durably writes a file's register reads and B2B events into their tables (one part per
  // table and partition touched, in records.tenant's partitions; std::invalid_argument for a
  // tenant that is not a valid name). Throws std::system_error on I/O failure: what a table had
  // not recorded is not visible, and writing the same records again changes no answer.
  void write_records(const FileRecords& records);

  // File ledger: content hash (hex sha256) -> already ingested?
  std::uint64_t next_file_sequence();  // durable, strictly increasing
  bool ledger_contains(const std::string& content_hash) const;
  // False only when no file the ledger knows has this fingerprint (size, first 64 KiB).
  bool ledger_might_contain(const InputFingerprint& fingerprint) const;
  void ledger_record(const std::string& content_hash, const std::string& name,
                     std::uint64_t file_sequence,
                     const std::optional<InputFingerprint>& fingerprint = std::nullopt);

  // Merge-on-read: one row per (nmi, suffix, interval_start), the newest version,
  // ordered by (nmi, suffix, interval_start). fn is called per batch of results.
  void query(const QueryFilter& filter, const std::function<void(const ReadingBatch&)>& fn) const;

  // The same, with the ingest time (µs since epoch) of each run of each result batch.
  void query_with_ingest(
      const QueryFilter& filter,
      const std::function<void(const ReadingBatch&, std::span<const std::int64_t>)>& fn) const;

  // Merge-on-read of the record tables: the winner of each key (storage/record_tables.hpp), in
  // key order, a partition at a time. from/to filter on the read date (register reads: the
  // current read's date; B2B events: the interval date).
  void query_register_reads(
      const QueryFilter& filter,
      const std::function<void(const std::vector<RegisterReadPeriod>&)>& fn) const;
  void query_b2b_events(const QueryFilter& filter,
                        const std::function<void(const std::vector<B2BEvent>&)>& fn) const;

  // Merges each partition's parts into one duplicate-free part; swaps manifest atomically.
  // The record tables too. Returns the number of partitions compacted.
  std::uint64_t compact();

  // One bounded merge for a running daemon: if the partition with the most parts has at least
  // `min_parts` (at least 2) parts, merges up to 16 of its smallest parts into one and swaps
  // them atomically. Returns what it did, or nullopt when no partition needs it. Also deletes
  // the files of earlier steps' replaced parts once superseded_grace has passed.
  std::optional<CompactionStep> compact_step(std::size_t min_parts);

  // Every month partition of every table older than its tenant keeps: before the month `now`
  // minus (kept - 1). Read-only.
  std::vector<RetentionDrop> retention_plan(const MonthsKept& kept, MonthKey now) const;
  // Drops one planned partition whole, as it is now: its parts leave the manifest in one
  // record (a reader sees all of the month or none of it), and their files are removed once
  // superseded_grace has passed (recovery removes them, should we crash first). With
  // `archive_dir`, each file is first hard-linked (and the link fsynced) into
  // archive_dir/<table>/<partition>/, which must be on the data directory's file system.
  // Throws std::system_error.
  RetentionDrop drop_partition(const RetentionDrop& planned,
                               const std::filesystem::path& archive_dir = {});

  // Committed readings parts, in partition then creation order.
  std::vector<PartInfo> parts() const;
  // Committed parts of the record tables (register_reads, then b2b_events).
  std::vector<PartInfo> record_parts() const;
  const std::filesystem::path& data_dir() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meterd::storage
