// The manifest: which parts are committed. A part exists for readers if and only if the
// manifest lists it; files under readings/ that it does not list are orphans (a crash
// between rename and record) and recovery removes them.
//
// Records (in a RecordLog, each atomic):
//   "+ <partition> <file> <id> <rows> <bytes> <min_start> <max_start> <crc32c> <footer_crc32c>
//   [dup]"
//   "- <partition> <file>"                                                        part removed
// joined by " ; " when several must happen at once (compaction: adds and removes in one).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/record_log.hpp"

namespace meterd::storage {

struct ManifestPart {
  std::string partition, file;  // "[tenant=NAME/]month=2005-03", "part-000000000001.parquet"
  std::uint64_t id = 0, rows = 0, bytes = 0;
  epoch_seconds min_start = 0, max_start = 0;
  std::uint32_t crc32c = 0;          // of the whole file (checked at recovery)
  std::uint32_t footer_crc32c = 0;   // of the footer (checked whenever the part is opened)
  bool may_have_duplicates = false;  // several versions of a key inside this one part
  std::string key() const { return partition + "/" + file; }
};

class Manifest {
 public:
  Manifest(const std::filesystem::path& data_dir, bool writable);

  // Committed parts keyed by "partition/file" (sorted: partition, then id order).
  const std::map<std::string, ManifestPart>& parts() const { return parts_; }
  // One partition's parts, oldest (lowest id) first: a range of parts(), found without a walk
  // over the others (a write's conflict check asks for every batch).
  std::vector<const ManifestPart*> parts_of(const std::string& partition) const;
  std::uint64_t max_id() const { return max_id_; }
  std::size_t bad_records() const { return log_->bad_records(); }

  // One atomic record: remove `removed` keys, add `added` parts.
  void commit(const std::vector<ManifestPart>& added, const std::vector<std::string>& removed);
  // Rewrites the log as one add record per live part, when it has grown (startup).
  void checkpoint_if_large();

 private:
  void apply(const std::string& record);
  static std::string encode_add(const ManifestPart& p);

  std::unique_ptr<RecordLog> log_;
  std::map<std::string, ManifestPart> parts_;
  std::uint64_t max_id_ = 0;
};

}  // namespace meterd::storage
