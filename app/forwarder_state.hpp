// The forwarder's state file: the requests a central acknowledged, so that a restarted
// forwarder does not send them again. A storage::RecordLog of "<sha256 of the body> <name>"
// records: each is durable before the next request is counted as done, and a crash can only
// tear the last one (which is then cut, and that request sent once more: harmless, the
// central is idempotent).
//
// Forwarders before the RecordLog wrote the same text as bare lines, without a checksum. Such
// a file is recognised on open (its first line starts with 64 hex digits) and converted in one
// atomic rewrite, keeping every hash it held.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>

#include "storage/record_log.hpp"

namespace meterd::app {

class ForwarderState {
 public:
  // Creates the file (and its directory) if missing. Throws when it cannot be opened.
  explicit ForwarderState(const std::filesystem::path& path);

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
};

}  // namespace meterd::app
