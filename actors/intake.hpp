// Where the pipeline's files come from and where they go once durable: the spool directory for
// `meterd serve`, a list of paths for `meterd ingest` / `meterd bench` (app/*_intake). The
// pipeline calls it on one thread only, the intake actor's (detached: listing, renaming and
// writing reports block).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "protocol/file_report.hpp"

namespace meterd::actors {

struct ClaimedFile {
  std::filesystem::path path;  // where the reader opens it (processing/... for the spool)
  std::string name;            // as the user knows it: original file name or CLI path
  std::uint64_t file_sequence = 0;
  std::uint64_t bytes = 0;
  // Whose file: its readings, records and ledger entry belong to this tenant ("" = the
  // default tenant of a single-tenant install).
  std::string tenant;
};

enum class FileStatus {
  durable,      // every reading is in committed parts
  rejected,     // unreadable, or the reader hit a fatal error (what it read is durable)
  dead_letter,  // some readings went to dead_letter/ after the safety path gave up
  failed,       // the reader kept crashing; left for the next start
  parked,       // shutdown came first; left in processing/ for the next start
  duplicate,    // same content hash as a file already ingested: not read again
};
const char* to_string(FileStatus status);

struct FileOutcome {
  FileStatus status = FileStatus::durable;
  FileReport report;
  std::string error;         // why rejected/failed, if it was not the parser
  std::string content_hash;  // sha256 of the raw bytes
  bool forbidden = false;    // rejected: addressed to a participant not of the file's tenant
  std::uint64_t bytes = 0, readings_sent = 0, readings_durable = 0, readings_dead_lettered = 0;
  std::uint32_t attempts = 1;  // reader starts (restarts + 1)
  double read_seconds = 0, total_seconds = 0;
};

class Intake {
 public:
  virtual ~Intake() = default;
  // Looks for new work (inotify, rescan). Cheap when nothing changed.
  virtual void poll() {}
  // The next file to ingest, claimed for us; nullopt when none is waiting now. A newly claimed
  // file takes `file_sequence` (fresh from the ledger, strictly increasing); a file recovered
  // from an earlier run keeps the one it had (its readings must keep their versions).
  virtual std::optional<ClaimedFile> next(std::uint64_t file_sequence) = 0;
  // True when no file will ever come again (a CLI list that has been handed out).
  virtual bool exhausted() const = 0;
  // Final word on a file: write its report, move it. The pipeline has recorded a durable file
  // in the ledger before it calls this.
  virtual void finished(const ClaimedFile& file, const FileOutcome& outcome) = 0;
};

}  // namespace meterd::actors
