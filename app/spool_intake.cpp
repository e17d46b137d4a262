#include "app/spool_intake.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "actors/log.hpp"
#include "app/ingest_report.hpp"
#include "protocol/reading_format.hpp"
#include "storage/fs_util.hpp"

namespace meterd::app {
namespace {

namespace fs = std::filesystem;

std::string claimed_name(std::uint64_t sequence, const std::string& name) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%020llu__", static_cast<unsigned long long>(sequence));
  return prefix + name;
}

// "<20 digits>__name" -> (sequence, name)
bool parse_claimed(const std::string& file, std::uint64_t& sequence, std::string& name) {
  if (file.size() < 23 || file.compare(20, 2, "__") != 0) return false;
  auto [end, ec] = std::from_chars(file.data(), file.data() + 20, sequence);
  if (ec != std::errc{} || end != file.data() + 20) return false;
  name = file.substr(22);
  return true;
}

bool ignored(const std::string& name) {
  auto ends = [&](const char* s) {
    std::string_view suffix(s);
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name.empty() || name[0] == '.' || ends(".tmp") || ends(".part");
}

// A free name in `dir` for `name`: the name itself, or with the file sequence in front.
fs::path free_target(const fs::path& dir, const std::string& name, std::uint64_t sequence) {
  auto target = dir / name;
  if (!fs::exists(target)) return target;
  return dir / claimed_name(sequence, name);
}

}  // namespace

SpoolIntake::SpoolIntake(const actors::Config& config, storage::AuditLog* audit)
    : root_(config.spool_dir),
      audit_(audit),
      done_mode_(config.done_mode),
      rescan_interval_(config.rescan_interval_ms),
      settle_(config.settle_ms) {
  multi_tenant_ = !config.tenants.empty();
  if (multi_tenant_) tenants_.push_back("");  // to refuse what is dropped in incoming/ itself
  for (const auto& t : config.tenants) tenants_.push_back(t.name);
  if (tenants_.empty()) tenants_.push_back("");
  for (const auto& tenant : tenants_)
    for (const char* d : {"incoming", "processing", "done", "rejected", "reports"})
      fs::create_directories(dir(d, tenant));
  // Crash recovery: whatever is still claimed was not fully durable. Read it again first, in
  // claim order, with the sequence it was given.
  std::vector<std::pair<fs::path, std::string>> left;
  for (const auto& tenant : tenants_)
    for (const auto& e : fs::directory_iterator(dir("processing", tenant)))
      if (e.is_regular_file() && !e.is_symlink()) left.emplace_back(e.path(), tenant);
  // Claim order is the sequence in the name, whichever tenant's folder it is in.
  std::sort(left.begin(), left.end(),
            [](const auto& a, const auto& b) { return a.first.filename() < b.first.filename(); });
  for (const auto& [path, tenant] : left) {
    actors::ClaimedFile f;
    f.tenant = tenant;
    std::string file = path.filename().string();
    if (!parse_claimed(file, f.file_sequence, f.name)) {
      f.name = file;
      f.file_sequence = 0;  // none yet: next() gives it one
    }
    f.path = path;
    std::error_code ec;
    f.bytes = fs::file_size(f.path, ec);
    actors::log::info("file_recovered", {{"file", f.name}, {"file_sequence", f.file_sequence}});
    recovered_.push_back(std::move(f));
  }
  try {
    std::vector<fs::path> watched;
    for (const auto& tenant : tenants_) watched.push_back(dir("incoming", tenant));
    incoming_watch_.emplace(watched);
  } catch (const std::exception& e) {  // the periodic rescan still finds every file
    actors::log::warn("inotify_unavailable", {{"error", e.what()}});
  }
  rescan();
}

SpoolIntake::~SpoolIntake() = default;

void SpoolIntake::poll() {
  bool changed = false;
  // An announcement only wakes us, and so does a lost one: rescan() decides what to take.
  if (incoming_watch_) {
    bool overflowed = false;
    changed = !incoming_watch_->wait(std::chrono::milliseconds(0), overflowed).empty();
    changed = changed || overflowed;
  }
  if (changed || std::chrono::steady_clock::now() - last_scan_ >= rescan_interval_) rescan();
}

void SpoolIntake::rescan() {
  last_scan_ = std::chrono::steady_clock::now();
  const auto now = fs::file_time_type::clock::now();
  std::error_code ec;
  for (const auto& tenant : tenants_) {
    const fs::path incoming = dir("incoming", tenant);
    if (!tenant.empty() && fs::is_symlink(incoming, ec)) {
      actors::log::warn(
          "spool_tenant_link",
          {{"tenant", tenant}, {"error", incoming.string() + " is a symbolic link: not read"}});
      continue;
    }
    for (const auto& e : fs::directory_iterator(incoming, ec)) {
      std::string name = e.path().filename().string();
      if (ignored(name)) continue;
      if (e.is_symlink(ec)) {
        refuse(e.path(), tenant, name, "a symbolic link: only files are taken from incoming/");
        continue;
      }
      if (!e.is_regular_file(ec)) continue;  // a tenant's folder, or a directory dropped in
      if (settle_.count() > 0 && now - e.last_write_time(ec) < settle_) continue;
      if (multi_tenant_ && tenant.empty()) {
        refuse(e.path(), tenant, name,
               "belongs to no tenant: drop files in incoming/<tenant>/ (tenants are configured)");
        continue;
      }
      waiting_.emplace(name, tenant);
    }
  }
}

void SpoolIntake::refuse(const fs::path& from, const std::string& tenant, const std::string& name,
                         const std::string& why) {
  const auto target = free_target(dir("rejected", tenant), name, 0);
  std::error_code ec;
  fs::rename(from, target, ec);
  if (ec) return;  // gone already, or someone else took it
  actors::log::warn("file_refused", {{"file", name}, {"tenant", tenant}, {"error", why}});
  std::string report = "{\"file\":";
  append_json_string(report, name);
  report += ",\"status\":\"rejected\",\"error\":";
  append_json_string(report, why);
  report += "}\n";
  auto copy = target;
  copy += ".json";
  storage::fs::atomic_replace(copy, report);
  if (audit_) {
    std::string fields = "\"file\":";
    append_json_string(fields, name);
    fields += ",\"reason\":";
    append_json_string(fields, why);
    try {
      audit_->append("refused", tenant, "", fields);
    } catch (const std::exception& e) {
      actors::log::error("audit_failed", {{"kind", "refused"}, {"error", e.what()}});
    }
  }
}

std::optional<actors::ClaimedFile> SpoolIntake::next(std::uint64_t file_sequence) {
  if (!recovered_.empty()) {
    actors::ClaimedFile f = std::move(recovered_.front());
    recovered_.pop_front();
    if (f.file_sequence == 0) {
      f.file_sequence = file_sequence;
      auto renamed = dir("processing", f.tenant) / claimed_name(f.file_sequence, f.name);
      fs::rename(f.path, renamed);
      f.path = renamed;
    }
    return f;
  }
  while (!waiting_.empty()) {
    auto [name, tenant] = *waiting_.begin();
    waiting_.erase(waiting_.begin());
    auto from = dir("incoming", tenant) / name;
    if (!fs::exists(from)) continue;
    actors::ClaimedFile f;
    f.name = name;
    f.tenant = tenant;
    f.file_sequence = file_sequence;
    f.path = dir("processing", tenant) / claimed_name(f.file_sequence, name);
    // rename(2) is the claim: atomic, and it fails if someone else took the file first.
    if (::rename(from.c_str(), f.path.c_str()) != 0) continue;
    std::error_code ec;
    f.bytes = fs::file_size(f.path, ec);
    return f;
  }
  return std::nullopt;
}

void SpoolIntake::finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome,
                           const IngestOrigin& origin) {
  if (outcome.status == actors::FileStatus::parked) return;  // stays claimed for the next start
  audit_ingest(audit_, file, outcome, origin);
  const std::string report = ingest_report_json(file, outcome);
  const std::string report_name = claimed_name(file.file_sequence, file.name) + ".json";
  storage::fs::atomic_replace(dir("reports", file.tenant) / report_name, report);
  switch (outcome.status) {
    case actors::FileStatus::duplicate:  // already in the store: done, and nothing to record
      if (done_mode_ == "delete")
        fs::remove(file.path);
      else
        fs::rename(file.path, free_target(dir("done", file.tenant), file.name, file.file_sequence));
      break;
    case actors::FileStatus::durable:  // the pipeline recorded it in the ledger already
      if (done_mode_ == "delete")
        fs::remove(file.path);
      else
        fs::rename(file.path, free_target(dir("done", file.tenant), file.name, file.file_sequence));
      break;
    case actors::FileStatus::rejected: {
      auto target = free_target(dir("rejected", file.tenant), file.name, file.file_sequence);
      fs::rename(file.path, target);
      auto copy = target;
      copy += ".json";
      storage::fs::atomic_replace(copy, report);
      break;
    }
    default:  // dead_letter, failed: stays in processing/ and is tried again next start
      break;
  }
}

}  // namespace meterd::app
