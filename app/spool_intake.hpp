// Intake for `meterd serve`: the spool directory.
//
//   incoming/    drop files here (write elsewhere, then rename in; dot-files and *.tmp/*.part
//                are ignored). Watched with inotify, plus a periodic rescan.
//   processing/  a claimed file, renamed atomically to <file_sequence>__<name>. Files left here
//                by a crash are ingested again at start-up with the same file sequence, so
//                their readings get the same version and supersession drops the repeats.
//   done/        moved here only when every reading is durable (done_mode = move).
//   rejected/    unreadable files and files with a fatal error, with their report.
//   reports/     one JSON ingest report per file.
//   journal/, dead_letter/   the safety path (see safety_actor.cpp).
//
// With tenants (config `tenants`), each of incoming/, processing/, done/, rejected/ and reports/
// has a folder per tenant (incoming/retailer_a/...): a file belongs to the folder it was dropped
// in. A file directly in incoming/ then belongs to no tenant and goes to rejected/ with a
// report; so does a symbolic link anywhere in incoming/ (it could reach into another tenant's
// folder), and a tenant folder that is itself a link is not read.
#pragma once

#include <chrono>
#include <deque>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "actors/config.hpp"
#include "actors/intake.hpp"
#include "app/dir_watch.hpp"
#include "app/ingest_report.hpp"
#include "storage/audit_log.hpp"

namespace meterd::app {

class SpoolIntake final : public actors::Intake {
 public:
  // `audit`: where each finished file is recorded (none: not recorded).
  explicit SpoolIntake(const actors::Config& config, storage::AuditLog* audit = nullptr);
  ~SpoolIntake() override;

  void poll() override;
  std::optional<actors::ClaimedFile> next(std::uint64_t file_sequence) override;
  bool exhausted() const override { return false; }
  void finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome) override {
    finished(file, outcome, IngestOrigin{});
  }
  void finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome,
                const IngestOrigin& origin);

  std::filesystem::path dir(const char* name) const { return root_ / name; }
  // A tenant's folder of `name` (the root folder for the default tenant "").
  std::filesystem::path dir(const char* name, const std::string& tenant) const {
    return tenant.empty() ? root_ / name : root_ / name / tenant;
  }

 private:
  void rescan();
  // A file that cannot be taken (no tenant, a link): to rejected/ with a report saying why.
  void refuse(const std::filesystem::path& from, const std::string& tenant, const std::string& name,
              const std::string& why);

  std::filesystem::path root_;
  storage::AuditLog* audit_;
  std::string done_mode_;
  std::chrono::milliseconds rescan_interval_, settle_;
  std::optional<DirWatch> incoming_watch_;  // none: inotify unavailable, rescans only
  std::chrono::steady_clock::time_point last_scan_{};
  // From processing/, ingested first. A file there without a sequence in its name (put there
  // by hand) gets one when it is claimed.
  std::deque<actors::ClaimedFile> recovered_;
  std::vector<std::string> tenants_;  // {""} for a single-tenant install
  bool multi_tenant_ = false;
  std::set<std::pair<std::string, std::string>> waiting_;  // (name, tenant), in name order
};

}  // namespace meterd::app
