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
#include "actors/supervisor_state.hpp"

namespace meterd::actors::supervision {

std::chrono::milliseconds backoff(const Config& c, std::uint32_t attempt) {
  std::uint64_t ms = c.restart_initial_ms;
  for (std::uint32_t i = 1; i < attempt && ms < c.restart_max_ms; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<std::uint64_t>(ms, c.restart_max_ms));
}

void start_reader(supervisor_pointer self, FileState&& state) {
  auto& st = self->state;
  StreamId stream = st.next_stream++;
  auto& f = st.files.emplace(stream, std::move(state)).first->second;
  if (!f.progress) {
    f.progress = st.metrics->progress.open(ProgressBoard::key(f.file.tenant, f.file.name));
    f.progress->bytes = f.file.bytes;
  } else {
    f.progress->restart();
  }
  auto reader = spawn_reader(self, ReaderTask{stream, f.file, f.progress}, st.batcher,
                             supervisor_actor{self}, st.store, st.config, *st.options, *st.metrics);
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
    if (!file.tenant.empty()) st.metrics->tenants.of(file.tenant).files_claimed.add();
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
  if (st.rollups) self->send(st.rollups, drain_atom::value);  // a last catch-up, then it quits
  st.rollups = nullptr;
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
  st.store = spawn_store(self, *store, options->audit);
  st.intake = spawn_intake(self, *intake, st.config);
  spawn_core(self);
  if (options->background_compaction && st.config.compact_interval_ms > 0)
    st.compactor = spawn_compactor(self, st.store, st.config, *st.metrics);
  if (options->rollups) st.rollups = spawn_rollups(self, st.config, *options->rollups, *st.metrics);
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
      [=](Durable& d) {
        note_conflicts(self, d.conflicts);
        credit_shares(self, d.shares, false);
      },
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

}  // namespace meterd::actors::supervision

namespace meterd::actors {

supervisor_actor spawn_supervisor(caf::actor_system& system, IngestStore& store, Intake& intake,
                                  const Config& config, const RunOptions& options, Metrics& metrics,
                                  std::atomic<bool>& failed) {
  return system.spawn(supervision::supervisor, &store, &intake, config, &options, &metrics,
                      &failed);
}

}  // namespace meterd::actors
