// The supervisor's state and the part of it that decides a file's fate (supervisor_files.cpp),
// shared by the two files of the supervisor actor only.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"

namespace meterd::actors::supervision {

// Files read but not yet durable, at most: past this the batcher is asked to seal early so
// that per-file bookkeeping (reports) stays bounded too.
constexpr std::size_t kMaxFilesAwaitingDurability = 256;

struct FileState {
  explicit FileState(ClaimedFile f) : file(std::move(f)) {}
  ClaimedFile file;
  bool finished = false;
  ReaderDone done;
  std::uint64_t durable = 0, dead = 0;
  std::uint32_t attempts = 1;
  std::shared_ptr<IngestProgress> progress;  // on the metrics' board from claim to final word
  std::string dead_path;
  struct NotedConflict {
    storage::VersionConflict conflict;
    std::string other;  // the file that arrived first, as the user knows it
  };
  std::vector<NotedConflict> conflicts;  // with a file that arrived before it
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

struct SupervisorState {
  SupervisorState() = default;  // not an aggregate: CAF would try to build it from the actor
  IngestStore* ingest_store = nullptr;
  Config config;
  const RunOptions* options = nullptr;
  Metrics* metrics = nullptr;
  std::atomic<bool>* failed = nullptr;
  store_actor store;
  intake_actor intake;
  batcher_actor batcher;
  writer_actor writer;
  safety_actor safety;
  compactor_actor compactor;  // null unless the daemon compacts in the background
  rollup_actor rollups;       // null unless rollups are kept
  std::map<StreamId, FileState> files;
  std::map<caf::actor_addr, StreamId> readers;  // live readers
  std::deque<std::uint64_t> sequences;          // fresh file sequences not yet used
  StreamId next_stream = 1;
  bool claiming = false, sequencing = false, intake_exhausted = false;
  std::size_t ledger_pending = 0;  // ledger and record writes asked for, not yet answered
  bool draining = false, writer_drained = false, safety_drained = false, finishing = false;
  std::uint32_t core_restarts = 0;
  bool core_up = false;
  static inline const char* name = "meterd.supervisor";
};

using supervisor_pointer = supervisor_actor::stateful_pointer<SupervisorState>;

// Defined with the actor (supervisor_actor.cpp).
void fill(supervisor_pointer self);
void maybe_finish_drain(supervisor_pointer self);

// A file's fate (supervisor_files.cpp): the writer's and safety's acknowledgements credited,
// register reads and B2B events then the ledger written, the report handed to the intake.
void note_conflicts(supervisor_pointer self, std::vector<storage::VersionConflict>& conflicts);
void credit_shares(supervisor_pointer self, const std::vector<FileShare>& shares, bool dead);
void check_complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it);
void complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it,
              FileStatus status);

}  // namespace meterd::actors::supervision
