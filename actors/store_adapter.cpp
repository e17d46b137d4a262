// storage::Store as the pipeline's IngestStore. The writer and safety actors run on their own
// threads and both write, so every call is serialised here (Store does not promise to be
// thread-safe). A compaction step holds the lock for one bounded merge (at most 16 parts), so a
// write waits for at most that one merge, never for a whole compaction.
#include <mutex>

#include "actors/ingest_store.hpp"

namespace meterd::actors {
namespace {

class StoreAdapter final : public IngestStore {
 public:
  explicit StoreAdapter(const std::filesystem::path& dir) : store_(dir) {}
  std::vector<storage::PartInfo> write(const ReadingBatch& batch) override {
    std::lock_guard lock(mutex_);
    return store_.write(batch);
  }
  std::uint64_t next_file_sequence() override {
    std::lock_guard lock(mutex_);
    return store_.next_file_sequence();
  }
  bool ledger_contains(const std::string& hash) override {
    std::lock_guard lock(mutex_);
    return store_.ledger_contains(hash);
  }
  void ledger_record(const std::string& hash, const std::string& name,
                     std::uint64_t sequence) override {
    std::lock_guard lock(mutex_);
    store_.ledger_record(hash, name, sequence);
  }
  std::optional<storage::CompactionStep> compact_step(std::size_t min_parts) override {
    std::lock_guard lock(mutex_);
    return store_.compact_step(min_parts);
  }

 private:
  std::mutex mutex_;
  storage::Store store_;
};

}  // namespace

std::unique_ptr<IngestStore> open_store(const std::filesystem::path& data_dir) {
  // Absolute: the store's directory creation does not terminate on a bare relative name.
  return std::make_unique<StoreAdapter>(std::filesystem::absolute(data_dir));
}

}  // namespace meterd::actors
