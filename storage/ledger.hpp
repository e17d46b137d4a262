// The file ledger (content hash -> ingested file) and the durable file-sequence counter.
//
// Each entry also keeps the file's fingerprint (size, SHA-256 of its first 64 KiB), so that a
// reader can ask before it reads a file whether the file might be known, and read it once
// (hashing as it parses) when it cannot be. Records:
//   "2 <sha256> <file_sequence> <size> <head sha256> <name>"   with a fingerprint
//   "<sha256> <file_sequence> <name>"                          written before fingerprints
// An entry without a fingerprint (a data directory from before them) could match any file, so
// while the ledger holds one, every file "might be known" and is hashed before it is read.
//
// Sequences are reserved in blocks: the high-water mark is persisted (atomic replace) before
// any number below it is handed out, so numbers are strictly increasing across restarts and
// crashes without an fsync per file (a crash only skips the rest of a block).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "protocol/input_content_hash.hpp"
#include "storage/record_log.hpp"

namespace meterd::storage {

// The ledger key of a file ingested for `tenant`: its content hash for the default tenant,
// "TENANT:<hash>" otherwise, so that a file one tenant sent is still new to another.
inline std::string ledger_key(std::string_view tenant, const std::string& content_hash) {
  if (tenant.empty()) return content_hash;
  std::string key(tenant);
  key += ':';
  key += content_hash;
  return key;
}

struct LedgerEntry {
  std::string name;
  std::uint64_t file_sequence = 0;
};

class Ledger {
 public:
  Ledger(const std::filesystem::path& data_dir, bool writable);

  std::uint64_t next_file_sequence();
  bool contains(const std::string& content_hash) const {
    return entries_.count(key_of(content_hash)) > 0;
  }
  // False only when no entry can be a file with this fingerprint.
  bool might_contain(const InputFingerprint& fingerprint) const;
  // Names are not kept in memory (a daemon's ledger gains an entry per file for as long as it
  // runs: ~40 bytes each instead of ~450): these two read the log, for a conflict report or a
  // test.
  std::optional<LedgerEntry> find(const std::string& content_hash) const;
  template <class Fn>
  void for_each(Fn&& fn) const {
    for_each_record([&](const std::string&, const LedgerEntry& entry) { fn(entry); });
  }
  void record(const std::string& content_hash, const std::string& name, std::uint64_t sequence,
              const std::optional<InputFingerprint>& fingerprint = std::nullopt);

 private:
  // The 32 bytes of a SHA-256 given as 64 hex digits; any other string (tests) by its SHA-256.
  using Key = std::array<unsigned char, 32>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::size_t h;
      std::memcpy(&h, k.data(), sizeof h);  // a digest: its bytes are already uniform
      return h;
    }
  };
  static Key key_of(const std::string& content_hash);
  // Exact size and the first 8 bytes of the head's SHA-256: a rare false match only costs a
  // hash of the file before it is read.
  static std::uint64_t fingerprint_of(std::uint64_t size, const std::string& head_sha256);
  void for_each_record(const std::function<void(const std::string&, const LedgerEntry&)>& fn) const;

  static constexpr std::uint64_t kBlock = 1024;
  std::filesystem::path dir_;
  bool writable_;
  std::unique_ptr<RecordLog> log_;
  std::unordered_set<Key, KeyHash> entries_;
  std::unordered_set<std::uint64_t> fingerprints_;
  std::uint64_t without_fingerprint_ = 0;  // entries recorded before fingerprints
  std::uint64_t next_ = 1, reserved_ = 0;  // numbers in [next_, reserved_) may be handed out
};

}  // namespace meterd::storage
