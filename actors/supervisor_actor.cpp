// Supervisor: spawns and monitors the pipeline, asks the intake for files (with fresh file
// sequences from the store) and hands them to readers, learns from the writer and safety which
// readings are durable, has the store record a durable file in the ledger and then tells the
// intake the file is done. Restarts a crashed reader (new stream, same file) or a crashed core
// actor (batcher, writer, safety: the core is rebuilt and every unfinished file is read again)
// with back-off. It never blocks: every file and storage operation is a message to the intake
// or the store actor.
// Drains in order: park the intake and the readers -> batcher seals and sends all -> writer
// commits -> safety journals -> finished files reported -> intake and store quit -> quit.
#include <chrono>
#include <deque>
#include <map>

#include "actors/config.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"
#include "actors/pipeline.hpp"

namespace meterd::actors {
namespace {

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
  std::string dead_path;
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

std::chrono::milliseconds backoff(const Config& c, std::uint32_t attempt) {
  std::uint64_t ms = c.restart_initial_ms;
  for (std::uint32_t i = 1; i < attempt && ms < c.restart_max_ms; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<std::uint64_t>(ms, c.restart_max_ms));
}

void start_reader(supervisor_pointer self, FileState&& state) {
  auto& st = self->state;
  StreamId stream = st.next_stream++;
  auto& f = st.files.emplace(stream, std::move(state)).first->second;
  auto reader = spawn_reader(self, ReaderTask{stream, f.file}, st.batcher, supervisor_actor{self},
                             st.store, st.config, *st.options, *st.metrics);
  st.readers[reader.address()] = stream;
}

void spawn_core(supervisor_pointer self) {
  auto& st = self->state;
  supervisor_actor me{self};
  st.safety = spawn_safety(self, st.store, me, st.config, *st.metrics);
  st.writer = spawn_writer(self, st.store, st.safety, me, *st.metrics);
  st.batcher = spawn_batcher(self, st.writer, st.config, *st.metrics);
  st.core_up = true;
}

std::size_t reading_now(const SupervisorState& st) {
  std::size_t n = 0;
  for (const auto& [stream, f] : st.files) n += f.finished ? 0 : 1;
  return n;
}

void begin_drain(supervisor_pointer self);
void maybe_finish_drain(supervisor_pointer self);
void fill(supervisor_pointer self);
void complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it,
              FileStatus status);

// Not part of the drain: merging is pointless while shutting down, so it stops at once (after
// the merge in progress, which is atomic anyway).
void stop_compactor(supervisor_pointer self) {
  auto& st = self->state;
  if (!st.compactor) return;
  self->send(st.compactor, drain_atom::value);
  st.compactor = nullptr;
}

void on_claims(supervisor_pointer self, Claims& claims) {
  auto& st = self->state;
  st.claiming = false;
  for (std::uint64_t i = 0; i < claims.sequences_used && !st.sequences.empty(); ++i)
    st.sequences.pop_front();
  st.intake_exhausted = claims.exhausted;
  for (auto& file : claims.files) {
    st.metrics->files.claimed.add();
    if (st.draining) {  // claimed just before the intake was parked: left for the next start
      auto it = st.files.emplace(st.next_stream++, FileState{std::move(file)}).first;
      it->second.done.report.name = it->second.file.name;
      complete(self, it, FileStatus::parked);
      continue;
    }
    log::info("file_claimed", {{"file", file.name},
                               {"path", file.path.string()},
                               {"file_sequence", file.file_sequence},
                               {"bytes", file.bytes}});
    start_reader(self, FileState{std::move(file)});
  }
  fill(self);
}

// Asks the intake for as many files as there is room for, each with a fresh sequence from the
// store (sequences are handed out in claim order, so they follow the order files are claimed).
void claim_files(supervisor_pointer self, std::size_t room) {
  auto& st = self->state;
  if (st.claiming || st.sequencing) return;
  if (st.sequences.size() < room) {
    st.sequencing = true;
    self->request(st.store, caf::infinite, sequence_atom::value,
                  std::uint64_t{room - st.sequences.size()})
        .then(
            [=](SequenceBlock& block) {
              auto& st = self->state;
              st.sequencing = false;
              if (!block.error.empty()) {
                log::error("file_sequence_failed", {{"error", block.error}});
                return;  // tried again on the next event (a file finishing, a tick)
              }
              st.sequences.insert(st.sequences.end(), block.sequences.begin(),
                                  block.sequences.end());
              fill(self);
            },
            [=](caf::error&) { self->state.sequencing = false; });
    return;
  }
  SequenceBlock offered;
  offered.sequences.assign(st.sequences.begin(),
                           st.sequences.begin() + static_cast<std::ptrdiff_t>(room));
  st.claiming = true;
  self->request(st.intake, caf::infinite, claim_atom::value, std::move(offered))
      .then([=](Claims& claims) { on_claims(self, claims); },
            [=](caf::error&) { self->state.claiming = false; });
}

// Claims files while there is room; in ingest mode, drains at the end.
void fill(supervisor_pointer self) {
  auto& st = self->state;
  if (st.draining || !st.core_up) return;
  const std::size_t now = reading_now(st);
  if (!st.intake_exhausted && now < st.config.files_in_flight &&
      st.files.size() < kMaxFilesAwaitingDurability)
    claim_files(self, std::min(st.config.files_in_flight - now,
                               kMaxFilesAwaitingDurability - st.files.size()));
  if (now == 0) {
    // Everything read and durable (or dead-lettered): finish up. Until then, a file whose
    // batches wait in the safety path keeps the run going, as `meterd ingest` promises.
    if (st.intake_exhausted && st.files.empty()) return begin_drain(self);
    if (!st.files.empty()) self->send(st.batcher, flush_atom::value);  // idle: seal early
  } else if (st.files.size() >= kMaxFilesAwaitingDurability) {
    self->send(st.batcher, flush_atom::value);
  }
}

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
  LedgerEntry entry{done.outcome.content_hash, done.file.name, done.file.file_sequence,
                    std::move(fingerprint)};
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

// Reports a file whose fate is known: metrics, log, ledger, intake.
void finish_file(supervisor_pointer self, FileState&& f, FileStatus status, std::string error) {
  auto& st = self->state;
  FileOutcome out;
  out.status = status;
  out.report = std::move(f.done.report);
  out.error = error.empty() ? f.done.error : std::move(error);
  out.content_hash = f.done.content_hash;
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
  log::write(status == FileStatus::durable ? log::Level::info : log::Level::warn, "file_done",
             {{"file", f.file.name},
              {"status", to_string(status)},
              {"readings", out.readings_durable},
              {"rejects", out.report.rejects()},
              {"warnings", out.report.warnings()},
              {"bytes", out.bytes},
              {"seconds", out.total_seconds},
              {"error", out.error}});
  FileDone done{std::move(f.file), std::move(out)};
  record_in_ledger(self, std::move(done), std::move(f.done.fingerprint));
}

// Register reads and B2B events are written first, for any file read (as a rejected file's
// readings up to its fatal error are kept). If they fail the file is `failed`: it stays in
// processing/ and is read again at the next start, and writing them twice changes no answer
// (the winner of a key is chosen by content).
void complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it,
              FileStatus status) {
  auto& st = self->state;
  FileState f = std::move(it->second);
  st.files.erase(it);
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
              const bool keeps = status == FileStatus::dead_letter;  // read again anyway
              finish_file(self, std::move(f), keeps ? status : FileStatus::failed,
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
    check_complete(self, it);
  }
  fill(self);
}

void drain_core_if_readers_gone(supervisor_pointer self) {
  auto& st = self->state;
  if (st.draining && st.readers.empty() && st.core_up) {
    // Behind every reader batch already queued at the batcher (readers are gone).
    self->send(st.batcher, drain_atom::value);
  }
}

void begin_drain(supervisor_pointer self) {
  auto& st = self->state;
  if (st.draining) return;
  st.draining = true;
  stop_compactor(self);
  log::info("drain_begin", {{"files_in_flight", std::uint64_t{st.files.size()}},
                            {"readers", std::uint64_t{st.readers.size()}}});
  self->send(st.intake, park_atom::value);
  for (const auto& [addr, stream] : st.readers)
    self->send(caf::actor_cast<reader_actor>(addr), park_atom::value);
  if (st.core_up) self->send(st.writer, park_atom::value);
  drain_core_if_readers_gone(self);
}

// The last step, once the core has drained (or given up) and the ledger has answered every
// record: the intake gets its last FileDone before its drain, the store after every write.
void maybe_finish_drain(supervisor_pointer self) {
  auto& st = self->state;
  if (!st.finishing || st.ledger_pending > 0) return;
  log::info("drain_done", {});
  log::write(log::Level::info, "metrics", {}, "metrics", st.metrics->to_json());
  self->send(st.intake, drain_atom::value);
  self->send(st.store, drain_atom::value);
  st.batcher = nullptr;
  st.writer = nullptr;
  st.safety = nullptr;
  st.intake = nullptr;
  st.store = nullptr;
  self->quit();
}

void finish_drain(supervisor_pointer self) {
  auto& st = self->state;
  // Whatever is not durable by now stays claimed (processing/) for the next start.
  while (!st.files.empty()) {
    auto it = st.files.begin();
    it->second.done.report.name = it->second.file.name;
    complete(self, it, FileStatus::parked);
  }
  st.finishing = true;
  maybe_finish_drain(self);
}

void kill_core(supervisor_pointer self) {
  auto& st = self->state;
  for (const auto& [addr, stream] : st.readers)
    self->send_exit(caf::actor_cast<caf::actor>(addr), caf::exit_reason::kill);
  st.readers.clear();
  self->send_exit(st.batcher, caf::exit_reason::kill);
  self->send_exit(st.writer, caf::exit_reason::kill);
  self->send_exit(st.safety, caf::exit_reason::kill);
  st.batcher = nullptr;
  st.writer = nullptr;
  st.safety = nullptr;
  st.core_up = false;
}

void give_up(supervisor_pointer self, const char* reason) {
  auto& st = self->state;
  log::error("giving_up", {{"reason", reason}});
  st.failed->store(true);
  st.draining = true;
  stop_compactor(self);
  finish_drain(self);
}

void core_failed(supervisor_pointer self, const caf::error& reason) {
  auto& st = self->state;
  ++st.core_restarts;
  log::error("core_actor_down",
             {{"reason", self->system().render(reason)}, {"restarts", st.core_restarts}});
  // Take the rest of the core and every reader down: their data in flight is gone with the
  // crashed actor, so each unfinished file is read again from the start (a new stream).
  kill_core(self);
  if (st.core_restarts > st.config.max_restarts) return give_up(self, "core actors keep crashing");
  self->delayed_send(self, backoff(st.config, st.core_restarts), restart_atom::value, StreamId{0});
}

void restart_core(supervisor_pointer self) {
  auto& st = self->state;
  spawn_core(self);
  auto old = std::move(st.files);
  st.files.clear();
  for (auto& [stream, f] : old) {
    f.finished = false;
    f.durable = f.dead = 0;
    f.done = ReaderDone{};
    ++f.attempts;
    start_reader(self, std::move(f));
  }
  if (st.draining) {  // the drain began before the crash: run it again on the new core
    st.draining = false;
    begin_drain(self);
    return;
  }
  fill(self);
}

void on_down(supervisor_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  if (dm.source == st.store.address() || dm.source == st.intake.address()) {
    // They catch whatever their calls throw: going down is a bug, and nothing can go on.
    if (!dm.reason || st.finishing) return;
    log::error("actor_down", {{"reason", self->system().render(dm.reason)}});
    kill_core(self);
    return give_up(self, "the store or the intake actor went down");
  }
  if (st.core_up && (dm.source == st.batcher.address() || dm.source == st.writer.address() ||
                     dm.source == st.safety.address())) {
    if (!dm.reason) return;  // an orderly quit at the end of the drain
    return core_failed(self, dm.reason);
  }
  auto r = st.readers.find(dm.source);
  if (r == st.readers.end()) return;
  StreamId stream = r->second;
  st.readers.erase(r);
  auto it = st.files.find(stream);
  if (it != st.files.end() && !it->second.finished && !st.draining) {
    // Crashed mid-file (normal exits come after ReaderDone). Read it again after a back-off.
    FileState& f = it->second;
    st.metrics->reader.restarts.add();
    log::warn("reader_down", {{"file", f.file.name},
                              {"reason", self->system().render(dm.reason)},
                              {"attempt", f.attempts}});
    if (f.attempts > st.config.max_restarts) {
      f.done.error = "reader crashed " + std::to_string(f.attempts) +
                     " times: " + self->system().render(dm.reason);
      f.done.report.name = f.file.name;
      complete(self, it, FileStatus::failed);
      fill(self);
    } else {
      self->delayed_send(self, backoff(st.config, f.attempts), restart_atom::value, stream);
    }
  }
  drain_core_if_readers_gone(self);
}

supervisor_actor::behavior_type supervisor(supervisor_pointer self, IngestStore* store,
                                           Intake* intake, Config config, const RunOptions* options,
                                           Metrics* metrics, std::atomic<bool>* failed) {
  auto& st = self->state;
  st.ingest_store = store;
  st.config = std::move(config);
  st.options = options;
  st.metrics = metrics;
  st.failed = failed;
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  st.store = spawn_store(self, *store);
  st.intake = spawn_intake(self, *intake, st.config);
  spawn_core(self);
  if (options->background_compaction && st.config.compact_interval_ms > 0)
    st.compactor = spawn_compactor(self, st.store, st.config, *st.metrics);
  fill(self);
  if (st.config.metrics_interval_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(st.config.metrics_interval_ms),
                       tick_atom::value);
  return {
      [=](ReaderDone& done) {
        auto& st = self->state;
        auto it = st.files.find(done.stream);
        if (it == st.files.end()) return;
        it->second.finished = true;
        it->second.done = std::move(done);
        if (it->second.done.report.name.empty()) it->second.done.report.name = it->second.file.name;
        check_complete(self, it);
        fill(self);
      },
      [=](Durable& d) { credit_shares(self, d.shares, false); },
      [=](DeadLettered& d) { credit_shares(self, d.shares, true); },
      [=](drained_atom, Stage stage) {
        auto& st = self->state;
        (stage == Stage::writer ? st.writer_drained : st.safety_drained) = true;
        if (st.writer_drained && st.safety_drained) finish_drain(self);
      },
      [=](drain_atom) { begin_drain(self); },
      [=](tick_atom) {
        auto& st = self->state;
        log::write(log::Level::info, "metrics", {}, "metrics", st.metrics->to_json());
        if (!st.draining)
          self->delayed_send(self, std::chrono::milliseconds(st.config.metrics_interval_ms),
                             tick_atom::value);
      },
      [=](restart_atom, StreamId stream) {
        auto& st = self->state;
        if (stream == 0) return restart_core(self);
        auto it = st.files.find(stream);
        if (it == st.files.end() || st.draining) return;
        FileState f = std::move(it->second);
        st.files.erase(it);
        ++f.attempts;
        f.durable = f.dead = 0;
        log::info("reader_restart", {{"file", f.file.name}, {"attempt", f.attempts}});
        start_reader(self, std::move(f));
      },
  };
}

}  // namespace

supervisor_actor spawn_supervisor(caf::actor_system& system, IngestStore& store, Intake& intake,
                                  const Config& config, const RunOptions& options, Metrics& metrics,
                                  std::atomic<bool>& failed) {
  return system.spawn(supervisor, &store, &intake, config, &options, &metrics, &failed);
}

}  // namespace meterd::actors
