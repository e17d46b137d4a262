#include <algorithm>
#include <chrono>

#include "actors/log.hpp"
#include "actors/supervisor_state.hpp"
#include "storage/ledger.hpp"

namespace meterd::actors::supervision {
namespace {

// The intake's part of finishing a file, once the ledger knows it (when it must).
void report_done(supervisor_pointer self, FileDone&& done) {
  self->send(self->state.intake, std::move(done));
}

// Ledger first: if we crash before the intake moves the file, it is read again and its
// readings are exact repeats (same version), which supersession removes. If the record fails,
// the file stays claimed and is read again at the next start, for the same reason.
void record_in_ledger(supervisor_pointer self, FileDone&& done,
                      std::optional<InputFingerprint>&& fingerprint) {
  auto& st = self->state;
  if (done.outcome.status != FileStatus::durable || done.outcome.content_hash.empty())
    return report_done(self, std::move(done));
  ++st.ledger_pending;
  LedgerEntry entry{storage::ledger_key(done.file.tenant, done.outcome.content_hash),
                    done.file.name, done.file.file_sequence, std::move(fingerprint)};
  self->request(st.store, caf::infinite, std::move(entry))
      .then(
          [=, done = std::move(done)](bool recorded) mutable {
            --self->state.ledger_pending;
            if (recorded) report_done(self, std::move(done));
            maybe_finish_drain(self);
          },
          [=](caf::error&) {
            --self->state.ledger_pending;
            maybe_finish_drain(self);
          });
}

void add_conflict_warnings(const FileState& f, FileReport& report) {
  const bool mdff = !report.version_header.empty() || report.days > 0;  // NEM12 without a 100 too
  for (const auto& [conflict, other] : f.conflicts)
    report.add(storage::conflict_warning(conflict, f.file.file_sequence, other, mdff));
}

// Reports a file whose fate is known: metrics, log, ledger, intake.
void finish_file(supervisor_pointer self, FileState&& f, FileStatus status, std::string error) {
  auto& st = self->state;
  FileOutcome out;
  out.status = status;
  out.report = std::move(f.done.report);
  add_conflict_warnings(f, out.report);
  out.error = error.empty() ? f.done.error : std::move(error);
  out.content_hash = f.done.content_hash;
  out.forbidden = f.done.forbidden;
  out.bytes = f.done.bytes;
  out.readings_sent = f.done.readings_sent;
  out.readings_durable = f.durable;
  out.readings_dead_lettered = f.dead;
  out.attempts = f.attempts;
  out.read_seconds = f.done.read_seconds;
  out.total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - f.started).count();
  if (status == FileStatus::durable) st.metrics->files.durable.add();
  if (status == FileStatus::rejected) st.metrics->files.rejected.add();
  if (!f.file.tenant.empty()) {
    auto& t = st.metrics->tenants.of(f.file.tenant);
    if (status == FileStatus::durable) t.files_durable.add();
    if (status == FileStatus::rejected) t.files_rejected.add();
    t.bytes.add(out.bytes);
    t.readings_durable.add(out.readings_durable);
    t.rejects.add(out.report.rejects());
  }
  log::write(status == FileStatus::durable ? log::Level::info : log::Level::warn, "file_done",
             {{"file", f.file.name},
              {"status", to_string(status)},
              {"readings", out.readings_durable},
              {"rejects", out.report.rejects()},
              {"warnings", out.report.warnings()},
              {"bytes", out.bytes},
              {"seconds", out.total_seconds},
              {"error", out.error}});
  st.metrics->progress.close(ProgressBoard::key(f.file.tenant, f.file.name));
  FileDone done{std::move(f.file), std::move(out)};
  record_in_ledger(self, std::move(done), std::move(f.done.fingerprint));
}

}  // namespace

// A conflict goes to the report of the file that arrived second (the greater file sequence),
// naming the other: both are tracked while a seal holding readings of both is written. Against
// stored readings the other file is known from the ledger; should the second be reported
// already (a large first file sealed after it), the first file's report carries it.
void note_conflicts(supervisor_pointer self, std::vector<storage::VersionConflict>& conflicts) {
  auto& st = self->state;
  for (auto& c : conflicts) {
    const bool kept_first = c.kept.file_sequence < c.superseded.file_sequence;
    const storage::ConflictSide& first = kept_first ? c.kept : c.superseded;
    const storage::ConflictSide& second = kept_first ? c.superseded : c.kept;
    FileState *first_file = nullptr, *second_file = nullptr;
    for (auto& [stream, f] : st.files) {
      if (f.file.file_sequence == first.file_sequence) first_file = &f;
      if (f.file.file_sequence == second.file_sequence) second_file = &f;
    }
    auto name = [](const FileState* f, const storage::ConflictSide& side) {
      if (f) return f->file.name;
      if (!side.source.empty()) return side.source;
      return "file sequence " + std::to_string(side.file_sequence);
    };
    if (second_file) {
      second_file->conflicts.push_back({c, name(first_file, first)});
    } else if (first_file) {
      first_file->conflicts.push_back({c, name(second_file, second)});
    }
  }
}

// Register reads and B2B events the reader has not had written yet are written first, for any
// file read (as a rejected file's readings up to its fatal error are kept). If they, or the
// reader's earlier writes of them, fail the file is `failed`: it stays in
// processing/ and is read again at the next start, and writing them twice changes no answer
// (the winner of a key is chosen by content).
void complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it,
              FileStatus status) {
  auto& st = self->state;
  FileState f = std::move(it->second);
  st.files.erase(it);
  auto records_failed = [](FileStatus status) {
    return status == FileStatus::dead_letter ? status : FileStatus::failed;  // read again anyway
  };
  if (!f.done.records_error.empty()) {  // the reader's own writes of its records: one failed
    const std::string error = "register reads and B2B events not stored: " + f.done.records_error;
    return finish_file(self, std::move(f), records_failed(status), error);
  }
  if (f.done.records.empty()) return finish_file(self, std::move(f), status, {});
  auto records = std::move(f.done.records);
  ++st.ledger_pending;
  self->request(st.store, caf::infinite, records_atom::value, std::move(records))
      .then(
          [=, f = std::move(f)](std::string& error) mutable {
            --self->state.ledger_pending;
            if (error.empty()) {
              finish_file(self, std::move(f), status, {});
            } else {
              finish_file(self, std::move(f), records_failed(status),
                          "register reads and B2B events not stored: " + error);
            }
            maybe_finish_drain(self);
          },
          [=](caf::error&) {
            --self->state.ledger_pending;
            maybe_finish_drain(self);
          });
}

void check_complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it) {
  FileState& f = it->second;
  if (!f.finished || f.durable + f.dead < f.done.readings_sent) return;
  FileStatus status = FileStatus::durable;
  if (!f.done.error.empty() || f.done.report.fatal) status = FileStatus::rejected;
  if (f.dead > 0) status = FileStatus::dead_letter;
  if (f.done.duplicate) status = FileStatus::duplicate;
  complete(self, it, status);
}

void credit_shares(supervisor_pointer self, const std::vector<FileShare>& shares, bool dead) {
  auto& st = self->state;
  for (const auto& share : shares) {
    auto it = st.files.find(share.stream);
    if (it == st.files.end()) continue;  // a stream of a crashed attempt: ignore
    (dead ? it->second.dead : it->second.durable) += share.readings;
    if (!dead && it->second.progress) it->second.progress->readings_durable = it->second.durable;
    check_complete(self, it);
  }
  fill(self);
}

}  // namespace meterd::actors::supervision
