// Supervisor: spawns and monitors the pipeline, hands files to readers, learns from the
// writer and safety which readings are durable, and tells the intake when a file is done.
// Restarts a crashed reader (new stream, same file) or a crashed core actor (batcher, writer,
// safety: the core is rebuilt and every unfinished file is read again) with back-off.
// Drains in order: park readers -> batcher seals and sends all -> writer commits -> safety
// journals -> quit.
#include <chrono>
#include <map>

#include "actors/config.hpp"
#include "actors/ingest_store.hpp"
#include "actors/interfaces.hpp"
#include "actors/log.hpp"
#include "actors/metrics.hpp"

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
  SupervisorState() =
      default;  // not an aggregate: CAF would try to build it from the actor pointer
  IngestStore* store = nullptr;
  Intake* intake = nullptr;
  Config config;
  Metrics* metrics = nullptr;
  std::atomic<bool>* failed = nullptr;
  batcher_actor batcher;
  writer_actor writer;
  safety_actor safety;
  compactor_actor compactor;  // null unless the daemon compacts in the background
  std::shared_ptr<std::atomic<bool>> compactor_stop;
  std::map<StreamId, FileState> files;
  std::map<caf::actor_addr, StreamId> readers;  // live readers
  StreamId next_stream = 1;
  bool draining = false, writer_drained = false, safety_drained = false;
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
                             st.config, st.store, *st.metrics);
  st.readers[reader.address()] = stream;
}

void spawn_core(supervisor_pointer self) {
  auto& st = self->state;
  supervisor_actor me{self};
  st.safety = spawn_safety(self, *st.store, me, st.config, *st.metrics);
  st.writer = spawn_writer(self, *st.store, st.safety, me, *st.metrics);
  st.batcher = spawn_batcher(self, st.writer, st.config, *st.metrics);
  st.core_up = true;
}

std::size_t reading_now(const SupervisorState& st) {
  std::size_t n = 0;
  for (const auto& [stream, f] : st.files) n += f.finished ? 0 : 1;
  return n;
}

void begin_drain(supervisor_pointer self);

// Not part of the drain: merging is pointless while shutting down, so it stops at once (after
// the merge in progress, which is atomic anyway).
void stop_compactor(supervisor_pointer self) {
  auto& st = self->state;
  if (!st.compactor) return;
  st.compactor_stop->store(true);
  self->send(st.compactor, drain_atom::value);
  st.compactor = nullptr;
}

// Starts readers for waiting files while there is room; in ingest mode, drains at the end.
void fill(supervisor_pointer self) {
  auto& st = self->state;
  if (st.draining || !st.core_up) return;
  while (reading_now(st) < st.config.files_in_flight &&
         st.files.size() < kMaxFilesAwaitingDurability) {
    auto next = st.intake->next();
    if (!next) break;
    st.metrics->files.claimed.add();
    log::info("file_claimed", {{"file", next->name},
                               {"path", next->path.string()},
                               {"file_sequence", next->file_sequence},
                               {"bytes", next->bytes}});
    start_reader(self, FileState{*next});
  }
  if (reading_now(st) == 0) {
    // Everything read and durable (or dead-lettered): finish up. Until then, a file whose
    // batches wait in the safety path keeps the run going, as `meterd ingest` promises.
    if (st.intake->exhausted() && st.files.empty()) return begin_drain(self);
    if (!st.files.empty()) self->send(st.batcher, flush_atom::value);  // idle: seal early
  } else if (st.files.size() >= kMaxFilesAwaitingDurability) {
    self->send(st.batcher, flush_atom::value);
  }
}

void complete(supervisor_pointer self, std::map<StreamId, FileState>::iterator it,
              FileStatus status) {
  auto& st = self->state;
  FileState& f = it->second;
  FileOutcome out;
  out.status = status;
  out.report = std::move(f.done.report);
  out.error = f.done.error;
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
  try {
    st.intake->finished(f.file, out);
  } catch (const std::exception& e) {
    log::error("intake_finish_failed", {{"file", f.file.name}, {"error", e.what()}});
  }
  st.files.erase(it);
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
  for (const auto& [addr, stream] : st.readers)
    self->send(caf::actor_cast<reader_actor>(addr), park_atom::value);
  if (st.core_up) self->send(st.writer, park_atom::value);
  drain_core_if_readers_gone(self);
}

void finish_drain(supervisor_pointer self) {
  auto& st = self->state;
  // Whatever is not durable by now stays claimed (processing/) for the next start.
  while (!st.files.empty()) {
    auto it = st.files.begin();
    it->second.done.report.name = it->second.file.name;
    complete(self, it, FileStatus::parked);
  }
  log::info("drain_done", {});
  log::write(log::Level::info, "metrics", {}, "metrics", st.metrics->to_json());
  st.batcher = nullptr;
  st.writer = nullptr;
  st.safety = nullptr;
  self->quit();
}

void core_failed(supervisor_pointer self, const caf::error& reason) {
  auto& st = self->state;
  st.core_up = false;
  ++st.core_restarts;
  log::error("core_actor_down",
             {{"reason", self->system().render(reason)}, {"restarts", st.core_restarts}});
  // Take the rest of the core and every reader down: their data in flight is gone with the
  // crashed actor, so each unfinished file is read again from the start (a new stream).
  for (const auto& [addr, stream] : st.readers)
    self->send_exit(caf::actor_cast<caf::actor>(addr), caf::exit_reason::kill);
  st.readers.clear();
  self->send_exit(st.batcher, caf::exit_reason::kill);
  self->send_exit(st.writer, caf::exit_reason::kill);
  self->send_exit(st.safety, caf::exit_reason::kill);
  st.batcher = nullptr;
  st.writer = nullptr;
  st.safety = nullptr;
  if (st.core_restarts > st.config.max_restarts) {
    log::error("giving_up", {{"reason", "core actors keep crashing"}});
    st.failed->store(true);
    st.draining = true;
    stop_compactor(self);
    return finish_drain(self);
  }
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
  if (st.core_up && (dm.source == st.batcher.address() || dm.source == st.writer.address() ||
                     dm.source == st.safety.address())) {
    if (st.draining && !dm.reason) return;  // an orderly quit at the end of the drain
    if (!dm.reason) return;
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
                                           Intake* intake, Config config, Metrics* metrics,
                                           std::atomic<bool>* failed, bool compaction) {
  auto& st = self->state;
  st.store = store;
  st.intake = intake;
  st.config = std::move(config);
  st.metrics = metrics;
  st.failed = failed;
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm); });
  spawn_core(self);
  if (compaction && st.config.compact_interval_ms > 0) {
    st.compactor_stop = std::make_shared<std::atomic<bool>>(false);
    st.compactor = spawn_compactor(self, *st.store, st.config, *st.metrics, st.compactor_stop);
  }
  self->send(self, poll_atom::value);
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
      [=](poll_atom) {
        auto& st = self->state;
        if (st.draining) return;
        try {
          st.intake->poll();
        } catch (const std::exception& e) {
          log::error("intake_poll_failed", {{"error", e.what()}});
        }
        fill(self);
        if (!st.draining)
          self->delayed_send(self, std::chrono::milliseconds(std::max(1u, st.config.watch_poll_ms)),
                             poll_atom::value);
      },
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

const char* to_string(FileStatus status) {
  switch (status) {
    case FileStatus::durable:
      return "durable";
    case FileStatus::rejected:
      return "rejected";
    case FileStatus::dead_letter:
      return "dead_letter";
    case FileStatus::failed:
      return "failed";
    case FileStatus::duplicate:
      return "duplicate";
    case FileStatus::parked:
      return "parked";
  }
  return "unknown";
}

supervisor_actor spawn_supervisor(caf::actor_system& system, IngestStore& store, Intake& intake,
                                  const Config& config, Metrics& metrics, std::atomic<bool>& failed,
                                  bool compaction) {
  return system.spawn(supervisor, &store, &intake, config, &metrics, &failed, compaction);
}

}  // namespace meterd::actors
