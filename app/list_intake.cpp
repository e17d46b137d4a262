#include "app/list_intake.hpp"

#include "app/ingest_report.hpp"
#include "storage/fs_util.hpp"

namespace meterd::app {

ListIntake::ListIntake(std::vector<std::filesystem::path> files, std::filesystem::path report_dir,
                       storage::AuditLog* audit)
    : files_(std::move(files)), report_dir_(std::move(report_dir)), audit_(audit) {}

std::optional<actors::ClaimedFile> ListIntake::next(std::uint64_t file_sequence) {
  if (next_ >= files_.size()) return std::nullopt;
  const auto& path = files_[next_++];
  actors::ClaimedFile f;
  f.path = path;
  f.name = path.string();
  std::error_code ec;
  f.bytes = std::filesystem::file_size(path, ec);
  if (ec) f.bytes = 0;
  f.file_sequence = file_sequence;
  return f;
}

void ListIntake::finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome) {
  IngestOrigin origin;
  origin.source = "cli";
  audit_ingest(audit_, file, outcome, origin);
  if (!report_dir_.empty()) {
    std::filesystem::create_directories(report_dir_);
    auto name = file.path.filename().string() + ".json";
    storage::fs::atomic_replace(report_dir_ / name, ingest_report_json(file, outcome));
  }
  std::lock_guard lock(mutex_);
  done_.push_back({file, outcome.status, outcome.readings_durable, outcome.report.rejects(),
                   outcome.report.warnings(), outcome.bytes, outcome.report.register_reads,
                   outcome.report.b2b_events, outcome.report.fatal, outcome.error});
}

std::vector<ListIntake::Done> ListIntake::outcomes() const {
  std::lock_guard lock(mutex_);
  return done_;
}

}  // namespace meterd::app
