// What the pipeline needs from storage, as an interface. Its one user while the pipeline runs is
// the store actor (every other actor sends that actor messages), so implementations need not be
// thread-safe; tests substitute fakes that are slow or fail on purpose.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/partition_sort.hpp"
#include "storage/store.hpp"

namespace meterd::actors {

class IngestStore {
 public:
  virtual ~IngestStore() = default;
  // One part of a sorted partition batch. Durable on return; throws std::system_error on I/O
  // failure with nothing made visible.
  virtual storage::PartInfo write(const storage::PartitionBatch& batch) = 0;
  // A file's register reads and B2B events, durably (storage::Store::write_records); throws
  // std::system_error on I/O failure.
  virtual void write_records(const storage::FileRecords& records) = 0;
  virtual std::uint64_t next_file_sequence() = 0;
  virtual bool ledger_contains(const std::string& content_hash) = 0;
  // False only when the ledger knows no file of this fingerprint (then the file is read once,
  // hashed as it is parsed); true may also mean "cannot tell".
  virtual bool ledger_might_contain(const InputFingerprint& fingerprint) = 0;
  virtual void ledger_record(const std::string& content_hash, const std::string& name,
                             std::uint64_t file_sequence,
                             const std::optional<InputFingerprint>& fingerprint) = 0;
  // Same-version disagreements of a batch with what is stored (storage::Store::
  // conflicts_with_stored), asked before the batch is written; fakes find none.
  virtual storage::StoredConflicts conflicts_with_stored(const storage::PartitionBatch&) {
    return {};
  }
  // Drops every month partition older than its tenant keeps (storage::Store::retention_plan,
  // drop_partition) and says which; fakes keep everything.
  virtual std::vector<storage::RetentionDrop> apply_retention(
      const storage::MonthsKept& /*kept*/, storage::MonthKey /*now*/,
      const std::filesystem::path& /*archive_dir*/) {
    return {};
  }
  // One bounded background merge (storage::Store::compact_step); fakes need not compact.
  virtual std::optional<storage::CompactionStep> compact_step(std::size_t /*min_parts*/) {
    return std::nullopt;
  }
};

// The real store: opens (and recovers) DATA_DIR.
std::unique_ptr<IngestStore> open_store(const std::filesystem::path& data_dir);

}  // namespace meterd::actors
