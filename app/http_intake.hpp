// The spool intake plus requests from the HTTP API: a validated request body is written into
// incoming/ (incoming/<tenant>/ for a tenant's token) as `http-<id>.<ext>` (id = sha256 of the
// body; ids are the tenant's: another tenant's id is unknown here) and ingested like any file,
// through the same claim, reader, batcher, writer and crash recovery. When the pipeline
// reports the file finished, the request's callback gets the outcome: that is the end-to-end
// acknowledgement (durable means every reading is in committed parts).
//
// The body is not fsynced: it needs only to exist for the reader. A crash before the readings
// are durable means no acknowledgement was sent, so the client sends it again; a crash after
// finds it in processing/ and re-ingests it with its first file sequence (exactly once in
// query results either way).
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/intake.hpp"
#include "app/spool_intake.hpp"

namespace meterd::app {

struct IngestResult {
  std::string id;
  actors::FileStatus status = actors::FileStatus::durable;
  bool pending = false;
  std::uint64_t readings = 0, file_sequence = 0;
  std::string report_json;  // the ingest report (spool reports/ has the same text)
  bool forbidden = false;   // addressed to a participant not of the tenant (403)
};

class HttpIntake final : public actors::Intake {
 public:
  using Callback = std::function<void(const IngestResult&)>;

  // `spool` keeps doing everything it did; `spool_dir` is its root.
  HttpIntake(SpoolIntake& spool, std::filesystem::path spool_dir);

  void poll() override { spool_.poll(); }
  std::optional<actors::ClaimedFile> next(std::uint64_t file_sequence) override {
    return spool_.next(file_sequence);
  }
  bool exhausted() const override { return spool_.exhausted(); }
  void finished(const actors::ClaimedFile& file, const actors::FileOutcome& outcome) override;

  // Thread-safe. Hands `body` to the pipeline unless the same id is already on its way, and
  // calls `done` (on the supervisor's thread, or on this one) when it is finished.
  // Throws std::system_error when the body cannot be written.
  // `token`: the submitter's TokenAuth::token_id, for the audit trail.
  // `tenant`: whose data it is ("" = the default tenant).
  void submit(const std::string& tenant, const std::string& id, std::string_view ext,
              std::string_view body, const std::string& token, Callback done);
  // As submit, for a body already written to `written` (on the spool's file system): renamed
  // into incoming/, or removed if the same id is already on its way.
  void submit_file(const std::string& tenant, const std::string& id, std::string_view ext,
                   const std::filesystem::path& written, const std::string& token, Callback done);
  // Where a streamed body is written before submit_file: hidden from the spool.
  std::filesystem::path staging_path(const std::string& tenant, std::string_view tag) const;
  // What is known about a tenant's id: pending, finished in this run, or a report in reports/.
  std::optional<IngestResult> lookup(const std::string& tenant, const std::string& id) const;
  // A file dropped in the spool (incoming/<tenant>/NAME), by name: its report once finished,
  // and whether it is waiting or being read.
  std::optional<std::string> spool_report(const std::string& tenant, const std::string& name) const;
  bool spool_waiting(const std::string& tenant, const std::string& name) const;
  // Answers every waiting request with `status` (shutdown).
  void abandon_waiters(actors::FileStatus status);

  static std::string file_name(const std::string& id, std::string_view ext);
  // "http-<64 hex>.ext" -> id; empty for other names.
  static std::string id_of(const std::string& file_name);

 private:
  // The maps' key of a tenant's id: ids of two tenants never meet.
  static std::string key_of(const std::string& tenant, const std::string& id) {
    return tenant.empty() ? id : tenant + "/" + id;
  }
  // Registers `done` for `key`; false if the same body is already on its way.
  bool wait_for(const std::string& key, const std::string& id, const std::string& token,
                Callback done);
  void forget_waiters(const std::string& key);

  SpoolIntake& spool_;
  std::filesystem::path root_;
  mutable std::mutex mutex_;
  struct Waiting {
    std::string id, token;  // token: of the first submitter
    std::vector<Callback> callbacks;
  };
  std::map<std::string, Waiting> waiting_;
  // What finished in this run, bounded, oldest dropped first. Without the report, read from
  // reports/ when asked for: a few KiB each, ten thousand of them were most of a soak's memory.
  struct Recent {
    actors::FileStatus status = actors::FileStatus::durable;
    std::uint64_t readings = 0, file_sequence = 0;
    std::string report_file;  // its name in reports/
  };
  std::map<std::string, Recent> recent_;
  std::deque<std::map<std::string, Recent>::iterator> recent_order_;
};

}  // namespace meterd::app
