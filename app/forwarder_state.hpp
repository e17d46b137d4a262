// The forwarder's state file: the requests a central acknowledged, so that a restarted
// forwarder does not send them again. A storage::RecordLog of "<key> <name>" records (keys:
// request_key, upload_key, or a bare sha256 from older forwarders): each is durable before the next
// request is counted as done, and a crash can only tear the last one (which is then cut, and that
// request sent once more: harmless, the central is idempotent).
//
// Forwarders before the RecordLog wrote the same text as bare lines, without a checksum. Such
// a file is recognised on open (its first line starts with 64 hex digits) and converted in one
// atomic rewrite, keeping every hash it held.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "storage/record_log.hpp"

namespace meterd::app {

class ForwarderState {
 public:
  // Creates the file (and its directory) if missing. Throws when it cannot be opened.
  explicit ForwarderState(const std::filesystem::path& path);

  // The key of a request body (a file sent whole, or NDJSON lines): "xxh128:<hex>" of XXH3-128.
  // Only this forwarder compares it, with keys it made from its own files, so it needs no
  // resistance to forged collisions; XXH3 runs at ~20 GB/s where SHA-256 runs at 1.8, which was
  // ~40 % of the forwarder's CPU at one reading per NDJSON line.
  static std::string request_key(std::string_view body);
  // The key of a file sent as an upload: "sha256:<hex>", its id at the central.
  static std::string upload_key(const std::string& sha256_hex);

  // Whether the file holds keys of forwarders before request_key (a bare sha256 of the body or
  // file): the forwarder then asks for those too, so an upgrade sends nothing twice.
  bool has_bare_sha256_keys() const { return bare_sha256_keys_; }

  // Thread-safe: the reader asks, the senders record.
  bool contains(const std::string& hash) const;
  // Durable on return.
  void record(const std::string& hash, const std::string& name);

  // Whether opening found the old format and converted it.
  bool converted() const { return converted_; }

 private:
  mutable std::mutex mutex_;
  std::optional<storage::RecordLog> log_;
  std::unordered_set<std::string> done_;
  bool converted_ = false;
  bool bare_sha256_keys_ = false;
};

}  // namespace meterd::app
