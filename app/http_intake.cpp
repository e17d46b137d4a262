#include "app/http_intake.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <fstream>
#include <sstream>
#include "app/ingest_report.hpp"
#include "protocol/reading_format.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kRecentResults = 10000;

void write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "write");
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

HttpIntake::HttpIntake(SpoolIntake& spool, std::filesystem::path spool_dir)
    : spool_(spool), root_(std::move(spool_dir)) {}

std::string HttpIntake::file_name(const std::string& id, std::string_view ext) {
  return "http-" + id + std::string(ext);
}

std::string HttpIntake::id_of(const std::string& name) {
  if (name.size() < 5 + 64 || name.compare(0, 5, "http-") != 0) return {};
  auto id = name.substr(5, 64);
  if (id.find_first_not_of("0123456789abcdef") != std::string::npos) return {};
  return id;
}

bool HttpIntake::wait_for(const std::string& key, const std::string& id, const std::string& token,
                          Callback done) {
  std::lock_guard lock(mutex_);
  auto [it, first] = waiting_.try_emplace(key);
  it->second.callbacks.push_back(std::move(done));
  if (first) it->second.id = id, it->second.token = token;
  return first;
}

void HttpIntake::forget_waiters(const std::string& key) {
  std::lock_guard lock(mutex_);
  waiting_.erase(key);
}

std::filesystem::path HttpIntake::staging_path(const std::string& tenant,
                                               std::string_view tag) const {
  // The spool skips .* and *.tmp; the tenant's folder keeps the rename on one file system.
  return spool_.dir("incoming", tenant) / ("." + std::string(tag) + ".tmp");
}

void HttpIntake::submit_file(const std::string& tenant, const std::string& id, std::string_view ext,
                             const std::filesystem::path& written, const std::string& token,
                             Callback done) {
  const std::string key = key_of(tenant, id);
  // The same body already on its way: wait for it too.
  if (!wait_for(key, id, token, std::move(done))) {
    ::unlink(written.c_str());
    return;
  }
  const auto target = spool_.dir("incoming", tenant) / file_name(id, ext);
  if (::rename(written.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(written.c_str());
    forget_waiters(key);
    throw std::system_error(error, std::generic_category(), "rename " + written.string());
  }
}

void HttpIntake::submit(const std::string& tenant, const std::string& id, std::string_view ext,
                        std::string_view body, const std::string& token, Callback done) {
  const std::string key = key_of(tenant, id);
  if (!wait_for(key, id, token, std::move(done))) return;  // the same body is on its way
  const auto name = file_name(id, ext);
  const auto incoming = spool_.dir("incoming", tenant);
  const auto tmp = incoming / ("." + name + ".tmp");  // ignored by the spool
  try {
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + tmp.string());
    try {
      write_all(fd, body);
    } catch (...) {
      ::close(fd);
      throw;
    }
    ::close(fd);
    // rename(2): the spool sees the whole file or nothing.
    if (::rename(tmp.c_str(), (incoming / name).c_str()) != 0)
      throw std::system_error(errno, std::generic_category(), "rename " + tmp.string());
  } catch (...) {
    ::unlink(tmp.c_str());
    forget_waiters(key);
    throw;
  }
}

void HttpIntake::finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome) {
  const auto id = id_of(file.name);
  const std::string key = key_of(file.tenant, id);
  IngestOrigin origin;
  if (!id.empty()) {
    origin.source = "http";
    std::lock_guard lock(mutex_);
    if (auto it = waiting_.find(key); it != waiting_.end()) origin.token = it->second.token;
  }
  spool_.finished(file, outcome, origin);  // report, audit, move: all before we acknowledge
  if (id.empty()) return;
  IngestResult result;
  result.id = id;
  result.status = outcome.status;
  result.forbidden = outcome.forbidden;
  result.readings = outcome.readings_durable;
  result.file_sequence = file.file_sequence;
  result.report_json = ingest_report_json(file, outcome);
  std::vector<Callback> callbacks;
  {
    std::lock_guard lock(mutex_);
    if (auto it = waiting_.find(key); it != waiting_.end()) {
      callbacks = std::move(it->second.callbacks);
      waiting_.erase(it);
    }
    if (outcome.status != actors::FileStatus::parked) {
      Recent kept{result.status, result.readings, result.file_sequence,
                  file.path.filename().string() + ".json"};  // as the spool names its report
      const auto [at, added] = recent_.insert_or_assign(key, std::move(kept));
      if (added) recent_order_.push_back(at);
      while (recent_order_.size() > kRecentResults) {
        recent_.erase(recent_order_.front());
        recent_order_.pop_front();
      }
    }
  }
  for (auto& cb : callbacks) cb(result);
}

// A durable result stands while the same body is being sent again (a client retrying after a
// lost answer must not see its data as pending); any other outcome gives way to the new attempt.
std::optional<IngestResult> HttpIntake::lookup(const std::string& tenant,
                                               const std::string& id) const {
  const std::string key = key_of(tenant, id);
  const auto reports = spool_.dir("reports", tenant);
  std::optional<IngestResult> earlier;
  bool pending = false;
  std::string report_file;
  auto with_report = [&](IngestResult r) {
    std::ifstream in(reports / report_file);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    r.report_json = text.str();
    return r;
  };
  {
    std::lock_guard lock(mutex_);
    if (auto it = recent_.find(key); it != recent_.end()) {
      earlier = IngestResult{
          id, it->second.status, false, it->second.readings, it->second.file_sequence, {}};
      report_file = it->second.report_file;
    }
    pending = waiting_.count(key) > 0;
  }
  if (earlier && (earlier->status == actors::FileStatus::durable ||
                  earlier->status == actors::FileStatus::duplicate))
    return with_report(*earlier);
  if (earlier && !pending) return with_report(*earlier);
  // Older, or from an earlier run: reports/<sequence>__http-<id>.<ext>.json
  const std::string needle = "__http-" + id;
  std::string durable = "\"status\":";  // as ingest_report_json writes it
  append_json_string(durable, actors::to_string(actors::FileStatus::durable));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(reports, ec)) {
    auto name = e.path().filename().string();
    // A report being written is a hidden *.tmp beside it (fs::atomic_replace): not read half.
    if (name.find(needle) == std::string::npos || !name.ends_with(".json") || name[0] == '.')
      continue;
    IngestResult r;
    r.id = id;
    std::ifstream in(e.path());
    std::ostringstream text;
    text << in.rdbuf();
    r.report_json = text.str();
    if (!pending || r.report_json.find(durable) != std::string::npos) return r;
  }
  if (pending) {
    IngestResult r;
    r.id = id;
    r.pending = true;
    return r;
  }
  return earlier;
}

namespace {

// A name of a file in one of the spool's folders ("<20 digits>__NAME"): none with a '/' or
// a leading '.', so that a name asked for over HTTP never leaves the tenant's folder.
bool plain_name(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

std::optional<fs::path> claimed_copy(const fs::path& dir, const std::string& name,
                                     const char* suffix) {
  const std::string tail = "__" + name + suffix;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto file = e.path().filename().string();
    if (file.size() == 20 + tail.size() && file.ends_with(tail)) return e.path();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> HttpIntake::spool_report(const std::string& tenant,
                                                    const std::string& name) const {
  if (!plain_name(name)) return std::nullopt;
  const auto path = claimed_copy(spool_.dir("reports", tenant), name, ".json");
  if (!path) return std::nullopt;
  std::ifstream in(*path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool HttpIntake::spool_waiting(const std::string& tenant, const std::string& name) const {
  if (!plain_name(name)) return false;
  std::error_code ec;
  return fs::is_regular_file(spool_.dir("incoming", tenant) / name, ec) ||
         claimed_copy(spool_.dir("processing", tenant), name, "").has_value();
}

void HttpIntake::abandon_waiters(actors::FileStatus status) {
  std::map<std::string, Waiting> waiting;
  {
    std::lock_guard lock(mutex_);
    waiting.swap(waiting_);
  }
  for (auto& [key, w] : waiting) {
    IngestResult r;
    r.id = w.id;
    r.status = status;
    for (auto& cb : w.callbacks) cb(r);
  }
}

}  // namespace meterd::app
