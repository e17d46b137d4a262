// Live figures of each file in flight, for GET /v1/ingests/{id}/events and the progress lines
// of `meterd ingest`: bytes read, readings parsed, readings durable and rejects. The reader and
// the supervisor write them (a few atomic stores per chunk or batch, never per reading); any
// thread reads them. A file's entry lives from its claim to its final word: what comes after
// is its report.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace meterd::actors {

struct IngestProgress {
  std::atomic<std::uint64_t> bytes = 0;  // the file's size, when known
  std::atomic<std::uint64_t> bytes_read = 0, readings_parsed = 0, readings_durable = 0;
  std::atomic<std::uint64_t> rejects = 0;
  std::atomic<std::uint32_t> attempt = 1;
  // A reader restart reads the file again from its start.
  void restart() {
    bytes_read = readings_parsed = readings_durable = rejects = 0;
    ++attempt;
  }
};

class ProgressBoard {
 public:
  // The key of a file: its tenant and its name as the user knows it.
  static std::string key(const std::string& tenant, const std::string& name) {
    return tenant + "/" + name;
  }
  std::shared_ptr<IngestProgress> open(const std::string& key) {
    std::lock_guard lock(mutex_);
    auto& slot = files_[key];
    if (!slot) slot = std::make_shared<IngestProgress>();
    return slot;
  }
  std::shared_ptr<const IngestProgress> find(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto it = files_.find(key);
    return it == files_.end() ? nullptr : it->second;
  }
  void close(const std::string& key) {
    std::lock_guard lock(mutex_);
    files_.erase(key);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<IngestProgress>> files_;
};

}  // namespace meterd::actors
