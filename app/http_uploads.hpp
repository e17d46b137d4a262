// Request bodies written to the spool as they arrive, never held whole in memory
// (docs/http.md, "Files of any size"):
//
//   POST /v1/files        one request: the body goes to a hidden staging file in incoming/,
//                         hashed on the way; its sha256 is the ingest id, as before.
//   PUT /v1/uploads/<id>  a resumable upload: byte ranges of one file whose sha256 is <id>,
//                         appended to uploads/<id>.part, each fsynced before it is answered.
//                         GET /v1/uploads/<id> says how many bytes are in. The last range is
//                         answered like a POST /v1/files once the whole file hashes to <id>.
//
// The HTTP session (http_files.cpp) drives these; nothing here knows HTTP.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "protocol/sha256.hpp"

namespace meterd::app {

// Bytes a non-root writer may still use on the file system of `path`. Throws std::system_error.
std::uint64_t free_bytes(const std::filesystem::path& path);

// One body on its way to the spool. Removes its file when destroyed unless kept.
class SpoolFile {
 public:
  // `append`: continue an upload's file, else create or truncate. `hash`: keep a sha256.
  SpoolFile(std::filesystem::path path, bool append, bool hash);
  ~SpoolFile();
  SpoolFile(const SpoolFile&) = delete;
  SpoolFile& operator=(const SpoolFile&) = delete;

  // Throws std::system_error (ENOSPC when the disk is full).
  void write(std::string_view bytes);
  void sync();  // fdatasync
  void close();
  std::string hex_digest() { return hash_.hex_digest(); }
  std::uint64_t written() const { return written_; }
  const std::filesystem::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool hashing_, keep_ = false;
  Sha256 hash_;
  std::uint64_t written_ = 0;
};

// The uploads in <spool>/uploads/, and which of them a request is writing right now.
class Uploads {
 public:
  // Creates the directory. Parts untouched for `expire_hours` are removed.
  Uploads(const std::filesystem::path& spool_dir, unsigned expire_hours);

  static bool valid_id(std::string_view id);  // 64 lower-case hex digits
  // The key of `tenant`'s upload `id` in this registry: another tenant's upload of the same
  // file is another upload.
  static std::string key(const std::string& tenant, const std::string& id) {
    return tenant.empty() ? id : tenant + "." + id;
  }
  std::filesystem::path part_path(const std::string& id) const;
  // Bytes received so far (0 for an upload not started).
  std::uint64_t received(const std::string& id) const;
  // One writer per upload: false while another request holds it.
  bool claim(const std::string& id);
  void release(const std::string& id);
  // Whether the file at `path` hashes to `id`: reads it whole (blocking).
  static bool hashes_to(const std::filesystem::path& path, const std::string& id);

 private:
  std::filesystem::path dir_;
  std::mutex mutex_;
  std::set<std::string> writing_;
};

}  // namespace meterd::app
