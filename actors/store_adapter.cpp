// storage::Store as the pipeline's IngestStore: a plain forwarding shell. No lock: the store
// actor is its only caller while the pipeline runs.
#include "actors/ingest_store.hpp"

namespace meterd::actors {
namespace {

class StoreAdapter final : public IngestStore {
 public:
  explicit StoreAdapter(const std::filesystem::path& dir) : store_(dir) {}
  storage::PartInfo write(const storage::PartitionBatch& batch) override {
    return store_.write(batch);
  }
  storage::StoredConflicts conflicts_with_stored(const storage::PartitionBatch& batch) override {
    return store_.conflicts_with_stored(batch);
  }
  void write_records(const storage::FileRecords& records) override {
    store_.write_records(records);
  }
  std::uint64_t next_file_sequence() override { return store_.next_file_sequence(); }
  bool ledger_contains(const std::string& hash) override { return store_.ledger_contains(hash); }
  bool ledger_might_contain(const InputFingerprint& fingerprint) override {
    return store_.ledger_might_contain(fingerprint);
  }
  void ledger_record(const std::string& hash, const std::string& name, std::uint64_t sequence,
                     const std::optional<InputFingerprint>& fingerprint) override {
    store_.ledger_record(hash, name, sequence, fingerprint);
  }
  std::vector<storage::RetentionDrop> apply_retention(
      const storage::MonthsKept& kept, storage::MonthKey now,
      const std::filesystem::path& archive_dir) override {
    std::vector<storage::RetentionDrop> dropped;
    for (const auto& planned : store_.retention_plan(kept, now))
      dropped.push_back(store_.drop_partition(planned, archive_dir));
    return dropped;
  }
  std::optional<storage::CompactionStep> compact_step(std::size_t min_parts) override {
    return store_.compact_step(min_parts);
  }

 private:
  storage::Store store_;
};

}  // namespace

std::unique_ptr<IngestStore> open_store(const std::filesystem::path& data_dir) {
  // Absolute: the store's directory creation does not terminate on a bare relative name.
  return std::make_unique<StoreAdapter>(std::filesystem::absolute(data_dir));
}

}  // namespace meterd::actors
