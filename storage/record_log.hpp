// An append-only log of text records, one per line, each prefixed with its CRC-32C:
//   "<8 hex digits> <payload>\n"
// A record is durable once append() returns (write + fdatasync). A crash can only tear the
// last line; load() drops lines whose checksum fails (and, when writable, truncates a torn
// tail), so a record is either wholly there or not at all. Used by the manifest and ledger.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace meterd::storage {

class RecordLog {
 public:
  // Loads the records of path (missing file = empty). writable: open for appending and
  // truncate a torn tail.
  RecordLog(std::filesystem::path path, bool writable);
  ~RecordLog();
  RecordLog(const RecordLog&) = delete;
  RecordLog& operator=(const RecordLog&) = delete;

  // The records found at open or written by rewrite() (appended ones are not kept: a daemon's
  // ledger gains one per file for as long as it runs); release_loaded() frees them.
  const std::vector<std::string>& records() const { return records_; }
  void release_loaded() { records_ = {}; }
  std::size_t size() const { return size_; }        // records in the log: loaded and appended
  std::size_t bad_records() const { return bad_; }  // checksum failures (torn or corrupt)
  void append(std::string_view payload);            // durable on return
  // Atomically replaces the whole log with `payloads` (checkpoint).
  void rewrite(const std::vector<std::string>& payloads);

 private:
  static std::string line(std::string_view payload);
  void open_for_append();

  std::filesystem::path path_;
  bool writable_;
  int fd_ = -1;
  std::vector<std::string> records_;
  std::size_t size_ = 0, bad_ = 0;
};

}  // namespace meterd::storage
