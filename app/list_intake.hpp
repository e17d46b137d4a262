// Intake for `meterd ingest` and `meterd bench`: a fixed list of paths, read in place (nothing
// is moved). Optionally writes each file's JSON report into a directory.
#pragma once

#include <filesystem>
#include <mutex>
#include <vector>

#include "actors/intake.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {

class ListIntake final : public actors::Intake {
 public:
  // `audit`: where each finished file is recorded (meterd ingest; none: not recorded).
  explicit ListIntake(std::vector<std::filesystem::path> files,
                      std::filesystem::path report_dir = {}, storage::AuditLog* audit = nullptr);
  std::optional<actors::ClaimedFile> next(std::uint64_t file_sequence) override;
  bool exhausted() const override { return next_ >= files_.size(); }
  void finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome) override;

  struct Done {
    actors::ClaimedFile file;
    actors::FileStatus status;
    std::uint64_t readings, rejects, warnings, bytes;
    std::uint64_t register_reads, b2b_events;  // as the file's report counts them
    bool fatal;
    std::string error;
  };
  // Outcomes so far (read after the pipeline has stopped, or under its own lock).
  std::vector<Done> outcomes() const;

 private:
  std::vector<std::filesystem::path> files_;
  std::size_t next_ = 0;
  std::filesystem::path report_dir_;
  storage::AuditLog* audit_;
  mutable std::mutex mutex_;
  std::vector<Done> done_;
};

}  // namespace meterd::app
