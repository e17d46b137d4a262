#include "app/forwarder_state.hpp"

#include <cstdio>
#include <fstream>
#include <vector>

#define XXH_INLINE_ALL  // header-only (libxxhash-dev): nothing to link
#include <xxhash.h>

namespace meterd::app {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kHashChars = 64;

bool starts_with_hash(std::string_view line) {
  return line.size() >= kHashChars &&
         line.substr(0, kHashChars).find_first_not_of("0123456789abcdef") == std::string::npos &&
         (line.size() == kHashChars || line[kHashChars] == ' ');
}

// The records of a state file in the old format (bare "<sha256> <name>" lines), or nothing
// when the file is missing, empty or in the RecordLog format (whose lines start with an
// 8-digit checksum and a space). As the old forwarder read it: a line holding a whole hash
// counts, even a torn last one.
std::optional<std::vector<std::string>> old_format_records(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line;
  if (!std::getline(in, line) || !starts_with_hash(line)) return std::nullopt;
  std::vector<std::string> records;
  do {
    if (line.size() >= kHashChars) records.push_back(line);
  } while (std::getline(in, line));
  return records;
}

}  // namespace

ForwarderState::ForwarderState(const fs::path& given) {
  // RecordLog syncs the file's directory: it needs one, also for a bare file name.
  const fs::path path = fs::absolute(given);
  fs::create_directories(path.parent_path());
  auto old_records = old_format_records(path);
  log_.emplace(path, /*writable=*/true);
  if (old_records) {
    log_->rewrite(*old_records);
    converted_ = true;
  }
  for (const auto& record : log_->records()) {
    const auto key = record.substr(0, record.find(' '));
    if (key.empty()) continue;
    if (starts_with_hash(key)) bare_sha256_keys_ = true;
    done_.insert(key);
  }
}

std::string ForwarderState::request_key(std::string_view body) {
  const XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
  char key[8 + 32 + 1];
  std::snprintf(key, sizeof key, "xxh128:%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return key;
}

std::string ForwarderState::upload_key(const std::string& sha256_hex) {
  return "sha256:" + sha256_hex;
}

bool ForwarderState::contains(const std::string& hash) const {
  std::lock_guard lock(mutex_);
  return done_.count(hash) > 0;
}

void ForwarderState::record(const std::string& hash, const std::string& name) {
  std::lock_guard lock(mutex_);  // RecordLog is not thread-safe, and the senders are threads
  log_->append(hash + " " + name);
  done_.insert(hash);
}

}  // namespace meterd::app
