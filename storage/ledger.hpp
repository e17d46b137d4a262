// The file ledger (content hash -> ingested file) and the durable file-sequence counter.
//
// Sequences are reserved in blocks: the high-water mark is persisted (atomic replace) before
// any number below it is handed out, so numbers are strictly increasing across restarts and
// crashes without an fsync per file (a crash only skips the rest of a block).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include "storage/record_log.hpp"

namespace meterd::storage {

struct LedgerEntry {
  std::string name;
  std::uint64_t file_sequence = 0;
};

class Ledger {
 public:
  Ledger(const std::filesystem::path& data_dir, bool writable);

  std::uint64_t next_file_sequence();
  bool contains(const std::string& content_hash) const { return entries_.count(content_hash); }
  const LedgerEntry* find(const std::string& content_hash) const;
  void record(const std::string& content_hash, const std::string& name, std::uint64_t sequence);

 private:
  static constexpr std::uint64_t kBlock = 1024;
  std::filesystem::path dir_;
  bool writable_;
  std::unique_ptr<RecordLog> log_;
  std::unordered_map<std::string, LedgerEntry> entries_;
  std::uint64_t next_ = 1, reserved_ = 0;  // numbers in [next_, reserved_) may be handed out
};

}  // namespace meterd::storage
