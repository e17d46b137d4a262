// What the pipeline needs from storage, as an interface: the writer and the safety actor share
// one instance (the real one wraps storage::Store behind a mutex); tests substitute fakes that
// are slow or fail on purpose.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/store.hpp"

namespace meterd::actors {

class IngestStore {
 public:
  virtual ~IngestStore() = default;
  // Durable on return; throws std::system_error on I/O failure with nothing made visible.
  virtual std::vector<storage::PartInfo> write(const ReadingBatch& batch) = 0;
  virtual std::uint64_t next_file_sequence() = 0;
  virtual bool ledger_contains(const std::string& content_hash) = 0;
  virtual void ledger_record(const std::string& content_hash, const std::string& name,
                             std::uint64_t file_sequence) = 0;
  // One bounded background merge (storage::Store::compact_step); fakes need not compact.
  virtual std::optional<storage::CompactionStep> compact_step(std::size_t /*min_parts*/) {
    return std::nullopt;
  }
};

// The real store: opens (and recovers) DATA_DIR.
std::unique_ptr<IngestStore> open_store(const std::filesystem::path& data_dir);

}  // namespace meterd::actors
